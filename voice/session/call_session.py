"""One call's media path as a chain.

audio in -> VAD -> ASR -> screen (triage) -> conversation -> TTS -> audio out.

Everything here runs on the asyncio thread. Audio frames arrive from the media tap 50 times
a second; recognition and synthesis run in worker threads so the loop keeps up. Safety
comes first: every transcript and digit string is screened before anything else, and a
screen hit interrupts the bot mid-sentence.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from voice.asr.base import RecognitionStream, SpeechRecognizer, Transcript
from voice.audio.frames import AudioFrame
from voice.audio.vad import SpeechEnded, SpeechStarted, UtteranceDetector, VadConfig
from voice.session.actions import (
    Action,
    CallerTurn,
    CallInfo,
    CallOutcome,
    CollectDigits,
    Hangup,
    PlayPrompt,
    Say,
    Transfer,
)
from voice.session.conversation import CallRecorder, Conversation
from voice.session.live import LivePartials
from voice.tts.base import split_for_streaming

log = logging.getLogger(__name__)


class MediaOut(Protocol):
    """Where bot audio goes (the SIP media tap, or a test double)."""

    def enqueue(self, pcm: np.ndarray) -> int: ...
    def clear(self) -> int: ...
    @property
    def queued_frames(self) -> int: ...


class Synthesizer(Protocol):
    def synthesize(self, text: str) -> Iterator[np.ndarray]: ...


class Prompts(Protocol):
    def audio(self, name: str) -> np.ndarray: ...
    def text(self, name: str) -> str: ...


class TransferHandler(Protocol):
    async def transfer(self, session: CallSession, action: Transfer) -> None: ...


@dataclass(frozen=True)
class SessionConfig:
    silence_timeout: float = 8.0
    max_call_seconds: float = 900.0
    digit_timeout: float = 3.0
    # The VAD ends an utterance after a short pause so recognition can start at once; the
    # turn only counts as over once `confirm_ms` more of silence has passed. Speech within
    # that window joins the next utterance. Turn-taking sees a 500 ms pause, while the
    # recogniser has been working for the last 250 ms of it.
    vad: VadConfig = VadConfig(hangover_ms=250)
    confirm_ms: int = 250


@dataclass(frozen=True)
class _Utterance:
    turn: CallerTurn
    latency_origin: float  # loop time the VAD first saw the end of speech
    recognized_at: float | None = None


@dataclass(frozen=True)
class _Pending:
    """An utterance whose end is not yet confirmed, already being recognised."""

    pcm: np.ndarray
    seconds: float
    origin: float  # loop time of the tentative end of speech
    decode: asyncio.Task[Transcript | None]


@dataclass(frozen=True)
class _Urgent:
    actions: Sequence[Action]


@dataclass(frozen=True)
class _Ended:
    by: str
    reason: str


_Event = _Utterance | _Urgent | _Ended


def _now() -> datetime:
    return datetime.now(UTC)


class CallSession:
    """Runs one answered call until either side hangs up."""

    def __init__(
        self,
        call: CallInfo,
        *,
        conversation: Conversation,
        recorder: CallRecorder,
        media: MediaOut,
        recognizer: SpeechRecognizer,
        synthesizer: Synthesizer,
        prompts: Prompts,
        hangup: Callable[[], None],
        transfer: TransferHandler | None = None,
        config: SessionConfig | None = None,
    ) -> None:
        self.call = call
        self.conversation = conversation
        self.recorder = recorder
        self.media = media
        self.recognizer = recognizer
        self.synthesizer = synthesizer
        self.prompts = prompts
        self._hangup = hangup
        self._transfer = transfer
        self.config = config or SessionConfig()
        self._loop = asyncio.get_running_loop()
        self._events: asyncio.Queue[_Event] = asyncio.Queue()
        self._vad = UtteranceDetector(self.config.vad)
        self._stream_t0 = self._loop.time()
        self._frames = 0
        self._asr_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._interrupt = asyncio.Event()
        self._speaking = False
        self._barge_in = True
        self._digits = ""
        self._collect: CollectDigits | None = None
        self._digit_timer: asyncio.TimerHandle | None = None
        self._latency_origin: float | None = None
        self._timing: dict[str, object] = {}
        self._pending: _Pending | None = None
        self._live: LivePartials | None = None
        self._recent: collections.deque[np.ndarray] = collections.deque(maxlen=15)  # 300 ms
        self._carry: np.ndarray | None = None
        self.ended = False
        self.caller_gone = asyncio.Event()
        self._referred: str | None = None  # set once a REFER handed the caller over
        # Set once screening raised actions (a red flag) while the run loop may be busy
        # elsewhere, e.g. a caller on hold: whoever holds the call should hand it back.
        self.flag_raised = asyncio.Event()
        self._transcribing = 0  # utterances being recognised and screened right now
        self.latencies: list[float] = []
        self.barge_ins = 0

    # -- inputs (asyncio thread) --------------------------------------------------------
    def on_frame(self, pcm: np.ndarray) -> None:
        """Caller audio from the media tap."""
        if self.ended:
            return
        frame = AudioFrame(pcm, self._frames * 0.02)
        self._frames += 1
        self._recent.append(pcm)
        if self._live is not None:
            self._live.push(pcm)
        for event in self._vad.push(frame):
            if isinstance(event, SpeechStarted):
                self._speech_started()
                self._start_live()
            elif isinstance(event, SpeechEnded):
                self._stop_live()
                self._tentative_end(event)

    def on_dtmf(self, digit: str, method: str) -> None:
        if self.ended:
            return
        self._spawn(self.recorder.event(self.call, "dtmf", {"digit": digit, "method": method}))
        if self._speaking and self._barge_in:
            self._stop_playback()
        if self._digit_timer is not None:
            self._digit_timer.cancel()
        collect = self._collect
        if digit == "#" and (collect is not None or self._digits):
            self._flush_digits()
            return
        self._digits += digit
        if collect is not None and len(self._digits) >= collect.max_digits:
            self._flush_digits()
            return
        self._digit_timer = self._loop.call_later(self.config.digit_timeout, self._flush_digits)

    def on_hangup(self, code: int, reason: str) -> None:
        # Media stops with the dialog: nothing will drain the playback queue any more.
        self.caller_gone.set()
        self._stop_playback()
        if self._referred is not None:  # our leg's BYE after a REFER: not the caller leaving
            self._events.put_nowait(_Ended("referred", self._referred))
            return
        self._events.put_nowait(_Ended("caller", f"{code} {reason}"))

    def on_referred(self, status: int) -> None:
        """The caller was handed to an agent by REFER: the call leaves this worker.

        The session ends with `hung_up_by="referred"` (the BYE of our leg that follows
        ends it the same way) and the record closes as usual.
        """
        self._referred = f"REFER with Replaces accepted ({status})"
        self._stop_playback()
        self._events.put_nowait(_Ended("referred", self._referred))

    # -- internals ----------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _tentative_end(self, ended: SpeechEnded) -> None:
        """Start recognising now; keep the result only if the caller stays quiet."""
        pcm = ended.pcm if self._carry is None else np.concatenate([self._carry, ended.pcm])
        self._carry = None
        seconds = len(pcm) / 8000
        stream = self.recognizer.new_stream(hints=self.conversation.hints(self.call))
        decode = self._loop.create_task(self._decode(stream, pcm))
        pending = _Pending(pcm, seconds, self._loop.time(), decode)
        self._pending = pending
        self._loop.call_later(self.config.confirm_ms / 1000, self._confirm, pending)

    def _confirm(self, pending: _Pending) -> None:
        if self._pending is pending:
            self._pending = None
            # Counted from now, not from when the task first runs: a hang-up waiting for the
            # caller's last words must never see a gap between "pending" and "transcribing".
            self._transcribing += 1
            task = self._loop.create_task(self._transcribe(pending))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(self._transcribed)

    def _transcribed(self, _task: asyncio.Task[None]) -> None:
        self._transcribing -= 1

    async def _decode(self, stream: RecognitionStream, pcm: np.ndarray) -> Transcript | None:
        def run() -> Transcript:
            stream.accept(pcm)
            return stream.finish()

        async with self._asr_lock:
            try:
                return await asyncio.to_thread(run)
            except Exception:
                log.exception("call %s: recognition failed", self.call.call_id)
                return None

    def _start_live(self) -> None:
        """Streaming engines: screen partial transcripts while the caller speaks."""
        if not getattr(self.recognizer, "streaming", False) or self._live is not None:
            return
        stream = self.recognizer.new_stream(hints=self.conversation.hints(self.call))
        self._live = LivePartials(stream, self._on_partial)
        for pcm in self._recent:  # the words' beginnings, from before the VAD was sure
            self._live.push(pcm)

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.close()
            self._live = None

    def _on_partial(self, text: str) -> None:
        if self.ended:
            return
        urgent = self.conversation.screen(self.call, text, False)
        if urgent:
            self._spawn(self.recorder.event(self.call, "partial_escalation", {}))
            self._raise_urgent(urgent)

    def _speech_started(self) -> None:
        if self._pending is not None:
            # The caller only paused: this utterance goes on, so recognise it whole later.
            self._carry = self._pending.pcm
            self._pending.decode.cancel()
            self._pending = None
        if self._speaking and self._barge_in:
            self.barge_ins += 1
            self._stop_playback()

    def _stop_playback(self) -> None:
        self.media.clear()
        self._interrupt.set()

    def _flush_digits(self) -> None:
        digits, self._digits = self._digits, ""
        self._collect = None
        if not digits:
            return
        urgent = self.conversation.screen(self.call, digits, True)
        if urgent:
            self._raise_urgent(urgent)
            return
        now = _now()
        self._events.put_nowait(
            _Utterance(CallerTurn(digits=digits, start=now, end=now), self._loop.time())
        )

    def _raise_urgent(self, actions: Sequence[Action]) -> None:
        self._stop_playback()
        self.flag_raised.set()
        self._events.put_nowait(_Urgent(actions))

    async def _transcribe(self, pending: _Pending) -> None:
        end = _now()
        start = datetime.fromtimestamp(end.timestamp() - pending.seconds, UTC)
        try:
            transcript = await pending.decode
        except asyncio.CancelledError:
            return
        text = transcript.text.strip() if transcript is not None else ""
        if not text or self.ended:
            return
        await self.recorder.turn(self.call, "caller", text, start, end)
        urgent = self.conversation.screen(self.call, text, True)
        if urgent:
            self._raise_urgent(urgent)
            return
        confidence = transcript.confidence if transcript is not None else None
        turn = CallerTurn(text=text, start=start, end=end, confidence=confidence)
        self._events.put_nowait(_Utterance(turn, pending.origin, self._loop.time()))

    # -- output -------------------------------------------------------------------------
    async def _play(self, chunks: Iterator[np.ndarray] | list[np.ndarray], barge_in: bool) -> bool:
        """Play audio chunks; returns False when the caller barged in."""
        self._interrupt.clear()
        self._speaking, self._barge_in = True, barge_in
        iterator = iter(chunks)
        try:
            while not self._interrupt.is_set() and not self.ended and not self.caller_gone.is_set():
                chunk = await asyncio.to_thread(next, iterator, None)
                if chunk is None or self._interrupt.is_set():
                    break
                self.media.enqueue(chunk)
                self._note_first_audio()
            # Once the caller is gone nothing drains the queue: never wait on it then.
            while (
                self.media.queued_frames
                and not self._interrupt.is_set()
                and not self.ended
                and not self.caller_gone.is_set()
            ):
                await asyncio.sleep(0.02)
        finally:
            self._speaking = False
        return not (self._interrupt.is_set() or self.caller_gone.is_set())

    def _note_first_audio(self) -> None:
        if self._latency_origin is not None:
            now = self._loop.time()
            self.latencies.append(now - self._latency_origin)
            timing = {**self._timing, "first_audio_ms": round((now - self._latency_origin) * 1000)}
            self._spawn(self.recorder.event(self.call, "turn_timing", timing))
            self._latency_origin = None

    async def _say(self, text: str, barge_in: bool) -> None:
        start = _now()
        pieces = (
            chunk
            for piece in split_for_streaming(text)
            for chunk in self.synthesizer.synthesize(piece)
        )
        finished = await self._play(pieces, barge_in)
        await self.recorder.turn(
            self.call, "bot", text if finished else text + " [interrupted]", start, _now()
        )

    async def _play_prompt(self, name: str, barge_in: bool) -> None:
        start = _now()
        finished = await self._play([self.prompts.audio(name)], barge_in)
        text = self.prompts.text(name)
        await self.recorder.turn(
            self.call, "bot", text if finished else text + " [interrupted]", start, _now()
        )

    async def next_input(self, timeout: float) -> CallerTurn | None:
        """The caller's next turn (words or keypad digits) for a handler that holds the call
        outside the run loop, such as a transfer asking "hold or call back?".

        None when nothing came within `timeout`, the caller hung up, or a red flag was
        raised; those events stay queued for the run loop, which acts on them next.
        """
        if self.caller_gone.is_set() or self.flag_raised.is_set():
            return None
        try:
            event = await asyncio.wait_for(self._events.get(), timeout)
        except TimeoutError:
            return None
        if isinstance(event, _Utterance):
            return event.turn
        self._events.put_nowait(event)
        return None

    async def perform(self, actions: Sequence[Action]) -> None:
        """Carry out a conversation's actions in order."""
        for action in actions:
            if self.ended:
                return
            if isinstance(action, Say):
                await self._say(action.text, action.barge_in)
            elif isinstance(action, PlayPrompt):
                await self._play_prompt(action.name, action.barge_in)
            elif isinstance(action, CollectDigits):
                self._collect = action
                self._digits = ""
            elif isinstance(action, Transfer):
                await self.recorder.event(
                    self.call, "transfer", {"queue": action.queue, "emergent": action.emergent}
                )
                if self._transfer is not None:
                    await self._transfer.transfer(self, action)
            elif isinstance(action, Hangup):
                if await self._red_flag_in_last_words():
                    return  # the run loop plays the red-flag actions instead of hanging up
                await self._finish("bot", action.reason)
                return

    async def _red_flag_in_last_words(self, limit: float = 5.0) -> bool:
        """Before the bot hangs up, hear out what the caller is still saying.

        Someone who says "he just collapsed" over the goodbye must not be cut off: wait (up
        to `limit` seconds) until words under way are recognised and screened, and call the
        hang-up off if they raised a red flag.
        """
        deadline = self._loop.time() + limit
        while (
            not self.flag_raised.is_set()
            and not self.caller_gone.is_set()
            and self._loop.time() < deadline
            and (self._vad.in_speech or self._pending is not None or self._transcribing)
        ):
            await asyncio.sleep(0.05)
        return self.flag_raised.is_set() and not self.caller_gone.is_set()

    async def _finish(self, by: str, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.media.clear()
        if by != "caller":
            self._hangup()
        for task in list(self._tasks):
            task.cancel()
        outcome = CallOutcome(_now(), by, reason)
        disposition: str | None = None
        try:
            disposition = await self.conversation.finish(self.call, outcome)
        finally:
            await self.recorder.closed(self.call, outcome, disposition)

    # -- the call -----------------------------------------------------------------------
    async def run(self) -> None:
        deadline = self._loop.time() + self.config.max_call_seconds
        silences = 0
        try:
            await self.perform(await self.conversation.start(self.call))
            while not self.ended:
                timeout = self.config.silence_timeout
                if self._collect is not None:
                    timeout = max(timeout, self._collect.timeout)
                if self._loop.time() > deadline:
                    await self.perform(
                        [PlayPrompt("goodbye", barge_in=False), Hangup("max_duration")]
                    )
                    break
                try:
                    event = await asyncio.wait_for(self._events.get(), timeout)
                except TimeoutError:
                    if self._vad.in_speech or self._pending is not None or self._asr_lock.locked():
                        continue
                    silences += 1
                    await self.perform(await self.conversation.silence(self.call, silences))
                    continue
                if isinstance(event, _Ended):
                    await self._finish(event.by, event.reason)
                elif isinstance(event, _Urgent):
                    self.flag_raised.clear()
                    await self.perform(event.actions)
                else:
                    silences = 0
                    self._latency_origin = event.latency_origin
                    started = time.perf_counter()
                    actions = await self.conversation.respond(self.call, event.turn)
                    # Where a turn's latency goes, measured from the VAD's end of speech.
                    self._timing = {
                        "recognized_ms": round(
                            ((event.recognized_at or event.latency_origin) - event.latency_origin)
                            * 1000
                        ),
                        "dialog_ms": round((time.perf_counter() - started) * 1000),
                        "dialog_done_ms": round((self._loop.time() - event.latency_origin) * 1000),
                    }
                    await self.perform(actions)
        except asyncio.CancelledError:
            # The worker is stopping: end the call politely rather than cutting it off.
            if not self.ended and not self.caller_gone.is_set():
                self.media.clear()
                await self._play([self.prompts.audio("shutdown")], barge_in=False)
            await self._finish("shutdown", "worker stopping")
            raise
        except Exception:
            log.exception("call %s: session failed", self.call.call_id)
            await self._finish("error", "session error")
