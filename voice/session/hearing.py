"""The caller's side of a call: audio in -> VAD -> ASR -> screen, and keypad digits.

Every transcript (partial or final) and every digit string is screened before anything else
sees it; a red flag goes straight to `on_red_flag`, whatever the rest of the call is doing.
What passes the screen becomes an `Utterance` for the run loop.

Turn-taking: the VAD ends an utterance after a short pause so recognition can start at once;
the turn counts as over once the pause reaches `TurnEndConfig.finished_ms` and the words are
in, or `unfinished_ms` when the words hang ("I need to move my", see `turn_end`). Speech within
that window joins the utterance, which is then recognised whole.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from voice.asr.base import RecognitionStream, SpeechRecognizer, Transcript
from voice.audio.frames import AudioFrame
from voice.audio.vad import (
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    UtteranceDetector,
    VadConfig,
)
from voice.session.actions import Action, CallerTurn, CallInfo, CollectDigits
from voice.session.conversation import CallRecorder, Conversation
from voice.session.inbox import Utterance
from voice.session.live import LivePartials
from voice.session.phase import CallPhase
from voice.session.turn_end import TurnEndConfig, sounds_unfinished

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    """An utterance whose end is not yet confirmed, already being recognised."""

    pcm: np.ndarray
    seconds: float
    origin: float  # loop time of the tentative end of speech
    phase: CallPhase  # where the call stood when the caller started speaking
    decode: asyncio.Task[Transcript | None]


def utc_now() -> datetime:
    """The time turns and outcomes are stamped with (one clock for the whole session)."""
    return datetime.now(UTC)


class CallerInput:
    """Turns one caller's frames and digits into screened utterances and red flags."""

    def __init__(
        self,
        call: CallInfo,
        *,
        conversation: Conversation,
        recorder: CallRecorder,
        recognizer: SpeechRecognizer,
        vad: VadConfig,
        turn: TurnEndConfig,
        digit_timeout: float,
        lone_key_wait: float,
        phase: Callable[[], CallPhase],
        on_speech: Callable[[], None],
        on_digit: Callable[[], None],
        on_utterance: Callable[[Utterance], None],
        on_red_flag: Callable[[Sequence[Action]], None],
        on_nothing: Callable[[], None] = lambda: None,
    ) -> None:
        self.call = call
        self.conversation = conversation
        self.recorder = recorder
        self.recognizer = recognizer
        if turn.finished_ms < vad.hangover_ms:
            raise ValueError("a turn cannot end before the utterance detector's pause")
        # Counted from the detector's end of speech, itself `hangover_ms` after the last word.
        self._wait_finished = (turn.finished_ms - vad.hangover_ms) / 1000
        self._wait_unfinished = (turn.unfinished_ms - vad.hangover_ms) / 1000
        spelling_ms = max(turn.unfinished_ms, turn.spelling_ms)
        self._wait_spelling = (spelling_ms - vad.hangover_ms) / 1000
        self._digit_timeout, self._lone_key_wait = digit_timeout, lone_key_wait
        self._phase = phase
        self._on_speech, self._on_digit = on_speech, on_digit
        self._on_utterance, self._on_red_flag = on_utterance, on_red_flag
        self._on_nothing = on_nothing  # an utterance that held no words
        self._loop = asyncio.get_running_loop()
        self._vad = UtteranceDetector(vad)
        self._frames = 0
        self._asr_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._digits = ""
        self._digits_phase = CallPhase.LISTENING
        self._collect: CollectDigits | None = None
        self._digit_timer: asyncio.TimerHandle | None = None
        self._pending: _Pending | None = None
        # Recognition of the words so far, begun at the detector's early pause, and its stream:
        # the utterance's own decode if the caller stays quiet until its end (`_early_decode`).
        self._early: tuple[asyncio.Task[Transcript | None], RecognitionStream] | None = None
        self._breath: RecognitionStream | None = None  # the words up to the last breath
        self._judged: _Pending | None = None
        self._carry: tuple[np.ndarray, CallPhase] | None = None
        self._speech_phase = CallPhase.LISTENING
        self._live: LivePartials | None = None
        self._recent: collections.deque[np.ndarray] = collections.deque(maxlen=15)  # 300 ms
        self._transcribing = 0  # utterances being recognised and screened right now
        self.closed = False

    # -- state the session asks about -----------------------------------------------------------
    @property
    def busy(self) -> bool:
        """The caller is speaking, or words of theirs are still being recognised."""
        return (
            self._vad.in_speech
            or self._pending is not None
            or self._transcribing > 0
            or self._asr_lock.locked()
        )

    @property
    def collecting(self) -> CollectDigits | None:
        return self._collect

    def expect_digits(self, collect: CollectDigits) -> None:
        self._collect = collect
        self._digits = ""

    def close(self) -> None:
        self.closed = True
        self._stop_live()
        if self._digit_timer is not None:
            self._digit_timer.cancel()
        self._drop_early()
        self._skip_breath()
        for task in list(self._tasks):
            task.cancel()

    # -- audio ------------------------------------------------------------------------------------
    def on_frame(self, pcm: np.ndarray) -> None:
        if self.closed:
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
            elif isinstance(event, SpeechPaused):
                self._early_decode(event)
            elif isinstance(event, SpeechResumed):
                self._early_was_a_breath()
            elif isinstance(event, SpeechEnded):
                self._stop_live()
                self._tentative_end(event)

    def _speech_started(self) -> None:
        if self._pending is not None:
            # The caller only paused: this utterance goes on, so recognise it whole later. The
            # words up to the pause are still screened when they are in (not cancelled): a red
            # flag said before a breath acts then, not once a caller in a panic stops talking.
            superseded = self._pending
            self._carry = (superseded.pcm, superseded.phase)
            superseded.decode.add_done_callback(
                lambda task: self._screen_words_so_far(task, superseded.phase)
            )
            self._pending = None
        else:
            self._speech_phase = self._phase()
        self._on_speech()

    def _with_carry(self, pcm: np.ndarray) -> np.ndarray:
        """The utterance's audio, with what the caller said before a pause she went on after."""
        return pcm if self._carry is None else np.concatenate([self._carry[0], pcm])

    def _start_decode(self, pcm: np.ndarray) -> asyncio.Task[Transcript | None]:
        return self._start_stream(pcm)[0]

    def _start_stream(
        self, pcm: np.ndarray
    ) -> tuple[asyncio.Task[Transcript | None], RecognitionStream]:
        stream = self.recognizer.new_stream(
            hints=self.conversation.hints(self.call),
            answer=self.conversation.expected_answer(self.call),
        )
        return self._loop.create_task(self._decode(stream, pcm)), stream

    def _early_decode(self, paused: SpeechPaused) -> None:
        """Start recognising at the early pause. Whisper decodes a whole utterance in ~250 ms
        here, most of a turn's wait: begun at the early pause rather than the utterance's end,
        the words are in by the time the turn may end. The audio after the early pause is quiet,
        so the result is the utterance's own (if she goes on: `_early_was_a_breath`)."""
        self._drop_early()
        self._skip_breath()  # the words up to this pause include its words
        self._early = self._start_stream(self._with_carry(paused.pcm))

    def _drop_early(self) -> None:
        if self._early is not None:
            self._early[0].cancel()  # never runs if it still waits for the recogniser
            self._early = None

    def _skip_breath(self) -> None:
        if self._breath is not None:
            self._breath.cancel()
            self._breath = None

    def _early_was_a_breath(self) -> None:
        """She went on after the early pause: the words up to it are screened when in, as a
        superseded utterance's are, so that a red flag said before a breath acts then, not
        when a caller in a panic stops talking. If she pauses again before they are in, the
        next decode has them too, and this one is skipped if it has not reached the model
        yet: a call holds the shared recogniser for one of its breaths at a time."""
        if self._early is None:
            return
        (decode, stream), self._early = self._early, None
        self._breath = stream
        phase = self._carry[1] if self._carry is not None else self._speech_phase
        decode.add_done_callback(lambda task: self._screen_words_so_far(task, phase))

    def _tentative_end(self, ended: SpeechEnded) -> None:
        """Start recognising now (or keep the decode begun at the early pause); keep the
        result only if the caller stays quiet."""
        early = self._early[0] if self._early is not None else None
        self._early = None
        self._skip_breath()  # this decode has its words
        pcm = self._with_carry(ended.pcm)
        phase = self._carry[1] if self._carry is not None else self._speech_phase
        self._carry = None
        if early is not None and not ended.forced:
            decode = early
        else:
            if early is not None:
                early.cancel()
            decode = self._start_decode(pcm)
        pending = _Pending(pcm, len(pcm) / 8000, self._loop.time(), phase, decode)
        self._pending = pending
        decode.add_done_callback(lambda _task: self._words_in(pending))
        self._loop.call_later(self._wait_finished, self._short_pause_over, pending)

    def _short_pause_over(self, pending: _Pending) -> None:
        if self._pending is pending and pending.decode.done():
            self._judge(pending)  # else the words, when in, decide

    def _words_in(self, pending: _Pending) -> None:
        if self._pending is pending and self._loop.time() - pending.origin >= self._wait_finished:
            self._judge(pending)  # else the short pause, when over, decides

    def _judge(self, pending: _Pending) -> None:
        """The pause is long enough for finished words: are they finished? (Once per
        utterance: the timer and the words can both arrive in the same loop turn.)"""
        if self.closed or pending.decode.cancelled() or self._judged is pending:
            return
        self._judged = pending
        transcript = pending.decode.result()
        text = transcript.text if transcript is not None else ""
        answer = self.conversation.expected_answer(self.call)
        if not sounds_unfinished(text, answer):
            self._confirm(pending)
            return
        # Wait for the rest of the sentence, but a red flag in what was said acts now.
        self._screen(text, final=False, phase=pending.phase)
        waited = self._loop.time() - pending.origin
        wait = self._wait_spelling if answer == "spelling" else self._wait_unfinished
        self._loop.call_later(max(0.0, wait - waited), self._confirm, pending)

    def _confirm(self, pending: _Pending) -> None:
        if self._pending is not pending or self.closed:
            return
        self._pending = None
        # Counted from now, not from when the task first runs: a hang-up waiting for the
        # caller's last words must never see a gap between "pending" and "transcribing".
        self._transcribing += 1
        task = self._spawn(self._transcribe(pending))
        task.add_done_callback(self._transcribed)

    def _transcribed(self, _task: asyncio.Task[Any]) -> None:
        self._transcribing -= 1

    async def _decode(self, stream: RecognitionStream, pcm: np.ndarray) -> Transcript | None:
        def run() -> Transcript:
            stream.accept(pcm)
            return stream.finish()

        async with self._asr_lock:
            try:
                return await asyncio.to_thread(run)
            except asyncio.CancelledError:
                # The caller went on speaking: if the decode still waits for the shared
                # model, it must not run (the thread itself cannot be cancelled).
                stream.cancel()
                raise
            except Exception:
                log.exception("call %s: recognition failed", self.call.call_id)
                return None

    async def _transcribe(self, pending: _Pending) -> None:
        end = utc_now()
        start = datetime.fromtimestamp(end.timestamp() - pending.seconds, UTC)
        try:
            transcript = await pending.decode
        except asyncio.CancelledError:
            return
        text = transcript.text.strip() if transcript is not None else ""
        if self.closed:
            return
        if not text:
            # The record says she made a sound nobody made out (how long, never what): a
            # supervisor reading "Sorry, I didn't hear anything" sees whether she spoke.
            log.info("call %s: %.1f s of sound held no words", self.call.call_id, pending.seconds)
            heard: dict[str, object] = {
                "seconds": round(pending.seconds, 2),
                "phase": pending.phase.value,
            }
            self._spawn(self.recorder.event(self.call, "no_words", heard))
            self._on_nothing()
            return
        await self.recorder.turn(self.call, "caller", text, start, end)
        screening = time.perf_counter()
        if self._screen(text, final=True, phase=pending.phase):
            return
        screen_ms = (time.perf_counter() - screening) * 1000
        confidence = transcript.confidence if transcript is not None else None
        turn = CallerTurn(text=text, start=start, end=end, confidence=confidence, audio=pending.pcm)
        self._on_utterance(Utterance(turn, pending.origin, self._loop.time(), screen_ms))

    def screen_only(self, pcm: np.ndarray, start: datetime) -> None:
        """Words heard before the conversation began (what the callee said while an outbound
        call decided who had answered): recorded and screened for red flags, never a turn."""
        self._transcribing += 1
        task = self._spawn(self._screen_only(pcm, start))
        task.add_done_callback(self._transcribed)

    async def _screen_only(self, pcm: np.ndarray, start: datetime) -> None:
        stream = self.recognizer.new_stream(hints=(), answer=None)
        transcript = await self._decode(stream, pcm)
        text = transcript.text.strip() if transcript is not None else ""
        if not text or self.closed:
            return
        await self.recorder.turn(self.call, "caller", text, start, utc_now())
        self._screen(text, final=True, phase=CallPhase.LISTENING)

    def _screen(self, text: str, *, final: bool, phase: CallPhase) -> bool:
        """Safety first: True when the words raised a red flag (already handed on)."""
        actions = self.conversation.screen(self.call, text, final, phase)
        if actions:
            self._on_red_flag(actions)
        return bool(actions)

    # -- streaming engines: partial transcripts -------------------------------------------------
    def _start_live(self) -> None:
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
        self._screen_partial(text, self._speech_phase)

    def _screen_partial(self, text: str, phase: CallPhase) -> None:
        if self.closed:
            return
        if self._screen(text, final=False, phase=phase):
            self._spawn(self.recorder.event(self.call, "partial_escalation", {}))

    def _screen_words_so_far(
        self, decode: asyncio.Task[Transcript | None], phase: CallPhase
    ) -> None:
        """The decode of an utterance the caller went on with after a pause: a partial."""
        if decode.cancelled() or decode.exception() is not None:
            return
        transcript = decode.result()
        if transcript is not None and transcript.text.strip():
            self._screen_partial(transcript.text.strip(), phase)

    # -- keypad -----------------------------------------------------------------------------------
    def on_dtmf(self, digit: str, method: str) -> None:
        if self.closed:
            return
        self._spawn(self.recorder.event(self.call, "dtmf", {"digit": digit, "method": method}))
        if not self._digits:
            self._digits_phase = self._phase()
        self._on_digit()
        if self._digit_timer is not None:
            self._digit_timer.cancel()
        collect = self._collect
        wanted = collect is not None or self.conversation.keys_wanted(self.call)
        # "#" ends a keyed answer; among keys nobody asked for it is one more stray key.
        if digit == "#" and wanted and (collect is not None or self._digits):
            self._flush_digits()
            return
        self._digits += digit
        if collect is not None and len(self._digits) >= collect.max_digits:
            self._flush_digits()
            return
        wait = self._digit_timeout if wanted else self._lone_key_wait
        self._digit_timer = self._loop.call_later(wait, self._flush_digits)

    def _flush_digits(self) -> None:
        digits, self._digits = self._digits, ""
        self._collect = None
        if not digits or self.closed:
            return
        if self._screen(digits, final=True, phase=self._digits_phase):
            return
        now = utc_now()
        self._on_utterance(
            Utterance(CallerTurn(digits=digits, start=now, end=now), self._loop.time())
        )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
