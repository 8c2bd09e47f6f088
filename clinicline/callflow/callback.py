"""Click-to-call: an agent calls a patient back from a callback task.

She asks from her console (`POST /console/tasks/{id}/call`); the worker behind that console
rings her phone first (her browser phone or her desk), then, once she answers, the number the
task's call came from (through `outbound_trunk`, as campaign calls leave), and connects the
two. The number comes from the store, never from the page.

The call has a record of its own (an outbound call, `callback_*` events), and both sides are
transcribed like a bridged call. The patient's words are screened for red flags as any
caller's are: a flag pops on the agent's console, since she is the person on the line.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from clinicline.callflow.recorder import StoreRecorder
from clinicline.callflow.transfer import first_of
from integrations.services.agents import AgentInfo
from nlu.triage.engine import TriageEngine
from routing.hub import ConsoleHub, FlagAlert
from voice.asr.base import SpeechRecognizer
from voice.audio.vad import VadConfig
from voice.session.actions import CallInfo, CallOutcome
from voice.session.listener import LegTranscriber
from voice.worker import ConsultLeg, VoiceWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallbackSettings:
    trunk: str  # "sip:{number}@gateway": where numbers outside the clinic are dialled
    agent_ring_timeout: float = 20.0
    patient_ring_timeout: float = 30.0
    vad: VadConfig = VadConfig(hangover_ms=250)


class CallbackDialer:
    """The worker's side of click-to-call."""

    def __init__(
        self,
        worker: VoiceWorker,
        recorder: StoreRecorder,
        hub: ConsoleHub,
        triage: TriageEngine,
        recognizer: SpeechRecognizer,
        settings: CallbackSettings,
    ) -> None:
        self.worker = worker
        self.recorder = recorder
        self.hub = hub
        self.triage = triage
        self.recognizer = recognizer
        self.settings = settings
        self._calls: set[asyncio.Task[None]] = set()

    def has_room(self) -> bool:
        """Two free call slots (her leg and the patient's) beside the callers being served."""
        return self.worker.slots_in_use + 2 <= self.worker.call_cap

    def place(self, task_id: int, agent: AgentInfo, number: str) -> str:
        """Start calling; the call's id at once (what happens next is in its record)."""
        call = CallInfo(
            f"callback-{uuid.uuid4().hex}", number, datetime.now(UTC), self.worker.name,
            direction="outbound",
        )  # fmt: skip
        self.recorder.open(call)
        task = asyncio.get_running_loop().create_task(self._run(call, task_id, agent))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        return call.call_id

    async def stop(self) -> None:
        for task in list(self._calls):
            task.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)

    async def _run(self, call: CallInfo, task_id: int, agent: AgentInfo) -> None:
        legs: list[ConsultLeg] = []
        ended_by = "error"
        try:
            await self.recorder.event(
                call, "callback_placed", {"task_id": task_id, "agent_id": agent.agent_id}
            )
            ended_by = await self._connect(call, agent, legs)
        except asyncio.CancelledError:
            ended_by = "shutdown"
            raise
        except Exception:
            log.exception("call %s: callback failed", call.call_id)
        finally:
            for leg in legs:
                leg.hangup()
            log.info("call %s: callback over (%s)", call.call_id, ended_by)
            await self.recorder.closed(call, CallOutcome(datetime.now(UTC), ended_by), None)

    async def _connect(self, call: CallInfo, agent: AgentInfo, legs: list[ConsultLeg]) -> str:
        """Ring her, then the patient, then talk: who ended it ("agent", "patient", or what
        did not answer)."""
        settings = self.settings
        mine = await self.worker.dial(agent.sip_uri, {}, settings.agent_ring_timeout)
        legs.append(mine)
        if not mine.answered.is_set() or mine.ended.is_set():
            await self._not_answered(call, "agent", mine)
            return "agent did not answer"
        assert call.caller_number is not None
        theirs = await self.worker.dial(
            settings.trunk.format(number=call.caller_number), {}, settings.patient_ring_timeout,
            give_up=mine.ended, outbound=True,
        )  # fmt: skip
        legs.append(theirs)
        if not theirs.answered.is_set() or theirs.ended.is_set():
            await self._not_answered(call, "patient", theirs)
            return "patient did not answer"
        if not self.worker.connect(mine, theirs):
            return "error"
        log.info("call %s: callback connected", call.call_id)
        await self.recorder.event(call, "callback_connected", {"agent_id": agent.agent_id})
        ended_by = await self._talk(call, agent, mine, theirs)
        await self.recorder.event(call, "callback_ended", {"ended_by": ended_by})
        return ended_by

    async def _talk(
        self, call: CallInfo, agent: AgentInfo, mine: ConsultLeg, theirs: ConsultLeg
    ) -> str:
        async def screen(text: str) -> None:
            verdict = await asyncio.to_thread(self.triage.assess_final, text)
            if verdict.level == "none":
                return
            flags = tuple(f.category for f in verdict.flags)
            alert = FlagAlert(
                level=verdict.level, flags=flags,
                trigger_words=tuple(f.matched for f in verdict.flags),
                at=datetime.now(UTC).isoformat(),
            )  # fmt: skip
            await self.hub.flag(agent.agent_id, call.call_id, alert)
            await self.recorder.event(
                call, "flag_on_call", {"agent_id": agent.agent_id, "level": verdict.level,
                                       "flags": list(flags)},
            )  # fmt: skip

        listeners = [
            LegTranscriber(call, "agent", recognizer=self.recognizer, recorder=self.recorder,
                           vad=self.settings.vad),
            LegTranscriber(call, "caller", recognizer=self.recognizer, recorder=self.recorder,
                           vad=self.settings.vad, on_text=screen),
        ]  # fmt: skip
        mine.listener, theirs.listener = listeners[0].on_frame, listeners[1].on_frame
        try:
            await first_of(mine.ended, theirs.ended)
        finally:
            mine.listener = theirs.listener = None
            for listener in listeners:
                await listener.close()
        return "agent" if mine.ended.is_set() else "patient"

    async def _not_answered(self, call: CallInfo, who: str, leg: ConsultLeg) -> None:
        await self.recorder.event(call, "callback_not_answered", {"who": who, "status": leg.status})


@dataclass
class CallbackDesk:
    """Where the console finds the dialer: set once the worker is up (None: this process
    places no calls, e.g. an app process, or no `outbound_trunk`)."""

    dialer: CallbackDialer | None = None
