"""Supervisors on live calls: listen, whisper, barge.

A supervisor asks from the console, on whichever app process serves it; the request reaches
every process over the console bus (`WebSocketHub.request_monitor`), and the worker that
bridges the call acts on it: it rings her desk phone and, once she answers, wires her leg
into the call (`VoiceWorker.set_monitor`). She hears caller and agent; "whisper" lets the
agent hear her, "barge" the caller too. Asking again with another mode rewires her leg;
"stop", or her hanging up, ends it, and so does the end of the bridge.

The record says what happened, no more: `monitor_started` once her phone answered and was
wired in, `monitor_mode` for each change, `monitor_ended`; or `monitor_not_answered`,
`monitor_failed`, `monitor_refused` (another supervisor is on it). What she says where the
caller or the agent hears it is transcribed as the call's `monitor` turns.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import numpy as np

from clinicline.callflow.recorder import StoreRecorder
from integrations.services.agents import agent_by_id
from integrations.store import Database
from routing.hub import MONITOR_MODES, MONITOR_REQUESTS
from voice.session.call_session import CallSession
from voice.session.listener import LegTranscriber
from voice.worker import ConsultLeg, VoiceWorker

log = logging.getLogger(__name__)

SPEAKER = "monitor"  # the transcript's name for the supervisor's words


@dataclass(eq=False)
class _Bridge:
    """A call this worker bridges, and the supervisor on it, if any."""

    session: CallSession
    agent: ConsultLeg
    supervisor_id: int | None = None
    mode: str = "listen"
    leg: ConsultLeg | None = None  # her desk phone, ringing or connected
    wired: bool = False
    task: asyncio.Task[None] | None = None


class CallMonitors:
    """The worker's side of monitoring: the bridges it holds, and the supervisors on them."""

    def __init__(
        self, worker: VoiceWorker, db: Database, recorder: StoreRecorder, ring_timeout: float
    ) -> None:
        self.worker = worker
        self.db = db
        self.recorder = recorder
        self.ring_timeout = ring_timeout
        self._bridges: dict[str, _Bridge] = {}

    def bridged(self, session: CallSession, agent: ConsultLeg) -> None:
        """The transfer connected caller and agent: supervisors may join from now."""
        self._bridges[session.call.call_id] = _Bridge(session, agent)

    def unbridged(self, call_id: str) -> None:
        """The bridge is over: a supervisor on it, or being rung for it, is let go."""
        bridge = self._bridges.pop(call_id, None)
        if bridge is not None:
            self._let_go(bridge)

    @staticmethod
    def _let_go(bridge: _Bridge) -> None:
        if bridge.leg is not None:
            bridge.leg.hangup()  # `_join` records the end
        elif bridge.task is not None:
            bridge.task.cancel()  # still ringing her phone: `dial` hangs it up

    async def on_request(self, call_id: str, supervisor_id: int, mode: str) -> None:
        """A supervisor's request from any console; ignored unless this worker bridges the
        call (another worker's call, or one that is over)."""
        bridge = self._bridges.get(call_id)
        if bridge is None or mode not in MONITOR_REQUESTS:
            return
        engaged = bridge.task is not None and not bridge.task.done()  # ringing or on the call
        if engaged and bridge.supervisor_id != supervisor_id:
            await self.recorder.event(
                bridge.session.call, "monitor_refused",
                {"supervisor_id": supervisor_id, "reason": "another supervisor is on the call"},
            )  # fmt: skip
            return
        if mode == "stop":
            if engaged:
                self._let_go(bridge)
            return
        if not engaged:
            bridge.supervisor_id, bridge.mode = supervisor_id, mode
            bridge.task = asyncio.get_running_loop().create_task(self._join(call_id, bridge))
            return
        if mode == bridge.mode:
            return
        bridge.mode = mode  # while her phone rings: the mode she is wired in with
        if bridge.wired and self._wire(call_id, bridge):
            await self.recorder.event(
                bridge.session.call, "monitor_mode", {"supervisor_id": supervisor_id, "mode": mode}
            )

    def _wire(self, call_id: str, bridge: _Bridge) -> bool:
        assert bridge.leg is not None
        agent_hears, caller_hears = MONITOR_MODES[bridge.mode]
        return self.worker.set_monitor(
            call_id, bridge.agent, bridge.leg, agent_hears=agent_hears, caller_hears=caller_hears
        )

    async def _join(self, call_id: str, bridge: _Bridge) -> None:
        call, supervisor = bridge.session.call, bridge.supervisor_id
        try:
            async with self.db.session() as s:
                staff = None if supervisor is None else await agent_by_id(s, supervisor)
        except Exception as exc:  # noqa: BLE001 - the call goes on without her
            log.warning("call %s: supervisor not looked up (%s)", call_id, type(exc).__name__)
            staff = None
        if staff is None or not staff.sip_uri:
            await self.recorder.event(
                call, "monitor_failed", {"supervisor_id": supervisor, "reason": "no desk phone"}
            )
            return
        try:
            leg = await self.worker.dial(
                staff.sip_uri, {}, self.ring_timeout, bridge.session.caller_gone
            )
        except asyncio.CancelledError:  # "stop", or the bridge ended, while her phone rang
            await self.recorder.event(
                call, "monitor_not_answered", {"supervisor_id": supervisor, "status": 487}
            )
            return
        if not leg.answered.is_set() or leg.ended.is_set():
            leg.hangup()
            await self.recorder.event(
                call, "monitor_not_answered", {"supervisor_id": supervisor, "status": leg.status}
            )
            return
        bridge.leg = leg
        if call_id not in self._bridges or not self._wire(call_id, bridge):
            leg.hangup()
            bridge.leg = None
            await self.recorder.event(
                call, "monitor_failed", {"supervisor_id": supervisor, "reason": "call ended"}
            )
            return
        bridge.wired = True
        log.info("call %s: supervisor joined (%s)", call_id, bridge.mode)
        started = asyncio.get_running_loop().time()
        await self.recorder.event(
            call, "monitor_started", {"supervisor_id": supervisor, "mode": bridge.mode}
        )
        words = LegTranscriber(
            call, SPEAKER, recognizer=bridge.session.recognizer, recorder=self.recorder,
            vad=bridge.session.config.vad,
        )  # fmt: skip

        def heard(pcm: np.ndarray) -> None:
            if bridge.mode != "listen":  # muted in listen mode: nobody hears her
                words.on_frame(pcm)

        leg.listener = heard
        try:
            await leg.ended.wait()
        finally:
            leg.listener = None
            await words.close()
            bridge.leg, bridge.wired = None, False
            seconds = round(asyncio.get_running_loop().time() - started, 1)
            await self.recorder.event(
                call, "monitor_ended", {"supervisor_id": supervisor, "seconds": seconds}
            )
