"""Warm transfer: hold audio for the caller, a consult leg to the agent, a spoken summary,
then caller and agent bridged (our taps keep recording and transcribing).

The routing layer picks who to ring and pops their console before the consult leg rings;
this module only drives the legs. A flagged caller is never sent to a callback: when no
one answers, they hear the emergency message again and the on-call line rings.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import numpy as np

from clinicline.callflow.recorder import StoreRecorder
from clinicline.callflow.waiting import QueueWait, WaitSettings
from integrations.store import Database
from routing.context import TransferRequest, request_from_store
from routing.transfer import TransferCoordinator, TransferPlan
from voice.session.actions import Hangup, PlayPrompt, Transfer
from voice.session.call_session import CallSession
from voice.session.listener import LegTranscriber
from voice.worker import ConsultLeg, VoiceWorker

log = logging.getLogger(__name__)

CONTEXT_HEADER = "X-Clinicline-Context"
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class TransferSettings:
    ring_timeout: float = 20.0
    on_call_uri: str | None = None
    waiting: WaitSettings = WaitSettings()
    # "refer": hand the caller to the agent by REFER with Replaces (bridge if that fails).
    mode: str = "bridge"


class WarmTransfer:
    """The `TransferHandler` the voice worker's sessions call."""

    def __init__(
        self,
        worker: VoiceWorker,
        coordinator: TransferCoordinator,
        db: Database,
        recorder: StoreRecorder,
        settings: TransferSettings | None = None,
    ) -> None:
        self.worker = worker
        self.coordinator = coordinator
        self.db = db
        self.recorder = recorder
        self.settings = settings or TransferSettings()
        self.waiting = QueueWait(coordinator, self._hold_music, self.settings.waiting)

    async def transfer(self, session: CallSession, action: Transfer) -> None:
        call_id = session.call.call_id
        plan = await self._first_plan(session, action)
        if plan is None and action.emergent and self.coordinator.hours.on_call_uri:
            await self._direct_on_call(session, self.coordinator.hours.on_call_uri)
            return
        hold = asyncio.get_running_loop().create_task(self._hold_music(session))
        try:
            holding = False
            rings = 0
            while rings < MAX_ATTEMPTS:
                if plan is None or session.caller_gone.is_set():
                    break
                if plan.target == "callback":
                    hold.cancel()
                    session.media.clear()
                    waiting = plan
                    plan = await self._hold_or_callback(session, plan, asked=holding)
                    if plan is None:
                        await self._after_wait(session, waiting)
                        return
                    holding = True
                    hold = asyncio.get_running_loop().create_task(self._hold_music(session))
                if plan.target == "on_call" and action.emergent:
                    hold.cancel()
                    session.media.clear()
                    await session.perform([PlayPrompt("emergency", barge_in=False)])
                    hold = asyncio.get_running_loop().create_task(self._hold_music(session))
                rings += 1
                consult = await self._ring(session, plan)
                if session.caller_gone.is_set():
                    consult.hangup()
                    try:
                        await self.coordinator.on_abandoned(plan)
                    except Exception:  # recording the abandonment must not break teardown
                        log.exception("call %s: abandonment not recorded", call_id)
                    return
                if consult.answered.is_set() and not consult.ended.is_set():
                    hold.cancel()
                    await self._connect(session, plan, consult)
                    return
                plan = await self._next_plan(plan, consult)
            hold.cancel()
            if plan is not None and plan.task_id is not None:
                await self._after_wait(session, plan)  # their callback task stands
            elif not session.caller_gone.is_set():
                await session.perform(
                    [
                        PlayPrompt("emergency" if action.emergent else "no_agent", barge_in=False),
                        PlayPrompt("goodbye", barge_in=False),
                        Hangup("nobody answered"),
                    ]
                )
        except asyncio.CancelledError:
            # The worker is stopping with this caller mid-transfer: nobody may be left
            # without a person calling them back.
            if plan is not None and not session.caller_gone.is_set():
                try:
                    await self.coordinator.on_interrupted(plan)
                except Exception:
                    log.exception("call %s: interrupted transfer not recorded", call_id)
            raise
        finally:
            hold.cancel()
            self.coordinator.stop_holding(call_id)  # however it ended, they left the line
            log.info("call %s: transfer finished", call_id)

    async def _hold_or_callback(
        self, session: CallSession, plan: TransferPlan, *, asked: bool
    ) -> TransferPlan | None:
        """Nobody is free for a routine caller: a plan once someone is, or None."""
        if not asked and await self.waiting.choose(session) != "hold":
            return None
        return await self.waiting.wait(session, plan)

    async def _after_wait(self, session: CallSession, plan: TransferPlan) -> None:
        """The caller stopped waiting for a person; their callback task stands."""
        if session.caller_gone.is_set():
            try:
                await self.coordinator.on_abandoned(plan)
            except Exception:  # recording the abandonment must not break teardown
                log.exception("call %s: abandonment not recorded", session.call.call_id)
            return
        if session.flag_raised.is_set():
            return  # the session's run loop now plays the red-flag actions
        await session.perform(
            [
                PlayPrompt("callback_confirmed", barge_in=False),
                PlayPrompt("goodbye", barge_in=False),
                Hangup("callback"),
            ]
        )

    async def _first_plan(self, session: CallSession, action: Transfer) -> TransferPlan | None:
        call_id = session.call.call_id
        try:
            # The triage flags and turns are written by the recorder's queue: let it catch up.
            await asyncio.wait_for(self.recorder.flush(), 3.0)
            async with self.db.session() as s:
                request = await request_from_store(
                    s, call_id, queue=action.queue, reason=action.reason, emergent=action.emergent
                )
        except Exception as exc:  # the store is down: still reach a human
            log.error("call %s: transfer context unavailable (%s)", call_id, type(exc).__name__)
            request = TransferRequest(
                call_id=call_id,
                queue=action.queue,
                reason=action.reason,
                emergent=action.emergent,
                caller_number=session.call.caller_number,
            )
        try:
            return await self.coordinator.plan(request)
        except Exception:
            log.exception("call %s: routing failed", call_id)
            return None

    async def _ring(self, session: CallSession, plan: TransferPlan) -> ConsultLeg:
        assert plan.sip_uri is not None
        headers = {CONTEXT_HEADER: plan.token} if plan.token else {}
        return await self.worker.dial(
            plan.sip_uri, headers, self.settings.ring_timeout, give_up=session.caller_gone
        )

    async def _next_plan(self, plan: TransferPlan, consult: ConsultLeg) -> TransferPlan | None:
        try:
            if consult.status in (486, 600, 603):
                return await self.coordinator.on_declined(plan)
            return await self.coordinator.on_no_answer(plan)
        except Exception:
            log.exception("call %s: no next transfer target", plan.call_id)
            return None

    async def _connect(self, session: CallSession, plan: TransferPlan, consult: ConsultLeg) -> None:
        session.media.clear()
        chunks = await asyncio.to_thread(lambda: list(session.synthesizer.synthesize(plan.whisper)))
        if chunks:
            consult.speak(np.concatenate(chunks))
            await consult.drained()
        if self.settings.mode == "refer" and await self._refer(session, plan, consult):
            return
        if not self.worker.bridge(session.call.call_id, consult):
            consult.hangup()
            return
        await self.coordinator.on_answered(plan)
        await self.recorder.event(
            session.call, "bridged", {"queue": plan.queue, "target": plan.target}
        )
        await self._talk(session, consult)
        if session.caller_gone.is_set():
            consult.hangup()
        else:
            await session.perform(
                [PlayPrompt("goodbye", barge_in=False), Hangup("agent ended the call")]
            )
        await self.coordinator.on_call_ended(plan)

    async def _refer(self, session: CallSession, plan: TransferPlan, consult: ConsultLeg) -> bool:
        """Attended transfer by REFER with Replaces. True when the transfer is over (handed
        off, or the caller left meanwhile); False leaves both legs up for a bridge."""
        if not await self.worker.refer_replaces(session.call.call_id, consult):
            if session.caller_gone.is_set():
                consult.hangup()
            return session.caller_gone.is_set()
        await self.coordinator.on_answered(plan)
        # The conversation now runs between the two phones: the agent stays busy until they
        # set their presence in the console, and the record closes as "referred".
        await self.coordinator.on_handed_off(plan)
        return True

    async def _direct_on_call(self, session: CallSession, uri: str) -> None:
        """Routing is down (no store): ring the on-call line with no context token."""
        hold = asyncio.get_running_loop().create_task(self._hold_music(session))
        try:
            consult = await self.worker.dial(uri, {}, self.settings.ring_timeout)
        finally:
            hold.cancel()
        if not consult.answered.is_set() or consult.ended.is_set():
            await session.perform(
                [PlayPrompt("emergency", barge_in=False), Hangup("on-call unreachable")]
            )
            return
        session.media.clear()
        if self.worker.bridge(session.call.call_id, consult):
            await self._talk(session, consult)
        consult.hangup()

    async def _talk(self, session: CallSession, consult: ConsultLeg) -> None:
        """While caller and agent are bridged, transcribe the agent until either leaves."""
        agent = LegTranscriber(
            session.call,
            "agent",
            recognizer=session.recognizer,
            recorder=self.recorder,
            vad=session.config.vad,
        )
        consult.listener = agent.on_frame
        gone = asyncio.ensure_future(session.caller_gone.wait())
        left = asyncio.ensure_future(consult.ended.wait())
        try:
            await asyncio.wait([gone, left], return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            left.cancel()
            consult.listener = None
            await agent.close()

    async def _hold_music(self, session: CallSession) -> None:
        """The hold prompt, then a pause, over and over, until cancelled."""
        pause = np.zeros(8000 * 4, dtype=np.int16)
        while not session.caller_gone.is_set():
            if session.media.queued_frames == 0:
                session.media.enqueue(np.concatenate([session.prompts.audio("hold"), pause]))
            await asyncio.sleep(0.2)
