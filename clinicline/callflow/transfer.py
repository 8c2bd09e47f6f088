"""Warm transfer: hold audio for the caller, a consult leg to the agent, a spoken summary,
then caller and agent bridged (our taps keep recording and transcribing).

The routing layer picks who to ring and pops their console before the consult leg rings;
this module only drives the legs. A flagged caller is never sent to a callback: when no
one answers, they hear the emergency message again and the on-call line rings.

A red flag can come at any moment of a transfer. Ringing, holding or whispering to someone
who is not a nurse, the session cancels the transfer: the consult leg is hung up, the offer
withdrawn (`on_escalated`), and the emergent transfer starts afresh. A nurse (or the on-call
line) already on the consult leg is kept and told (`escalate_in_place`), and on a bridged
call the flag pops on the console of the person talking with the caller (`flag_on_call`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from clinicline.callflow.monitor import CallMonitors
from clinicline.callflow.recorder import StoreRecorder
from clinicline.callflow.waiting import QueueWait, WaitSettings
from integrations.store import Database
from routing.context import TransferRequest, request_from_store
from routing.hub import FlagAlert
from routing.transfer import TransferCoordinator, TransferPlan
from voice.session.actions import Action, Hangup, PlayPrompt, Transfer
from voice.session.call_session import CallSession
from voice.session.listener import LegTranscriber
from voice.session.phase import CallPhase
from voice.worker import ConsultLeg, VoiceWorker

log = logging.getLogger(__name__)

CONTEXT_HEADER = "X-Clinicline-Context"
MAX_ATTEMPTS = 6
# How long a new transfer waits for the previous one's offer to be withdrawn.
_SETTLE_SECONDS = 3.0
ACCEPT_KEY = "1"
_ACCEPT_ASK = " Press 1 to take the call."
_WHISPER_PAUSE = 2.5  # between repeats of the whisper while the agent has not taken it


@dataclass(frozen=True)
class TransferSettings:
    ring_timeout: float = 20.0
    on_call_uri: str | None = None
    waiting: WaitSettings = WaitSettings()
    # "refer": hand the caller to the agent by REFER with Replaces (bridge if that fails).
    mode: str = "bridge"
    # "key": the agent takes the call by pressing 1 (or Accept in the console) after the
    # whisper; a voicemail that picks up never does. "answer": answering is enough.
    accept: str = "key"
    accept_timeout: float = 15.0


@dataclass
class _Attempt:
    """One transfer in progress: what the cancel path must tidy up."""

    session: CallSession
    action: Transfer
    plan: TransferPlan | None = None
    consult: ConsultLeg | None = None
    hold: asyncio.Task[None] | None = None
    flags_in_place: list[Transfer] = field(default_factory=list)
    flag_heard: asyncio.Event = field(default_factory=asyncio.Event)
    taken: asyncio.Event = field(default_factory=asyncio.Event)  # the agent took the call
    # She clicked Accept in the console while her phone still rang (a browser phone answers
    # with it): the summary plays once, then the call is hers without pressing 1.
    accepted_early: bool = False
    whispering: bool = False  # the agent answered and hears the summary
    # Whisper audio by text, synthesized while the agent's phone rings: she hears the
    # summary the moment she answers, not after a loaded machine's seconds of synthesis.
    spoken: dict[str, asyncio.Future[list[np.ndarray]]] = field(default_factory=dict)
    bridged_to: int | None = None  # the agent on the bridge (None: not bridged, or on-call)
    # She asked to pass the call on (queue, note, a colleague first): her leg ends, the next
    # transfer starts.
    handoff: tuple[str, str, int | None] | None = None
    handoff_asked: asyncio.Event = field(default_factory=asyncio.Event)


def _alert(action: Transfer) -> FlagAlert:
    context = action.context
    flags = context.get("flags", ())
    matched = context.get("matched", ())
    return FlagAlert(
        level=str(context.get("level", "emergent" if action.emergent else "urgent")),
        flags=tuple(str(f) for f in flags) if isinstance(flags, list | tuple) else (),
        trigger_words=tuple(str(m) for m in matched) if isinstance(matched, list | tuple) else (),
        at=datetime.now(UTC).isoformat(),
    )


def _seen(spoken: asyncio.Future[list[np.ndarray]]) -> None:
    """Mark a failed synthesis nobody awaited as seen (asyncio would log it as lost)."""
    if not spoken.cancelled() and spoken.exception() is not None:
        log.warning("whisper not synthesized: %s", type(spoken.exception()).__name__)


def _flag_transfer(actions: Sequence[Action]) -> Transfer | None:
    return next((a for a in actions if isinstance(a, Transfer)), None)


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
        self._tidying: dict[str, asyncio.Task[None]] = {}
        self._attempts: dict[str, _Attempt] = {}  # every transfer under way, by call
        # Supervisors joining bridged calls (listen, whisper, barge); None: not offered.
        self.monitors: CallMonitors | None = None

    async def on_console(self, kind: str, plan: TransferPlan) -> None:
        """Routing's listener: Accept clicked in the console takes the call like key 1 (before
        she has answered: once the summary has played)."""
        attempt = self._attempts.get(plan.call_id)
        if kind != "accepted" or attempt is None or attempt.plan is None:
            return
        offered_to = attempt.plan.agent.agent_id if attempt.plan.agent else None
        accepted_by = plan.agent.agent_id if plan.agent else None
        if offered_to is None or offered_to != accepted_by:
            return
        if attempt.whispering:
            attempt.taken.set()
        else:
            attempt.accepted_early = True

    async def on_handoff(
        self, call_id: str, agent_id: int, queue: str, note: str, to_agent: int | None = None
    ) -> None:
        """The console's request to pass a bridged call on (to `queue`, offered first to the
        colleague `to_agent` if she is free); ignored unless this worker bridges the call to
        that very agent (another worker's call, or one she left)."""
        attempt = self._attempts.get(call_id)
        if attempt is None or attempt.bridged_to is None or attempt.bridged_to != agent_id:
            return
        if attempt.handoff is None:
            attempt.handoff = (queue, note, to_agent)
            attempt.handoff_asked.set()

    async def transfer(self, session: CallSession, action: Transfer) -> None:
        call_id = session.call.call_id
        await self._settled(call_id)
        while True:
            attempt = _Attempt(session, action)
            await self._transfer_once(attempt)
            if attempt.handoff is None or session.caller_gone.is_set():
                return
            action = _passed_on(action, attempt)

    async def _transfer_once(self, attempt: _Attempt) -> None:
        session = attempt.session
        call_id = session.call.call_id
        attempt.hold = asyncio.get_running_loop().create_task(self._hold_music(session))
        self._attempts[call_id] = attempt
        try:
            with session.in_phase(CallPhase.TRANSFER_HOLD):
                await self._run(attempt)
        except asyncio.CancelledError:
            await self._cancelled(attempt)
            raise
        finally:
            if self._attempts.get(call_id) is attempt:
                del self._attempts[call_id]
            self._stop_hold(attempt)
            await self.coordinator.stop_holding(call_id)  # however it ended, they left the line
            log.info("call %s: transfer finished", call_id)

    async def _run(self, attempt: _Attempt) -> None:
        session, action = attempt.session, attempt.action
        plan = attempt.plan = await self._first_plan(session, action)
        if plan is None and action.emergent and self.coordinator.hours.on_call_uri:
            self._stop_hold(attempt)
            await self._direct_on_call(
                session, self.coordinator.hours.on_call_uri, action.emergency_prompt
            )
            return
        holding = on_call_told = False
        rings = 0
        while rings < MAX_ATTEMPTS:
            if plan is None or session.caller_gone.is_set():
                break
            if plan.target == "callback":
                self._stop_hold(attempt)
                waiting = plan
                plan = attempt.plan = await self._hold_or_callback(session, plan, asked=holding)
                if plan is None:
                    await self._after_wait(session, waiting)
                    return
                holding = True
                self._start_hold(attempt)
            if plan.target == "on_call" and action.emergent and rings and not on_call_told:
                # No nurse took it: the caller hears the 911 advice again, once, before the
                # on-call line rings (they heard it just before the first attempt).
                on_call_told = True
                self._stop_hold(attempt)
                await session.perform([PlayPrompt(action.emergency_prompt, barge_in=False)])
                self._start_hold(attempt)
            rings += 1
            attempt.accepted_early = False  # a new person's phone rings
            self._prepare_whisper(attempt, self._whisper_text(plan))
            with session.in_phase(CallPhase.CONSULT_RINGING):
                consult = attempt.consult = await self._ring(session, plan)
            if session.caller_gone.is_set():
                consult.hangup()
                await self._abandoned(plan)
                return
            if consult.answered.is_set() and not consult.ended.is_set():
                if await self._connect(attempt, plan, consult):
                    return
                plan = attempt.plan or plan
                consult.hangup()  # answered, never took the call: a voicemail, or away
            plan = attempt.plan = await self._next_plan(plan, consult)
        self._stop_hold(attempt)
        if plan is not None and plan.task_id is not None:
            await self._after_wait(session, plan)  # their callback task stands
        elif not session.caller_gone.is_set():
            await session.perform(
                [
                    PlayPrompt(
                        action.emergency_prompt if action.emergent else "no_agent",
                        barge_in=False,
                    ),
                    PlayPrompt("goodbye", barge_in=False),
                    Hangup("nobody answered"),
                ]
            )

    async def _cancelled(self, attempt: _Attempt) -> None:
        """The session cancelled this transfer: a red flag re-routes it, or the worker stops."""
        session, plan = attempt.session, attempt.plan
        if attempt.consult is not None:
            attempt.consult.hangup()  # never leave the wrong person's phone connected
        if plan is None:
            return
        call_id = session.call.call_id
        if session.escalating:
            # Not awaited: the emergency message must start now. The next transfer of this
            # call waits for the offer to be withdrawn before it plans (`_settled`).
            self._tidying[call_id] = asyncio.get_running_loop().create_task(
                self._withdraw(plan)
            )
        elif not session.caller_gone.is_set():
            # The worker is stopping with this caller mid-transfer: nobody may be left
            # without a person calling them back.
            try:
                await self.coordinator.on_interrupted(plan)
            except Exception:
                log.exception("call %s: interrupted transfer not recorded", call_id)

    async def _withdraw(self, plan: TransferPlan) -> None:
        try:
            await self.coordinator.on_escalated(plan)
        except Exception:  # the emergent transfer goes ahead regardless
            log.exception("call %s: escalated offer not withdrawn", plan.call_id)

    async def _settled(self, call_id: str) -> None:
        tidying = self._tidying.pop(call_id, None)
        if tidying is not None:
            await asyncio.wait([tidying], timeout=_SETTLE_SECONDS)

    async def _abandoned(self, plan: TransferPlan) -> None:
        try:
            await self.coordinator.on_abandoned(plan)
        except Exception:  # recording the abandonment must not break teardown
            log.exception("call %s: abandonment not recorded", plan.call_id)

    async def _hold_or_callback(
        self, session: CallSession, plan: TransferPlan, *, asked: bool
    ) -> TransferPlan | None:
        """Nobody is free for a routine caller: a plan once someone is, or None."""
        if not asked:
            with session.in_phase(CallPhase.QUEUE_CHOICE):
                choice = await self.waiting.choose(session)
            if choice != "hold":
                return None
        with session.in_phase(CallPhase.HOLD_QUEUE):
            return await self.waiting.wait(session, plan)

    async def _after_wait(self, session: CallSession, plan: TransferPlan) -> None:
        """The caller stopped waiting for a person; their callback task stands."""
        if session.caller_gone.is_set():
            await self._abandoned(plan)
            return
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
            request = replace(request, prefer_agent=action.prefer_agent)
        except Exception as exc:  # the store is down: still reach a human
            log.error("call %s: transfer context unavailable (%s)", call_id, type(exc).__name__)
            request = TransferRequest(
                call_id=call_id,
                queue=action.queue,
                reason=action.reason,
                emergent=action.emergent,
                caller_number=session.call.caller_number,
                prefer_agent=action.prefer_agent,
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

    def _clinical(self, plan: TransferPlan) -> bool:
        """A nurse or the on-call line: someone who takes a red flag on the line."""
        return plan.target == "on_call" or plan.queue in (
            "nurse",
            self.coordinator.hours.on_call_queue,
        )

    async def _connect(self, attempt: _Attempt, plan: TransferPlan, consult: ConsultLeg) -> bool:
        """Whisper to the agent until they take the call, then bridge (or REFER). False when
        they never took it: the caller is still on hold for the next agent."""
        session = attempt.session
        if self._clinical(plan):
            session.red_flag_hook = lambda actions: self._flag_in_whisper(attempt, actions)
        keys = asyncio.ensure_future(self._watch_keys(attempt, consult))
        attempt.whispering = True
        try:
            with session.in_phase(CallPhase.WHISPER):
                taken = await self._until_taken(attempt, consult)
        finally:
            session.red_flag_hook = None
            keys.cancel()
            attempt.whispering = False
        plan = attempt.plan or plan
        if not taken:
            await self.recorder.event(
                session.call, "transfer_not_taken", {"queue": plan.queue, "target": plan.target}
            )
            return False
        consult.hush()
        self._stop_hold(attempt)
        if refers(self.settings, plan) and await self._refer(session, plan, consult):
            return True
        await self._bridged(attempt, plan, consult)
        return True

    async def _until_taken(self, attempt: _Attempt, consult: ConsultLeg) -> bool:
        """The whisper, repeated with "press 1" until the agent takes the call (key 1 or
        the console's Accept), hangs up, or `accept_timeout` passes. A red flag taken in
        place is told to the nurse between repeats."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.accept_timeout
        by_key = self.settings.accept == "key"
        while not consult.ended.is_set():
            assert attempt.plan is not None
            await self._whisper(attempt, consult, self._whisper_text(attempt.plan))
            if attempt.accepted_early:
                attempt.taken.set()
            while attempt.flags_in_place and not consult.ended.is_set():
                attempt.plan = await self._tell_nurse(attempt, attempt.plan, consult)
                # She just heard new reasons: give her the full time to take the call.
                deadline = max(deadline, loop.time() + self.settings.accept_timeout)
            if not by_key or attempt.taken.is_set():
                return not consult.ended.is_set()
            if loop.time() >= deadline:
                return False
            await first_of(attempt.taken, attempt.flag_heard, timeout=_WHISPER_PAUSE)
            if attempt.taken.is_set():
                return not consult.ended.is_set()
        return False

    @staticmethod
    async def _watch_keys(attempt: _Attempt, consult: ConsultLeg) -> None:
        while True:
            if await consult.keys.get() == ACCEPT_KEY:
                consult.hush()  # the rest of the whisper is not needed any more
                attempt.taken.set()

    def _whisper_text(self, plan: TransferPlan) -> str:
        return plan.whisper + (_ACCEPT_ASK if self.settings.accept == "key" else "")

    @staticmethod
    def _prepare_whisper(attempt: _Attempt, text: str) -> asyncio.Future[list[np.ndarray]]:
        """Start synthesizing `text` (once per attempt) and return its audio to come."""
        spoken = attempt.spoken.get(text)
        if spoken is None or (spoken.done() and (spoken.cancelled() or spoken.exception())):
            synthesizer = attempt.session.synthesizer
            spoken = asyncio.ensure_future(
                asyncio.to_thread(lambda: list(synthesizer.synthesize(text)))
            )
            spoken.add_done_callback(_seen)  # an agent who never answers never hears it
            attempt.spoken[text] = spoken
        return spoken

    async def _whisper(self, attempt: _Attempt, consult: ConsultLeg, text: str) -> None:
        """Speak `text` to the agent only; a red flag taken in place, or the agent taking
        the call, cuts it short."""
        attempt.flag_heard.clear()
        # Shielded: a cancelled transfer leaves the synthesis to finish for nobody, and a
        # repeat of the whisper reuses it.
        chunks = await asyncio.shield(self._prepare_whisper(attempt, text))
        if not chunks or attempt.flag_heard.is_set() or attempt.taken.is_set():
            return
        consult.speak(np.concatenate(chunks))
        drained = asyncio.ensure_future(consult.drained())
        try:
            await first_of(attempt.flag_heard, attempt.taken, also=drained)
        finally:
            drained.cancel()

    def _flag_in_whisper(self, attempt: _Attempt, actions: Sequence[Action]) -> bool:
        """The session's red-flag hook while a nurse hears the whisper: keep her on the line."""
        transfer = _flag_transfer(actions)
        if transfer is None:
            return False
        attempt.flags_in_place.append(transfer)
        if attempt.consult is not None and attempt.consult.tap is not None:
            attempt.consult.tap.clear()  # stop the old summary: the new one follows
        attempt.flag_heard.set()
        return True

    async def _tell_nurse(
        self, attempt: _Attempt, plan: TransferPlan, consult: ConsultLeg
    ) -> TransferPlan:
        """A flag taken in place: the nurse hears the update while the caller hears the
        emergency message (for an emergent flag), then the two are connected."""
        transfer = attempt.flags_in_place.pop(0)
        try:
            plan = await self.coordinator.escalate_in_place(
                plan, _alert(transfer), emergent=transfer.emergent
            )
        except Exception:  # routing's bookkeeping failing must not keep the nurse waiting
            log.exception("call %s: in-place escalation not recorded", plan.call_id)
        update = asyncio.ensure_future(self._whisper(attempt, consult, plan.whisper))
        try:
            if transfer.emergent:
                self._stop_hold(attempt)
                await attempt.session.perform(
                    [PlayPrompt(transfer.emergency_prompt, barge_in=False)]
                )
                self._start_hold(attempt)
            await update
        finally:
            update.cancel()
        return plan

    async def _bridged(self, attempt: _Attempt, plan: TransferPlan, consult: ConsultLeg) -> None:
        session = attempt.session
        session.red_flag_hook = lambda actions: self._flag_on_bridge(session, plan, actions)
        try:
            with session.in_phase(CallPhase.BRIDGED):
                if not self.worker.bridge(session.call.call_id, consult):
                    consult.hangup()
                    return
                if self.monitors is not None:
                    self.monitors.bridged(session, consult)
                await self.coordinator.on_answered(plan)
                log.info("call %s: bridged to the %s queue", session.call.call_id, plan.queue)
                await self.recorder.event(
                    session.call, "bridged", {"queue": plan.queue, "target": plan.target}
                )
                attempt.bridged_to = plan.agent.agent_id if plan.agent is not None else None
                await self._talk(session, consult, attempt.handoff_asked)
        finally:
            attempt.bridged_to = None
            session.red_flag_hook = None
            if self.monitors is not None:
                self.monitors.unbridged(session.call.call_id)
        if attempt.handoff is not None and not session.caller_gone.is_set():
            await self._hand_on(attempt, plan, consult)
        elif session.caller_gone.is_set():
            consult.hangup()
        else:
            await session.perform(
                [PlayPrompt("goodbye", barge_in=False), Hangup("agent ended the call")]
            )
        await self.coordinator.on_call_ended(plan)

    async def _hand_on(self, attempt: _Attempt, plan: TransferPlan, consult: ConsultLeg) -> None:
        """She passed the call on: her leg ends (she may have hung up herself as she asked,
        as desk-phone users do) and the caller hears the hold prompt (the next transfer keeps
        it going). Recorded before the next offer: `_first_plan` flushes the recorder, so the
        record never shows two people on the line."""
        assert attempt.handoff is not None
        consult.hangup()
        queue = attempt.handoff[0]
        log.info("call %s: passed on from the %s queue to %s", plan.call_id, plan.queue, queue)
        await self.recorder.event(
            attempt.session.call, "agent_transferred",
            {"agent_id": plan.agent.agent_id if plan.agent else None, "from_queue": plan.queue,
             "queue": queue},
        )  # fmt: skip

    def _flag_on_bridge(
        self, session: CallSession, plan: TransferPlan, actions: Sequence[Action]
    ) -> bool:
        """The session's red-flag hook on a bridged call: the person on the line is told."""
        transfer = _flag_transfer(actions)
        if transfer is None:
            return False
        task = asyncio.get_running_loop().create_task(
            self.coordinator.flag_on_call(plan, _alert(transfer))
        )
        task.add_done_callback(_log_failure)
        return True

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

    async def _direct_on_call(self, session: CallSession, uri: str, advice: str) -> None:
        """Routing is down (no store): ring the on-call line with no context token."""
        hold = asyncio.get_running_loop().create_task(self._hold_music(session))
        try:
            with session.in_phase(CallPhase.CONSULT_RINGING):
                consult = await self.worker.dial(uri, {}, self.settings.ring_timeout)
        finally:
            hold.cancel()
        if not consult.answered.is_set() or consult.ended.is_set():
            await session.perform(
                [PlayPrompt(advice, barge_in=False), Hangup("on-call unreachable")]
            )
            return
        session.media.clear()
        # No routing, no console: a flag said now is in the record; the nurse hears it.
        session.red_flag_hook = lambda _actions: True
        try:
            with session.in_phase(CallPhase.BRIDGED):
                if self.worker.bridge(session.call.call_id, consult):
                    await self._talk(session, consult)
        finally:
            session.red_flag_hook = None
            consult.hangup()

    async def _talk(
        self, session: CallSession, consult: ConsultLeg, handoff: asyncio.Event | None = None
    ) -> None:
        """While caller and agent are bridged, transcribe the agent until either leaves (or
        she passes the call on)."""
        agent = LegTranscriber(
            session.call,
            "agent",
            recognizer=session.recognizer,
            recorder=self.recorder,
            vad=session.config.vad,
        )
        consult.listener = agent.on_frame
        try:
            await first_of(session.caller_gone, consult.ended, *([handoff] if handoff else []))
        finally:
            consult.listener = None
            await agent.close()

    def _start_hold(self, attempt: _Attempt) -> None:
        self._stop_hold(attempt)
        attempt.hold = asyncio.get_running_loop().create_task(self._hold_music(attempt.session))

    @staticmethod
    def _stop_hold(attempt: _Attempt) -> None:
        if attempt.hold is not None:
            attempt.hold.cancel()
            attempt.hold = None
            attempt.session.media.clear()

    async def _hold_music(self, session: CallSession) -> None:
        """The hold prompt, then a pause, over and over, until cancelled."""
        pause = np.zeros(8000 * 4, dtype=np.int16)
        while not session.caller_gone.is_set():
            if session.media.queued_frames == 0:
                session.media.enqueue(np.concatenate([session.prompts.audio("hold"), pause]))
            await asyncio.sleep(0.2)


async def first_of(
    *events: asyncio.Event, also: asyncio.Future[None] | None = None, timeout: float | None = None
) -> None:
    """Until one of `events` is set (or `also` is done, or `timeout` passes)."""
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(e.wait()) for e in events]
    if also is not None:
        waiters.append(also)  # type: ignore[arg-type]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters[: len(events)]:
            waiter.cancel()


def refers(settings: TransferSettings, plan: TransferPlan) -> bool:
    """Whether the caller is handed to the agent's phone by REFER rather than bridged. Never
    to a browser phone: it is reached only through the gateway, which takes calls from the
    workers alone (the caller's phone would be refused), and its media is the gateway's."""
    on_browser = plan.agent is not None and plan.agent.on_browser_phone
    return settings.mode == "refer" and not on_browser


def _passed_on(action: Transfer, attempt: _Attempt) -> Transfer:
    """The transfer the next person gets when an agent passes the call on: the same caller
    and urgency, her queue and note as the reason (shown on the next card, said in the
    whisper of a caller with no red flags)."""
    assert attempt.handoff is not None
    queue, note, colleague = attempt.handoff
    plan = attempt.plan
    who = plan.agent.name if plan is not None and plan.agent is not None else "an agent"
    since = f" from {plan.queue.replace('_', ' ')}" if plan is not None else ""
    reason = f"passed on by {who}{since}" + (f": {note}" if note else "")
    return replace(action, queue=queue, reason=reason, prefer_agent=colleague)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("red flag on a bridged call not delivered: %r", task.exception())
