"""The simulated patient phone: a real SIP client that speaks a script and listens.

It waits for the bot to stop talking before each line, measures the time from the end of
its own speech to the first bot audio packet, records everything it hears, and afterwards
transcribes what the bot said. Tests, benchmarks and newcomers all call the clinic with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from voice.audio.frames import SAMPLE_RATE, chunk_frames, loud_frames
from voice.audio.vad import SpeechEnded, UtteranceDetector, VadConfig
from voice.audio.wav import read_wav, write_wav
from voice.phone.script import (
    BargeStep,
    CallScript,
    DtmfStep,
    PlayStep,
    SayStep,
    Step,
    WaitStep,
)
from voice.sip.account import create_account
from voice.sip.call import CallEvents, SipCall, call_ref, make_call
from voice.sip.endpoint import SipEndpoint
from voice.sip.media import MediaTap

log = logging.getLogger(__name__)

BOT_AUDIO_RMS = 200.0  # int16 RMS above which a received frame counts as bot speech


class Voice(Protocol):
    def synthesize(self, text: str) -> Any: ...


class Transcriber(Protocol):
    def transcribe(self, pcm: np.ndarray) -> Any: ...


@dataclass
class TurnLog:
    said: str
    heard: str = ""
    latency_ms: float | None = None
    heard_seconds: float = 0.0


@dataclass
class CallLog:
    call_id: str = ""
    connected: bool = False
    greeting: str = ""
    # From the call's audio connecting (the answer's media) to the greeting's first voiced
    # frame here: what a caller waits before the clinic says anything.
    greeting_latency_ms: float | None = None
    turns: list[TurnLog] = field(default_factory=list)
    hung_up_by: str = ""
    status: int | None = None
    duration_s: float = 0.0
    recording: str | None = None
    refer: str = ""  # "" (none came), "accepted" or "refused": a REFER from the far end
    transferred: bool = False  # the REFER's new call connected; media moved onto it
    after_transfer: str = ""  # what was heard on the transferred call (transcribed)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PhoneTiming:
    answer_timeout: float = 10.0
    bot_start_timeout: float = 15.0
    bot_quiet_gap: float = 1.2  # the bot has stopped talking after this much silence
    final_listen: float = 20.0
    barge_in_after: float | None = None  # speak the first line this long into the greeting
    hangup_after: float | None = None  # hang up this long after answer, whatever is going on
    turn_max: float | None = None  # stop waiting for the bot's reply after this long


class Listener:
    """Tracks the far end's speech on received frames; keeps the whole recording."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.last_voiced_at: float | None = None
        self.first_voiced_after: float | None = None
        self._mark: float | None = None
        self.changed = asyncio.Event()

    def on_frame(self, pcm: np.ndarray) -> None:
        self.frames.append(pcm)
        rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
        if rms >= BOT_AUDIO_RMS:
            now = time.monotonic()
            self.last_voiced_at = now
            if self._mark is not None and self.first_voiced_after is None:
                self.first_voiced_after = now
            self.changed.set()

    def mark(self) -> int:
        """Start waiting for the next bot audio; returns the frame index at this moment."""
        self._mark = time.monotonic()
        self.first_voiced_after = None
        return len(self.frames)

    def audio_since(self, index: int) -> np.ndarray:
        if index >= len(self.frames):
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self.frames[index:])


class _Line:
    """The phone's side of the conversation: one call, or the new call a REFER leads to.

    The media tap (what the phone says and hears) stays the same object: when a transfer's
    new call gets media, the tap moves onto it, so playback and recording carry on.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        account: Any,
        listener: Listener,
        log: CallLog,
        accept_refer: bool,
    ) -> None:
        self.loop, self.account, self.listener, self.log = loop, account, listener, log
        self.accept_refer = accept_refer
        self.call: SipCall | None = None  # the call media flows on now
        self.pending: SipCall | None = None  # a REFER's new call, until it connects or fails
        self.calls: list[SipCall] = []  # every Call object, alive until the endpoint goes
        self.tap: MediaTap | None = None
        self.media: Any = None
        self.transfer_frame: int | None = None
        self.connected, self.ended = asyncio.Event(), asyncio.Event()
        self.connected_at: float | None = None  # the first call's audio, monotonic clock

    def dial(self, uri: str) -> SipCall:
        call = make_call(self.account, uri, CallEvents())
        call.events = self._events(call)
        self.call = call
        self.calls.append(call)
        return call

    def _events(self, call: SipCall) -> CallEvents:
        return CallEvents(
            on_media=lambda media: self._on_media(call, media),
            on_confirmed=lambda: self._switch(call),
            on_disconnected=lambda code, reason: self._on_disconnected(call, code),
            on_transfer_request=lambda uri: self._on_refer(call),
        )

    def _on_media(self, call: SipCall, media: Any) -> None:
        if call is self.pending:
            self._switch(call)
        if call is not self.call:
            return
        if self.tap is None:
            self.tap = MediaTap(self.loop, self.listener.on_frame, name="phone")
        elif self.media is not None:
            for source, sink in ((self.media, self.tap), (self.tap, self.media)):
                with contextlib.suppress(Exception):  # the old call's port may be gone
                    source.stopTransmit(sink)
        media.startTransmit(self.tap)
        self.tap.startTransmit(media)
        self.media = media
        if self.connected_at is None:
            self.connected_at = time.monotonic()
        self.connected.set()

    def _on_refer(self, call: SipCall) -> SipCall | None:
        if call is not self.call or self.pending is not None or not self.accept_refer:
            self.log.refer = self.log.refer or "refused"
            log.info("REFER refused")
            return None
        self.log.refer = "accepted"
        log.info("REFER accepted: calling the transfer target")
        new = SipCall(self.account)
        new.events = self._events(new)
        self.pending = new
        self.calls.append(new)
        return new

    def _switch(self, call: SipCall) -> None:
        if call is not self.pending:
            return
        self.pending = None
        self.call = call
        self.log.transferred = True
        self.transfer_frame = len(self.listener.frames)
        log.info("transferred: now on the new call")

    def _on_disconnected(self, call: SipCall, code: int) -> None:
        if call is self.pending:  # the transfer's call failed: stay where we are
            self.pending = None
            if self.call is not None and not self.call.disconnected:
                return
        elif call is not self.call:
            return  # the dialog a transfer left behind
        elif self.pending is not None:
            return  # the old dialog ends first; the new one may still connect
        self.log.status = code
        if not self.log.hung_up_by:
            if self.log.transferred:
                self.log.hung_up_by = "transfer_target"
            else:
                self.log.hung_up_by = "bot" if self.connected.is_set() else "refused"
        self.ended.set()
        self.connected.set()

    def hangup(self) -> None:
        for call in (self.pending, self.call):
            if call is not None:
                call.hangup_quietly()

    def release(self) -> None:
        for call in self.calls:
            call.events = CallEvents()
        self.calls.clear()
        self.call = self.pending = None
        self.tap = self.media = None


class PatientPhone:
    """Places one call and plays a script into it."""

    def __init__(
        self,
        voice: Voice,
        *,
        caller: str | None = None,
        host: str = "127.0.0.1",
        timing: PhoneTiming | None = None,
        accept_refer: bool = True,
    ) -> None:
        self.voice = voice
        self.caller = caller or "+15550199999"
        self.host = host
        self.timing = timing or PhoneTiming()
        self.accept_refer = accept_refer  # follow a REFER (transfer) from the far end
        self.log = CallLog()

    async def call(self, uri: str, script: CallScript, recording: Path | None = None) -> CallLog:
        endpoint = SipEndpoint(self.host, 0, user_agent="clinicline-phone")
        endpoint.start(tls_client=uri.startswith("sips:") or "transport=tls" in uri.lower())
        account = create_account(self.host, 0, user=self.caller)
        endpoint.keep(account)
        endpoint.run_pump()
        listener = Listener()
        line = _Line(asyncio.get_running_loop(), account, listener, self.log, self.accept_refer)
        connected, ended = line.connected, line.ended
        self._line = line

        started = time.monotonic()
        sip: SipCall | None = None
        try:
            sip = line.dial(uri)
            await asyncio.wait_for(connected.wait(), self.timing.answer_timeout)
            # The dialog may already be gone (refused): use the Call-ID seen in its first state.
            self.log.call_id = call_ref(sip.sip_call_id) if sip.sip_call_id else ""
            if not ended.is_set():
                self.log.connected = True
                assert line.tap is not None
                converse = self._converse(line, line.tap, listener, script.steps, ended)
                if self.timing.hangup_after is None:
                    await converse
                else:
                    try:
                        await asyncio.wait_for(converse, self.timing.hangup_after)
                    except TimeoutError:
                        self.log.hung_up_by = "caller"
        except TimeoutError:
            self.log.hung_up_by = self.log.hung_up_by or "no_answer"
        finally:
            if sip is not None and not ended.is_set():
                self.log.hung_up_by = self.log.hung_up_by or "caller"
                line.hangup()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), 3.0)
            self.log.duration_s = round(time.monotonic() - started, 2)
            del sip
            # The tap goes once the bridge's clock has stopped (see `voice.sip.media`).
            await endpoint.shutdown(release=line.release)
        if recording is not None and listener.frames:
            write_wav(recording, np.concatenate(listener.frames))
            self.log.recording = str(recording)
        self._segments = listener  # kept for transcription
        return self.log

    async def _wait_bot_done(
        self, listener: Listener, ended: asyncio.Event, start_timeout: float
    ) -> None:
        """Wait for the bot to speak (up to start_timeout) and then fall quiet."""
        t = self.timing
        await wait_bot_done(
            listener,
            ended,
            start_timeout=start_timeout,
            quiet_gap=t.bot_quiet_gap,
            turn_max=t.turn_max,
        )

    async def _wait_bot_started(self, listener: Listener, ended: asyncio.Event) -> None:
        deadline = time.monotonic() + self.timing.bot_start_timeout
        while (
            listener.first_voiced_after is None
            and not ended.is_set()
            and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.02)

    async def _speak(self, tap: MediaTap, step: Step, line: _Line, ended: asyncio.Event) -> None:
        await speak_step(self.voice, tap, step, ended, lambda: line.call)

    async def _converse(
        self,
        line: _Line,
        tap: MediaTap,
        listener: Listener,
        steps: Sequence[Step],
        ended: asyncio.Event,
    ) -> None:
        self._heard_spans: list[tuple[int, int]] = []
        start = listener.mark()
        connected_at = line.connected_at
        first = steps[0] if steps else None
        if isinstance(first, BargeStep):
            if first.from_bot:
                await self._wait_bot_started(listener, ended)
            await asyncio.sleep(first.after)
        elif self.timing.barge_in_after is not None:
            await self._wait_bot_started(listener, ended)
            await asyncio.sleep(self.timing.barge_in_after)
        else:
            await self._wait_bot_done(listener, ended, self.timing.bot_start_timeout)
        if listener.first_voiced_after is not None and connected_at is not None:
            waited = listener.first_voiced_after - connected_at
            self.log.greeting_latency_ms = round(waited * 1000, 1)
        self._heard_spans.append((start, len(listener.frames)))
        for index, step in enumerate(steps):
            if ended.is_set():
                break
            said = _describe(step)
            turn = TurnLog(said=said)
            # What plays while the phone waits for a test's cue (the emergency message, a
            # nurse picking up) is heard in that step's turn.
            cued = isinstance(step, WaitStep) and step.until is not None
            if cued:
                begin = listener.mark()
            await self._speak(tap, step, line, ended)
            if not cued:
                begin = listener.mark()
            spoken_end = time.monotonic()
            following = steps[index + 1] if index + 1 < len(steps) else None
            if isinstance(following, BargeStep):
                # The next line cuts in: wait only for the bot to start (or not at all).
                if following.from_bot:
                    await self._wait_bot_started(listener, ended)
                await asyncio.sleep(following.after)
            elif isinstance(following, WaitStep) and following.until is not None:
                pass  # the signal, not the bot falling quiet, says when to go on
            else:
                await self._wait_bot_done(listener, ended, self.timing.bot_start_timeout)
            if listener.first_voiced_after is not None and not cued:
                turn.latency_ms = round((listener.first_voiced_after - spoken_end) * 1000, 1)
            self._heard_spans.append((begin, len(listener.frames)))
            self.log.turns.append(turn)
        if not ended.is_set():
            begin = listener.mark()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), self.timing.final_listen)
            self._heard_spans.append((begin, len(listener.frames)))

    def transcribe(self, transcriber: Transcriber) -> None:
        """Fill in what the bot said in each span (after the call, off the media path)."""
        listener: Listener | None = getattr(self, "_segments", None)
        spans = getattr(self, "_heard_spans", [])
        if listener is None:
            return
        texts = []
        for begin, end in spans:
            frames = listener.frames[begin:end]
            audio = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)
            texts.append(transcribe_speech(transcriber, audio))
        if texts:
            self.log.greeting = texts[0]
        line: _Line | None = getattr(self, "_line", None)
        if line is not None and line.transfer_frame is not None:
            frames = listener.frames[line.transfer_frame :]
            audio = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)
            self.log.after_transfer = transcribe_speech(transcriber, audio)
        for turn, text in zip(self.log.turns, texts[1:], strict=False):
            turn.heard = text
        if len(texts) > len(self.log.turns) + 1 and self.log.turns:
            tail = texts[len(self.log.turns) + 1]
            if tail:
                self.log.turns[-1].heard = (self.log.turns[-1].heard + " " + tail).strip()


async def wait_bot_done(
    listener: Listener,
    ended: asyncio.Event,
    *,
    start_timeout: float,
    quiet_gap: float,
    turn_max: float | None = None,
) -> None:
    """Wait for the far end to start speaking (giving up after `start_timeout`; only speech
    after the listener's last `mark()` counts) and then to fall quiet for `quiet_gap`
    seconds; `turn_max` caps the whole wait. Returns at once once `ended` is set."""
    deadline = time.monotonic() + start_timeout
    give_up = None if turn_max is None else time.monotonic() + turn_max
    while not ended.is_set():
        now = time.monotonic()
        if give_up is not None and now > give_up:
            return
        if listener.first_voiced_after is None:
            if now > deadline:
                return
        elif listener.last_voiced_at is not None and now - listener.last_voiced_at >= quiet_gap:
            return
        await asyncio.sleep(0.02)


async def speak_step(
    voice: Voice,
    tap: MediaTap,
    step: Step,
    ended: asyncio.Event,
    call: Callable[[], SipCall | None],
) -> None:
    """Play one script step into the call: speech (synthesised, silence cut), a WAV, DTMF
    digits (sent on `call()`, the dialog media flows on now) or a pause. Returns once the
    audio has gone out, or the call has ended."""
    if isinstance(step, WaitStep):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + step.seconds
        while loop.time() < deadline and not (step.until and step.until.exists()):
            await asyncio.sleep(min(0.2, max(0.0, deadline - loop.time())))
        return
    if isinstance(step, DtmfStep):
        for digit in step.digits:
            sip = call()
            if sip is not None:
                sip.send_dtmf(digit, step.method)
            await asyncio.sleep(0.25)
        return
    if isinstance(step, PlayStep):
        audio = read_wav(step.path, SAMPLE_RATE)
    else:  # SayStep or BargeStep
        chunks = await asyncio.to_thread(lambda: list(voice.synthesize(step.text)))
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    if isinstance(step, SayStep | BargeStep):
        # Synthesised speech ends in silence; cut it so "end of speech" is the real end
        # and the measured latency is not flattered by the pause.
        audio = trim_silence(audio, margin_frames=3)
    tap.enqueue(audio)
    while tap.queued_frames and not ended.is_set():  # the far end may hang up mid-line
        await asyncio.sleep(0.01)


def transcribe_speech(transcriber: Transcriber, audio: np.ndarray) -> str:
    """Transcribe a long recording utterance by utterance (Whisper does best on short pieces)."""
    detector = UtteranceDetector(VadConfig(hangover_ms=700))
    pieces: list[str] = []
    events = [e for frame in chunk_frames(audio) for e in detector.push(frame)] + detector.flush()
    for event in events:
        if isinstance(event, SpeechEnded) and event.seconds > 0.3:
            text = transcriber.transcribe(event.pcm).text.strip()
            if text:
                pieces.append(text)
    return " ".join(pieces)


def trim_silence(audio: np.ndarray, margin_frames: int = 10) -> np.ndarray:
    """Cut leading and trailing near-silence so the recogniser sees speech."""
    loud = loud_frames(audio, BOT_AUDIO_RMS)
    if len(loud) == 0:
        return np.zeros(0, dtype=np.int16)
    first = max(0, loud[0] - margin_frames)
    last = min(len(audio) // 160, loud[-1] + 1 + margin_frames)
    return audio[first * 160 : last * 160]


def _describe(step: Step) -> str:
    if isinstance(step, SayStep):
        return step.text
    if isinstance(step, DtmfStep):
        return f"<dtmf {step.digits}>"
    if isinstance(step, WaitStep):
        until = f" or until {step.until.name}" if step.until else ""
        return f"<wait {step.seconds:g}s{until}>"
    if isinstance(step, BargeStep):
        return step.text
    return f"<play {step.path.name}>"
