"""The voice worker: one pjsua2 endpoint answering calls, one `CallSession` per call.

A worker holds at most the wheel's call cap (4) SIP legs, callers and consult legs to agents
alike. It counts them itself and judges every new INVITE before pjsua sees it
(`voice.sip.admission`): over its source's rate, without a free slot once `transfer_reserve`
slots are kept for a warm transfer's consult leg, or over the media set-up bound, the INVITE
gets a stateless 503/486 and costs no slot, dialog or RTP socket. A 200 OK that is not
ACKed within `ack_timeout` ends its dialog at once. Capacity beyond one worker comes from
several workers behind Kamailio.

pjsua2 objects are let go as soon as their call is down, not when the session has finished
its paperwork: a Call object that outlives its slot can, when collected later, clear the
user data of (and hang up) the next call that got the same slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pjsua2 as pj

from voice.asr.base import SpeechRecognizer
from voice.audio.amd import (
    CUE_BEEP,
    REASON_LATE_BEEP,
    AmdConfig,
    AmdResult,
    AnsweringMachineDetector,
    LateBeep,
    MessageCue,
    Verdict,
)
from voice.audio.recording import CallRecording
from voice.session.actions import CallInfo
from voice.session.call_session import (
    CallSession,
    Prompts,
    SessionConfig,
    Synthesizer,
    TransferHandler,
)
from voice.session.conversation import CallRecorder, Conversation, HearsLateBeep
from voice.sip.account import LocalAccount, create_account
from voice.sip.admission import SHUTTING_DOWN, AdmissionPolicy, CallAdmission, Refusal
from voice.sip.call import CallEvents, SipCall, answer, call_ref, caller_number, make_call
from voice.sip.endpoint import EndpointInfo, SipEndpoint
from voice.sip.media import MediaTap, TapPool

log = logging.getLogger(__name__)

# After a successful REFER, how long the caller's phone gets to hang up the old dialog
# itself (RFC 5589 lets either side do it) before we send the BYE.
REFER_BYE_GRACE = 1.0
# How long to wait for both of our legs' dialogs to end after a successful REFER.
REFER_TEARDOWN = 3.0
# A 200 OK not ACKed by then ends its dialog. pjsip retransmits the 200 at 0.5, 1.5 and 3.5 s,
# so a caller behind a lossy link still gets three chances; pjsip alone would wait 32 s.
ACK_TIMEOUT = 4.0


@dataclass
class SpeechPlant:
    """The shared, loaded speech models: one per worker process, used by every call."""

    recognizer: SpeechRecognizer
    synthesizer: Synthesizer
    prompts: Prompts


@dataclass
class _Leg:
    sip: SipCall | None  # None once the call is down (see the module docstring)
    info: CallInfo
    session: CallSession | None = None
    tap: MediaTap | None = None
    media: pj.AudioMedia | None = None
    task: asyncio.Task[None] | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    confirmed: bool = False  # the caller's ACK arrived
    referring: bool = False
    extra: dict[str, object] = field(default_factory=dict)
    recording: CallRecording | None = None


class VoiceWorker:
    """Answers calls on HOST:PORT and runs a session for each."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        plant: SpeechPlant,
        conversation_factory: Callable[[CallInfo], Conversation],
        recorder: CallRecorder,
        transfer: TransferHandler | None = None,
        session_config: SessionConfig | None = None,
        name: str = "worker-1",
        admission: AdmissionPolicy | None = None,
        ack_timeout: float = ACK_TIMEOUT,
        outbound_proxy: str | None = None,
    ) -> None:
        self.endpoint = SipEndpoint(host, port, user_agent=f"clinicline/{name}")
        self.plant = plant
        self.conversation_factory = conversation_factory
        self.recorder = recorder
        self.transfer = transfer
        self.session_config = session_config or SessionConfig()
        self.name = name
        self.draining = False
        self.calls_answered = 0
        self.calls_unacked = 0  # answered, never ACKed, ended by the ACK timer
        self.admission = CallAdmission(admission or AdmissionPolicy())
        self.ack_timeout = ack_timeout
        self.outbound_proxy = outbound_proxy
        self._account: LocalAccount | None = None
        # Campaign calls leave through the outbound proxy (the site's front) when one is set;
        # consult legs to the clinic's own phones go straight from the default account.
        self._outbound_account: LocalAccount | None = None
        self._legs: dict[str, _Leg] = {}
        self._consults: set[ConsultLeg] = set()
        self._taps: TapPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Given each answered call's recording (a stereo WAV) once the call is down; None:
        # calls are not recorded.
        self.on_recording: Callable[[CallInfo, bytes], None] | None = None

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> EndpointInfo:
        self._loop = asyncio.get_running_loop()
        self._taps = TapPool(self._loop)
        info = self.endpoint.start(judge=self._judge)
        self._account = create_account(
            self.endpoint.host, self.endpoint.port, on_incoming=self._on_incoming
        )
        self.endpoint.keep(self._account)
        if self.outbound_proxy:
            # Same identity, created second (pjsua hands an incoming call to the first account
            # that matches it); it has the same handler all the same, so no caller can land on
            # an account that ignores her.
            self._outbound_account = create_account(
                self.endpoint.host, self.endpoint.port, on_incoming=self._on_incoming,
                proxy=self.outbound_proxy, default=False,
            )  # fmt: skip
            self.endpoint.keep(self._outbound_account)
        self.endpoint.run_pump()
        log.info(
            "voice worker %s listening on udp:%s:%s, pjsip %s, call cap %d",
            self.name,
            info.host,
            info.port,
            info.version,
            info.call_cap,
        )
        return info

    @property
    def call_cap(self) -> int:
        return self.endpoint.info.call_cap if self.endpoint.info else 0

    @property
    def active_calls(self) -> int:
        return len(self._legs)

    @property
    def sip_calls(self) -> int:
        """Call slots pjsua holds right now: caller legs and consult legs (cap: `call_cap`)."""
        return self.endpoint.active_call_count()

    @property
    def slots_in_use(self) -> int:
        """Our own count of the legs we hold (callers until their session has ended, consult
        legs until they are down); pjsua's count when it is higher."""
        return max(len(self._legs) + len(self._consults), self.sip_calls)

    @property
    def at_capacity(self) -> bool:
        """True while a new caller would be turned away for want of a slot."""
        return self.admission.slots_free(self.slots_in_use, self.call_cap) < 1

    @property
    def room_to_call_out(self) -> bool:
        """True while one more call placed by the clinic (a campaign's, a supervisor's test
        call) still leaves a slot for an inbound caller beyond the consult-leg reserve."""
        if self.draining:
            return False
        reserve = self.admission.policy.transfer_reserve
        return self.call_cap - self.slots_in_use - 1 >= reserve + 1

    def _judge(self, source: str) -> Refusal | None:
        """Every new INVITE, before pjsua: refuse it (see `CallAdmission`) or let it in."""
        if self.draining:
            return SHUTTING_DOWN
        return self.admission.decide(source, self.slots_in_use, self.call_cap)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking calls, say goodbye on the ones we hold, then destroy pjsua2.

        Every task and call object must be gone before `libDestroy`: a pjsua2 Call that
        outlives the library aborts the process when it is collected.
        """
        self.draining = True
        tasks = [leg.task for leg in self._legs.values() if leg.task is not None]
        for task in tasks:
            task.cancel()  # the session says the shutdown prompt and hangs up
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        # A cancelled task keeps its traceback, whose frames reach the session and its call:
        # holding the tasks past `libDestroy` would destroy a Call after the library.
        tasks.clear()
        for leg in list(self._legs.values()):
            if leg.sip is not None:
                leg.sip.hangup_quietly(503)
        for consult in list(self._consults):
            consult.hangup()
        await self.endpoint.pump_for(0.3)
        await self.endpoint.shutdown(release=self._release_all)

    def _loop_task(self, coro: object) -> None:
        assert self._loop is not None
        self._loop.create_task(coro)  # type: ignore[arg-type]

    def _release_all(self) -> None:
        for leg in list(self._legs.values()):
            self._forget(leg)
        for consult in list(self._consults):
            self._forget_consult(consult)
        if self._taps is not None:
            self._taps.close()  # the bridge's clock has stopped: nothing calls the taps now
        gc.collect()

    # -- SIP callbacks (asyncio thread) -----------------------------------------------------
    def _on_incoming(self, pjsua_call_id: int, _invite: str) -> None:
        assert self._account is not None
        sip = SipCall(self._account, pjsua_call_id)
        info = sip.getInfo()
        if self.draining:
            answer(sip, 503)
            self._loop_task(self._drop_later(sip))
            return
        ref = call_ref(info.callIdString)
        call = CallInfo(
            call_id=ref,
            caller_number=caller_number(info.remoteUri),
            started=datetime.now(UTC),
            worker=self.name,
        )
        leg = _Leg(sip=sip, info=call)
        sip.events = CallEvents(
            on_media=lambda media: self._on_media(leg, media),
            on_confirmed=lambda: self._on_confirmed(leg),
            on_disconnected=lambda code, reason: self._on_disconnected(leg, code, reason),
            on_dtmf=lambda digit, method: (
                leg.session.on_dtmf(digit, method) if leg.session else None
            ),
        )
        self._legs[ref] = leg
        self.calls_answered += 1
        log.info("call %s answered (%d/%d slots)", ref, self.slots_in_use, self.call_cap)
        answer(sip, 200)
        assert self._loop is not None
        self._loop.call_later(self.ack_timeout, self._end_if_unconfirmed, ref)

    def _end_if_unconfirmed(self, ref: str) -> None:
        """The ACK timer: a caller that never ACKed our 200 OK loses the dialog and the slot."""
        leg = self._legs.get(ref)
        if leg is None or leg.confirmed or leg.sip is None or leg.sip.disconnected:
            return
        self.calls_unacked += 1
        log.warning("call %s: no ACK %.0f s after the 200 OK; ending it", ref, self.ack_timeout)
        if not leg.sip.terminate_unconfirmed():
            leg.sip.hangup_quietly(408)

    async def _drop_later(self, sip: SipCall) -> None:
        await asyncio.sleep(1.0)
        del sip

    def _on_media(self, leg: _Leg, media: pj.AudioMedia) -> None:
        leg.media = media
        self._maybe_start_session(leg)

    def _on_confirmed(self, leg: _Leg) -> None:
        leg.confirmed = True
        self._maybe_start_session(leg)

    def _maybe_start_session(self, leg: _Leg) -> None:
        """The session (greeting, call record) starts once media is up and the ACK came:
        a half-open INVITE costs no session, no store row and no speech."""
        if leg.session is not None or not leg.confirmed or leg.media is None or leg.sip is None:
            return
        if leg.sip.disconnected:
            return
        assert self._taps is not None
        session = self._session(leg, self.conversation_factory(leg.info))
        tap = self._taps.acquire(session.on_frame)
        if self.on_recording is not None:
            leg.recording = CallRecording(self.session_config.max_call_seconds + 60)
            tap.recording = leg.recording.caller
        leg.media.startTransmit(tap)
        tap.startTransmit(leg.media)
        self._run(leg, session, tap)

    def _session(
        self, leg: _Leg, conversation: Conversation, recorder: CallRecorder | None = None
    ) -> CallSession:
        return CallSession(
            leg.info,
            conversation=conversation,
            recorder=recorder or self.recorder,
            media=_NullMedia(),
            recognizer=self.plant.recognizer,
            synthesizer=self.plant.synthesizer,
            prompts=self.plant.prompts,
            # By reference, not by object: the session must not keep the pjsua2 Call alive.
            hangup=functools.partial(self._hang_up, leg.info.call_id),
            transfer=self.transfer,
            config=self.session_config,
        )

    def _run(self, leg: _Leg, session: CallSession, tap: MediaTap) -> None:
        assert self._loop is not None
        session.media = tap
        leg.session, leg.tap = session, tap
        leg.task = self._loop.create_task(session.run(), name=f"call-{leg.info.call_id}")
        # By reference: a task kept alive (a traceback, a slow shutdown) must not keep the leg.
        leg.task.add_done_callback(functools.partial(self._session_done, leg.info.call_id))

    def _hang_up(self, ref: str) -> None:
        leg = self._legs.get(ref)
        if leg is not None and leg.sip is not None:
            leg.sip.hangup_quietly()

    def _let_go_of_sip(self, leg: _Leg) -> None:
        """The call is down: drop its Call object and media port now (outside callbacks).

        A Call or media port that outlives `libDestroy` aborts the process when collected;
        one that lingers until a later gc can clear the user data of a reused call slot.
        The session may still be finishing (the record, the transcript): it keeps the leg.
        """
        up = leg.sip is not None and not leg.sip.disconnected
        if leg.sip is not None:
            leg.sip.events = CallEvents()
            leg.sip = None
        if leg.session is not None:
            leg.session.media = _NullMedia()
        self._retire(leg.tap, leg.media if up else None)
        leg.tap = leg.media = None
        self._hand_over_recording(leg)

    def _hand_over_recording(self, leg: _Leg) -> None:
        """The call is down: its recording goes to the store (once)."""
        recording, leg.recording = leg.recording, None
        if recording is None or self.on_recording is None or not recording.seconds:
            return
        try:
            self.on_recording(leg.info, recording.wav())
        except Exception:  # the call record is more than its recording: never fail teardown
            log.exception("call %s: recording not kept", leg.info.call_id)

    def _forget(self, leg: _Leg) -> None:
        """Drop a finished leg: its call is down and its session over (or abandoned)."""
        self._legs.pop(leg.info.call_id, None)
        self._let_go_of_sip(leg)
        leg.session = leg.task = None

    def _forget_consult(self, consult: ConsultLeg) -> None:
        self._consults.discard(consult)
        consult.listener = None
        up = consult.sip is not None and not consult.sip.disconnected
        if consult.sip is not None:
            consult.sip.events = CallEvents()
        self._retire(consult.tap, consult.media if up else None)
        consult.tap = consult.media = consult.sip = None

    def _retire(self, tap: MediaTap | None, media: pj.AudioMedia | None) -> None:
        """Unhook a media tap and give it back to the pool (taps are never destroyed while
        the bridge runs: see `voice.sip.media`)."""
        if tap is not None and self._taps is not None:
            self._taps.release(tap, media)

    # -- outbound calls ---------------------------------------------------------------------
    @property
    def outbound_calls(self) -> int:
        return sum(1 for leg in self._legs.values() if leg.extra.get("outbound"))

    async def call_out(
        self,
        uri: str,
        *,
        number: str,
        choose: Callable[[CallInfo, AmdResult], Conversation | None],
        headers: dict[str, str] | None = None,
        ring_timeout: float = 30.0,
        amd: AmdConfig | None = None,
        recorder: CallRecorder | None = None,
        outbound: bool = True,
    ) -> OutboundCall:
        """Call `uri` for the clinic (a campaign) and return once the call is over.

        Nobody answering, busy or a failure ends it with that SIP status. Once answered, the
        callee's first seconds decide who it is (`voice.audio.amd`): a person gets the
        conversation `choose` gives at once; a voicemail box gets it after its beep (or after
        its greeting falls silent); dead air, or `choose` giving None, is hung up. From then on
        it is a call like any other: screened for red flags, transferable, recorded.

        `recorder`: where the call's record goes (the worker's own by default; a supervisor's
        test call keeps it in the try-it sandbox). `outbound` False: a staff phone, rung
        straight as a consult leg is, not through the clinic's outbound proxy.
        """
        assert self._account is not None and self._loop is not None and self._taps is not None
        outcome = OutboundCall()
        answered, gone = asyncio.Event(), asyncio.Event()
        leg = _Leg(sip=None, info=CallInfo("", number, datetime.now(UTC), self.name))
        router = _Router(AnsweringMachineDetector(amd))

        def on_media(media: pj.AudioMedia) -> None:
            leg.media = media
            if leg.confirmed:
                answered.set()

        def on_confirmed() -> None:
            leg.confirmed = True
            if leg.media is not None:
                answered.set()

        def on_disconnected(code: int, reason: str) -> None:
            if outcome.status != 408:  # our CANCEL after ringing out ends it with 487 or so
                outcome.status = code
            gone.set()
            if leg.info.call_id:
                self._on_disconnected(leg, code, reason)

        def on_dtmf(digit: str, method: str) -> None:
            if leg.session is not None:
                leg.session.on_dtmf(digit, method)

        events = CallEvents(
            on_media=on_media,
            on_confirmed=on_confirmed,
            on_disconnected=on_disconnected,
            on_dtmf=on_dtmf,
        )
        try:
            account = (self._outbound_account or self._account) if outbound else self._account
            sip = make_call(account, uri, events, headers)
        except pj.Error as exc:
            log.warning("outbound call could not be placed: %s", exc.reason)
            outcome.status = 500
            return outcome
        leg.sip = sip
        leg.extra["outbound"] = True
        leg.info = CallInfo(
            call_ref(sip.getInfo().callIdString),
            number,
            datetime.now(UTC),
            self.name,
            direction="outbound",
        )
        self._legs[leg.info.call_id] = leg
        if not await _first(answered, gone, timeout=ring_timeout):
            outcome.status = 408  # rang out: the hang-up is a CANCEL
        if gone.is_set() or not answered.is_set():
            await self._end_outbound(leg, gone)
            return outcome
        outcome.answered = True
        outcome.call = leg.info
        assert leg.media is not None
        tap = self._taps.acquire(router.feed)
        leg.media.startTransmit(tap)
        tap.startTransmit(leg.media)
        leg.tap = tap
        detected = await _first(router.ready, gone, timeout=router.limit)
        outcome.amd, outcome.cue = router.result, router.cue
        conversation = None
        if detected and not gone.is_set() and router.result is not None:
            conversation = choose(leg.info, router.result)
        if conversation is None:
            await self._end_outbound(leg, gone)
            return outcome
        outcome.conversation = conversation
        session = self._session(leg, conversation, recorder)
        router.session = session
        human = router.result is not None and router.result.verdict is Verdict.HUMAN
        if human and isinstance(conversation, HearsLateBeep):
            router.watch_for_late_beep(
                lambda: self._late_beep(outcome, router, session, conversation)
            )
        self._run(leg, session, tap)
        if router.result is not None and router.result.greeting_ms > 0:
            # What was said while we listened is screened too: a panicked "my husband
            # collapsed, he's not breathing" on pickup is a long greeting, taken for a machine.
            session.input.screen_only(router.heard_audio(), leg.info.started)
        assert leg.task is not None
        await asyncio.wait([leg.task])  # the session's end (ours being cancelled still raises)
        return outcome

    def _late_beep(
        self, outcome: OutboundCall, router: _Router, session: CallSession, heard: HearsLateBeep
    ) -> None:
        """A voicemail box taken for a person gave itself away by its beep: the conversation
        leaves its message instead, and the call's detection says machine, after all."""
        if not session.interruptible:
            return  # a red flag's path, or a person on the line: a tone changes nothing
        actions = heard.late_beep(session.call)
        if not actions or not session.interrupt(actions):
            return
        assert router.result is not None and router.late_beep is not None
        log.info("outbound call %s: a beep after the opening: a voicemail", session.call.call_id)
        outcome.amd = replace(router.result, verdict=Verdict.MACHINE, reason=REASON_LATE_BEEP)
        outcome.cue = CUE_BEEP
        outcome.late_beep_ms = router.result.decided_ms + (router.late_beep.beep_at_ms or 0)

    async def _end_outbound(self, leg: _Leg, gone: asyncio.Event) -> None:
        """Hang up an outbound leg that got no session, and let go of it."""
        if leg.sip is not None and not gone.is_set():
            leg.sip.hangup_quietly()
        await _first(gone, timeout=REFER_TEARDOWN)
        assert self._loop is not None
        self._loop.call_soon(self._forget, leg)

    # -- transfers ------------------------------------------------------------------------------
    async def dial(
        self,
        uri: str,
        headers: dict[str, str],
        ring_timeout: float,
        give_up: asyncio.Event | None = None,
        *,
        outbound: bool = False,
    ) -> ConsultLeg:
        """Call `uri` (a consult leg); returns once it answered, failed, rang out, or
        `give_up` was set (the caller hung up meanwhile). `outbound`: a number outside the
        clinic, dialled the way campaign calls leave (through the front, when there is one)."""
        assert self._account is not None and self._loop is not None and self._taps is not None
        consult = ConsultLeg(uri)
        loop, taps = self._loop, self._taps

        def on_media(media: pj.AudioMedia) -> None:
            def heard(pcm: np.ndarray) -> None:
                consult.heard_frames += 1
                if consult.listener is not None:
                    consult.listener(pcm)

            consult.tap = taps.acquire(heard)
            media.startTransmit(consult.tap)
            consult.tap.startTransmit(media)
            consult.media = media
            consult.answered.set()

        def on_disconnected(code: int, _reason: str) -> None:
            consult.status = code
            consult.ended.set()
            loop.call_soon(self._forget_consult, consult)

        def on_dtmf(digit: str, _method: str) -> None:
            consult.keys.put_nowait(digit)

        try:
            consult.sip = make_call(
                (self._outbound_account or self._account) if outbound else self._account,
                uri,
                CallEvents(on_media=on_media, on_disconnected=on_disconnected, on_dtmf=on_dtmf),
                headers,
            )
        except pj.Error as exc:
            log.warning("consult leg could not be placed: %s", exc.reason)
            consult.status = 500
            consult.ended.set()
            return consult
        self._consults.add(consult)
        waiters = [
            asyncio.ensure_future(consult.answered.wait()),
            asyncio.ensure_future(consult.ended.wait()),
        ]
        if give_up is not None:
            waiters.append(asyncio.ensure_future(give_up.wait()))
        try:
            done, _pending = await asyncio.wait(
                waiters, timeout=ring_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            # Whoever asked for this leg stopped wanting it (a red flag re-routes the call,
            # the worker stops): it must not go on ringing the wrong person.
            consult.status = 487
            consult.hangup()
            raise
        finally:
            for waiter in waiters:
                waiter.cancel()
        if not done:  # rang out: give up on this agent
            consult.status = 408
            consult.hangup()
        elif give_up is not None and give_up.is_set() and not consult.answered.is_set():
            consult.status = 487
            consult.hangup()
        return consult

    def bridge(self, call_id: str, consult: ConsultLeg) -> bool:
        """Connect the caller and the consult leg both ways; our taps keep listening."""
        leg = self._legs.get(call_id)
        if leg is None or leg.sip is None or leg.media is None or consult.media is None:
            return False
        leg.media.startTransmit(consult.media)
        consult.media.startTransmit(leg.media)
        if leg.recording is not None and consult.tap is not None:
            consult.tap.recording = leg.recording.join()  # the agent, on the caller's record
        return True

    @staticmethod
    def connect(one: ConsultLeg, other: ConsultLeg) -> bool:
        """Two legs this worker placed, each hearing the other (an agent calling a patient
        back); our taps keep listening to both. False when either has no media."""
        if one.media is None or other.media is None:
            return False
        one.media.startTransmit(other.media)
        other.media.startTransmit(one.media)
        return True

    def set_monitor(
        self,
        call_id: str,
        agent: ConsultLeg,
        monitor: ConsultLeg,
        *,
        agent_hears: bool,
        caller_hears: bool,
    ) -> bool:
        """Wire a third leg (a supervisor) into a bridged call: it hears caller and agent,
        and is heard by the agent and the caller as asked. Called again, it rewires. False
        when a leg is gone."""
        leg = self._legs.get(call_id)
        if leg is None or leg.media is None or agent.media is None or monitor.media is None:
            return False
        leg.media.startTransmit(monitor.media)
        agent.media.startTransmit(monitor.media)
        for hears, heard in ((agent.media, agent_hears), (leg.media, caller_hears)):
            if heard:
                monitor.media.startTransmit(hears)
            else:
                with contextlib.suppress(pj.Error):  # not connected: nothing to undo
                    monitor.media.stopTransmit(hears)
        if monitor.tap is not None and leg.recording is not None:
            # What the caller hears of her is on the caller's recording, and only that.
            if not caller_hears:
                monitor.tap.recording = None
            elif monitor.tap.recording is None:
                monitor.tap.recording = leg.recording.join()
        return True

    async def refer_replaces(
        self, call_id: str, consult: ConsultLeg, timeout: float = 10.0
    ) -> bool:
        """Hand the caller to the consult leg's agent: attended transfer by REFER + Replaces.

        Sends REFER on the caller's leg with Refer-To: <agent?Replaces=consult dialog>
        (`Call.xferReplaces`); the caller's phone INVITEs the agent with Replaces, the agent's
        phone swaps the consult dialog for it, and caller and agent talk directly, without
        this worker. Progress comes from the NOTIFYs (sipfrag) of the implicit subscription.

        Returns True once a final 2xx NOTIFY arrived. Then the session ends with outcome
        "referred" (a "referred" call event is recorded), our two legs are hung up if their
        peers did not already do so, and both are released by the usual path; on return
        both dialogs are normally down (`sip_calls` no longer counts them).

        Returns False, leaving both legs up (the caller can still be bridged), when: either
        leg is not up, a REFER is already under way on this call, the REFER cannot be sent,
        the caller's phone refuses it (e.g. 405/501/603), the transfer fails (final NOTIFY
        >= 300, e.g. the agent's phone rejects the Replaces), or no final NOTIFY comes
        within `timeout` seconds (a late result is only logged). If the caller hangs up
        meanwhile it also returns False, with the caller's leg gone.
        """
        assert self._loop is not None
        leg = self._legs.get(call_id)
        if (
            leg is None
            or leg.sip is None
            or leg.sip.disconnected
            or leg.referring
            or consult.sip is None
            or consult.sip.disconnected
            or not consult.answered.is_set()
            or consult.ended.is_set()
        ):
            log.info("call %s: REFER not attempted, legs not both up", call_id)
            return False
        loop = self._loop
        result: asyncio.Future[object] = loop.create_future()

        def on_status(code: int, final: bool) -> None:
            log.info("call %s: transfer progress %d%s", call_id, code, " (final)" if final else "")
            if result.done():
                if final:
                    log.warning("call %s: late transfer result %d ignored", call_id, code)
                return
            if final or code >= 300:
                result.set_result(code)

        sip = leg.sip
        sip.events.on_transfer_status = on_status
        leg.referring = True
        started = loop.time()
        try:
            sip.xfer_replaces(consult.sip)
        except pj.Error as exc:
            log.warning("call %s: REFER could not be sent: %s", call_id, exc.reason)
            leg.referring = False
            return False
        log.info("call %s: REFER with Replaces sent", call_id)
        caller_left: asyncio.Future[object] = asyncio.ensure_future(leg.ended.wait())
        try:
            await asyncio.wait(
                [result, caller_left], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not result.done() and leg.ended.is_set():
                # The final NOTIFY may trail the BYE of a caller's phone by a moment.
                await asyncio.wait([result], timeout=0.5)
        finally:
            caller_left.cancel()
        status = result.result() if result.done() and not result.cancelled() else None
        assert status is None or isinstance(status, int)
        if status is None or not 200 <= status < 300:
            leg.referring = False
            why = "timed out" if status is None else f"failed ({status})"
            log.warning("call %s: REFER %s after %.1f s", call_id, why, loop.time() - started)
            if not result.done():
                result.cancel()
            return False
        log.info("call %s: referred in %.1f s", call_id, loop.time() - started)
        if leg.session is not None:
            leg.session.on_referred(status)
        await self.recorder.event(leg.info, "referred", {"status": status, "replaces": True})
        await self._end_referred_legs(leg, consult)
        return True

    async def _end_referred_legs(self, leg: _Leg, consult: ConsultLeg) -> None:
        """After a REFER: let the peers hang up, then hang up whatever is still ours."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(leg.ended.wait(), REFER_BYE_GRACE)
        if leg.sip is not None:
            leg.sip.hangup_quietly()
        if not consult.ended.is_set():
            # The agent's phone ends the replaced dialog itself; only a slow one needs this.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(consult.ended.wait(), REFER_BYE_GRACE)
            consult.hangup()
        waits = [asyncio.ensure_future(e.wait()) for e in (leg.ended, consult.ended)]
        _done, pending = await asyncio.wait(waits, timeout=REFER_TEARDOWN)
        for waiter in pending:
            waiter.cancel()
        if pending:
            log.warning(
                "call %s: a leg still up %.0f s after the REFER", leg.info.call_id, REFER_TEARDOWN
            )

    def _on_disconnected(self, leg: _Leg, code: int, reason: str) -> None:
        log.info("call %s disconnected (%s)", leg.info.call_id, code)
        leg.ended.set()
        if leg.session is not None:
            leg.session.on_hangup(code, reason)
        assert self._loop is not None
        self._loop.call_soon(self._let_go_of_sip, leg)
        self._maybe_release(leg)

    def _session_done(self, ref: str, _task: asyncio.Task[None]) -> None:
        leg = self._legs.get(ref)
        if leg is not None:
            self._maybe_release(leg)

    def _maybe_release(self, leg: _Leg) -> None:
        """Drop a leg once both the SIP dialog and the session are over (outside callbacks)."""
        if leg.ended.is_set() and (leg.task is None or leg.task.done()):
            assert self._loop is not None
            self._loop.call_soon(self._forget, leg)


@dataclass(eq=False)
class ConsultLeg:
    """An outbound leg to an agent or nurse; `status` is the SIP code it ended with."""

    uri: str
    sip: SipCall | None = None
    tap: MediaTap | None = None
    media: pj.AudioMedia | None = None
    status: int | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    heard_frames: int = 0
    # Receives the agent's audio frames once set (the transcript of the bridged call).
    listener: Callable[[np.ndarray], None] | None = None
    # Keys the agent pressed (e.g. "1" to take the call after the whisper).
    keys: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    def speak(self, pcm: object) -> None:
        if self.tap is not None:
            self.tap.enqueue(pcm)  # type: ignore[arg-type]

    def hush(self) -> None:
        """Drop what is still queued for the agent to hear."""
        if self.tap is not None:
            self.tap.clear()

    async def drained(self) -> None:
        while self.tap is not None and self.tap.queued_frames and not self.ended.is_set():
            await asyncio.sleep(0.02)

    def hangup(self) -> None:
        if self.sip is not None:
            self.sip.hangup_quietly()


@dataclass
class OutboundCall:
    """What became of one outbound call."""

    status: int | None = None  # the SIP status it ended with (486 busy, 408 rang out...)
    answered: bool = False
    amd: AmdResult | None = None  # who answered: a person, a voicemail box, dead air
    cue: str | None = None  # for a voicemail box: what let the message start ("beep"...)
    # A box first taken for a person: when its beep ended (ms of call audio, as `amd`'s times).
    late_beep_ms: int | None = None
    call: CallInfo | None = None
    conversation: Conversation | None = None  # the one that ran, to read its outcome


class _Router:
    """An outbound call's audio: to the answering-machine detector, then (for a voicemail
    box) to the wait for its beep, then to the call's session."""

    def __init__(self, detector: AnsweringMachineDetector) -> None:
        self.detector = detector
        self.cue_watch: MessageCue | None = None
        self.result: AmdResult | None = None
        self.cue: str | None = None
        self.ready = asyncio.Event()
        self.session: CallSession | None = None
        # Once a person was assumed: a voicemail's beep that comes after all, and what hears it.
        self.late_beep: LateBeep | None = None
        self._on_late_beep: Callable[[], None] | None = None
        # Detection takes a few seconds; a voicemail greeting and its beep up to ~30 s more.
        self.limit = 45.0
        self._heard: list[np.ndarray] = []  # until the session starts (then screened)

    def heard_audio(self) -> np.ndarray:
        heard, self._heard = self._heard, []
        return np.concatenate(heard) if heard else np.zeros(0, dtype=np.int16)

    def watch_for_late_beep(self, on_beep: Callable[[], None]) -> None:
        self.late_beep, self._on_late_beep = LateBeep(), on_beep

    def feed(self, pcm: np.ndarray) -> None:
        if self.session is not None:
            self.session.on_frame(pcm)
            if self.late_beep is not None and self.late_beep.feed(pcm):
                assert self._on_late_beep is not None
                self._on_late_beep()
            return
        if self.ready.is_set():
            return
        self._heard.append(pcm.copy())
        if self.result is None:
            self.result = self.detector.feed(pcm)
            if self.result is None:
                return
            if self.result.verdict is not Verdict.MACHINE:
                self.ready.set()
                return
            self.cue_watch = MessageCue(detector=self.detector)
            return
        assert self.cue_watch is not None
        self.cue = self.cue_watch.feed(pcm)
        if self.cue is not None:
            self.ready.set()


async def _first(*events: asyncio.Event, timeout: float) -> bool:
    """Wait for the first of `events`; False when none was set within `timeout`."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _pending = await asyncio.wait(
            waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)


class _NullMedia:
    """Stands in for the tap for the instant between session creation and tap creation."""

    def enqueue(self, pcm: object) -> int:
        return 0

    def clear(self) -> int:
        return 0

    @property
    def queued_frames(self) -> int:
        return 0
