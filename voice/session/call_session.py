"""One call's media path as a chain, and the run loop that answers the caller.

audio in -> `CallerInput` (VAD -> ASR -> screen) -> conversation -> TTS -> audio out.

Everything here runs on the asyncio thread. Audio frames arrive from the media tap 50 times
a second; recognition and synthesis run in worker threads so the loop keeps up.

Safety comes first, at every moment of the call. What the bot is doing in answer to the
caller — speaking, collecting digits, holding them for a transfer, ringing an agent — runs as
one *activity* task. A red flag cancels that activity at once (whatever it is waiting on) and
the emergency actions run next; only an activity that can take the flag in place (a nurse
already on the line) keeps going, through `red_flag_hook`.

The caller's voice over the bot's pauses it at once (`_Held`); her words then say whether she
took the turn (the bot stops for good) or only acknowledged or made a noise (it goes on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from nlu.backchannel import is_backchannel, no_words
from voice.asr.base import SpeechRecognizer
from voice.audio.frames import FRAME_SAMPLES, SAMPLE_RATE, loud_frames, without_leading_quiet
from voice.audio.vad import VadConfig
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
from voice.session.hearing import CallerInput, utc_now
from voice.session.inbox import Ended, Inbox, Interrupt, Utterance
from voice.session.phase import PROMPT_PHASES, CallPhase
from voice.session.turn_end import TurnEndConfig
from voice.tts.base import split_for_streaming

log = logging.getLogger(__name__)

# How long a cancelled activity gets to tidy up (hang up a consult leg, withdraw an offer).
_ACTIVITY_GRACE = 5.0


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


# Offered a red flag's actions; True when the running activity takes care of it in place.
RedFlagHook = Callable[[Sequence[Action]], bool]

# An acknowledgement ("mm-hmm", "okay") while the bot has at least this much left to say lets
# it go on; nearer the end of its words, "yeah" or "okay" answers what it is asking.
BACKCHANNEL_MIN_LEFT_S = 1.0
# Resuming after a pause, the bot goes back to the last quiet moment (a word's edge) within
# this much of what it had said, so the caller hears the word she spoke over again.
RESUME_REWIND_S = 1.0
# A pause nobody's words explain (the hearing is idle and handed nothing on) ends this late.
HELD_GIVE_UP_S = 1.0


@dataclass
class _RenderedAhead:
    """The first piece of the reply said next, being rendered in a worker thread."""

    text: str
    pieces: list[str]  # the text cut as it is spoken; the task renders the first
    task: asyncio.Task[list[np.ndarray] | None]

    def drop(self) -> None:
        """Not said after all (another reply came, or the call ended): nobody waits for it.
        The thread finishes its piece; only the task is let go."""
        self.task.cancel()


@dataclass
class _Held:
    """The bot's words, stopped because the caller made a sound, until her words say whether
    she took the turn (stop for good) or not (go on)."""

    since: float  # loop time of the pause
    said: np.ndarray  # what had been sent before the pause (to go back a word)
    unsaid: np.ndarray  # what had been queued and not yet sent
    later: list[np.ndarray]  # what the voice made meanwhile

    @property
    def left_seconds(self) -> float:
        return (len(self.unsaid) + sum(len(c) for c in self.later)) / SAMPLE_RATE

    def resumed_audio(self) -> np.ndarray:
        """From the last quiet frame within `RESUME_REWIND_S` before the pause (or from that
        far back when there is none), to the end of what there is to say."""
        back = min(len(self.said), int(RESUME_REWIND_S * SAMPLE_RATE)) // FRAME_SAMPLES
        recent = self.said[len(self.said) - back * FRAME_SAMPLES :]
        loud = set(loud_frames(recent, 100.0).tolist())
        quiet = [i for i in range(back) if i not in loud]
        start = quiet[-1] if quiet else 0
        return np.concatenate([recent[start * FRAME_SAMPLES :], self.unsaid, *self.later])


def _whole_frames(pcm: np.ndarray) -> np.ndarray:
    """PCM padded with silence to whole frames (what the media queue sends)."""
    pad = (-len(pcm)) % FRAME_SAMPLES
    return np.concatenate([pcm, np.zeros(pad, dtype=np.int16)]) if pad else pcm


@dataclass(frozen=True)
class SessionConfig:
    silence_timeout: float = 8.0
    max_call_seconds: float = 900.0
    digit_timeout: float = 3.0  # between keys of an answer the conversation wants keyed
    # Between keys nobody asked for (Conversation.keys_wanted): long enough to keep "*#9"
    # pressed in a row together, short enough that 0 reaches a person without a wait.
    lone_key_wait: float = 0.6
    # Recognition starts after a 250 ms pause (`early_pause_ms`: sooner), and the turn ends at
    # 350 ms when the words are in and finished, at 900 ms when they hang
    # (voice.session.turn_end).
    vad: VadConfig = VadConfig(hangover_ms=250)
    turn: TurnEndConfig = TurnEndConfig()
    # The caller's voice pauses the bot, and an acknowledgement or a sound with no words lets
    # it go on (`_Held`); False: her voice stops it for good, as a keypress does.
    acknowledgements_go_on: bool = False


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
        self._inbox = Inbox()
        self.input = CallerInput(
            call,
            conversation=conversation,
            recorder=recorder,
            recognizer=recognizer,
            vad=self.config.vad,
            turn=self.config.turn,
            digit_timeout=self.config.digit_timeout,
            lone_key_wait=self.config.lone_key_wait,
            phase=lambda: self.phase,
            on_speech=self._caller_spoke,
            on_digit=self._caller_keyed,
            on_utterance=self._heard,
            on_red_flag=self._red_flag,
            on_nothing=self._heard_nothing,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._writes: set[asyncio.Task[None]] = set()  # record writes: never cancelled
        self._interrupt = asyncio.Event()
        self._speaking = False
        self._barge_in = True
        self._sent: list[np.ndarray] = []  # the audio queued so far by the playing words
        self._chunks_out = 0  # chunks the playing (or last played) words have queued
        self._held: _Held | None = None  # the playing words, paused by the caller's voice
        self._playing: CallPhase | None = None  # the phase of the prompt playing now
        self._closing = False  # the actions under way end with a hang-up
        self._phases: list[CallPhase] = []  # set by whoever holds the call (a transfer)
        self._activity: asyncio.Task[None] | None = None
        self._activity_is_emergency = False
        # The next reply's first piece, rendered while the one before plays out (see `_say`).
        self._ahead: _RenderedAhead | None = None
        self._latency_origin: float | None = None
        self._timing: dict[str, object] = {}
        self.ended = False
        self.caller_gone = asyncio.Event()
        self._referred: str | None = None  # set once a REFER handed the caller over
        # Set when screening raised a red flag; cleared once its actions start.
        self.flag_raised = asyncio.Event()
        # True while a red flag cancels the activity: a transfer being cancelled reads it to
        # tell an escalation (hand its offer back, the emergent transfer follows) from a stop.
        self.escalating = False
        # While set, a red flag is offered to it first (a nurse already on the line).
        self.red_flag_hook: RedFlagHook | None = None
        self.latencies: list[float] = []
        self.barge_ins = 0

    # -- where the call stands -----------------------------------------------------------------
    @property
    def phase(self) -> CallPhase:
        if self._playing is CallPhase.EMERGENCY:
            return CallPhase.EMERGENCY
        if self._closing:
            return CallPhase.GOODBYE
        if self._phases:
            return self._phases[-1]
        if self._playing is not None:
            return self._playing
        context = self.conversation.phase(self.call)
        if context is not None:
            return context
        return CallPhase.PROMPT if self._speaking else CallPhase.LISTENING

    @contextlib.contextmanager
    def in_phase(self, phase: CallPhase) -> Iterator[None]:
        """For handlers that hold the call (a transfer): the call is in `phase` meanwhile."""
        self._phases.append(phase)
        try:
            yield
        finally:
            self._phases.remove(phase)

    # -- inputs (asyncio thread) ---------------------------------------------------------------
    def on_frame(self, pcm: np.ndarray) -> None:
        """Caller audio from the media tap."""
        if not self.ended:
            self.input.on_frame(pcm)

    def on_dtmf(self, digit: str, method: str) -> None:
        if not self.ended:
            self.input.on_dtmf(digit, method)

    def on_hangup(self, code: int, reason: str) -> None:
        # Media stops with the dialog: nothing will drain the playback queue any more.
        self.caller_gone.set()
        self._stop_playback()
        if self._referred is not None:  # our leg's BYE after a REFER: not the caller leaving
            self._inbox.put(Ended("referred", self._referred))
            return
        self._inbox.put(Ended("caller", f"{code} {reason}"))

    def on_referred(self, status: int) -> None:
        """The caller was handed to an agent by REFER: the call leaves this worker.

        The session ends with `hung_up_by="referred"` (the BYE of our leg that follows
        ends it the same way) and the record closes as usual.
        """
        self._referred = f"REFER with Replaces accepted ({status})"
        self._stop_playback()
        self._inbox.put(Ended("referred", self._referred))

    def _caller_keyed(self) -> None:
        """A keypress (or, unless acknowledgements go on, her voice) stops the bot for good."""
        if self._speaking and self._barge_in:
            self.barge_ins += 1
            self._stop_playback()

    def _caller_spoke(self) -> None:
        """The caller's voice over the bot's: the bot falls quiet at once and waits for her
        words, which say whether she took the turn (`_heard`) or only acknowledged, coughed or
        was a noise on the line (`_go_on`)."""
        if not self.config.acknowledgements_go_on:
            self._caller_keyed()
            return
        if not (self._speaking and self._barge_in) or self._held is not None:
            return
        queued = self.media.queued_frames * FRAME_SAMPLES
        self.media.clear()
        sent = np.concatenate(self._sent) if self._sent else np.zeros(0, dtype=np.int16)
        cut = max(0, len(sent) - queued)
        self._held = _Held(self._loop.time(), sent[:cut], sent[cut:], [])
        self._loop.call_later(HELD_GIVE_UP_S, self._check_held, self._held)

    def _heard(self, utterance: Utterance) -> None:
        held = self._held
        if held is not None and utterance.turn.digits is None:
            text = utterance.turn.text or ""
            if no_words(text):
                self._go_on(held, "noise")
                return
            if is_backchannel(text) and held.left_seconds >= BACKCHANNEL_MIN_LEFT_S:
                self._go_on(held, "acknowledgement")
                return
        if held is not None:
            self.barge_ins += 1
            self._stop_playback()
        self._inbox.put(utterance)

    def _heard_nothing(self) -> None:
        """The caller's sound held no words (a cough, a door, line noise)."""
        if self._held is not None:
            self._go_on(self._held, "noise")

    def _check_held(self, held: _Held) -> None:
        if self._held is not held:
            return
        if self.input.busy:  # she is still speaking, or her words are being recognised
            self._loop.call_later(HELD_GIVE_UP_S, self._check_held, held)
            return
        self._go_on(held, "nothing heard")

    def _go_on(self, held: _Held, reason: str) -> None:
        """The caller did not take the turn: the bot says the rest, from a word back."""
        if self._held is not held:
            return
        self._held = None
        audio = held.resumed_audio()
        self._sent = [audio]
        self.media.enqueue(audio)
        paused_ms = round((self._loop.time() - held.since) * 1000)
        self._spawn(self.recorder.event(
            self.call, "bot_went_on", {"after": reason, "paused_ms": paused_ms}
        ))  # fmt: skip

    def _red_flag(self, actions: Sequence[Action]) -> None:
        """Screening raised actions: interrupt whatever is going on and carry them out."""
        if self.ended:
            return
        hook = self.red_flag_hook
        if hook is not None and hook(actions):
            return  # taken in place: the nurse on the line hears of it, the bot stays quiet
        if self.phase is CallPhase.BRIDGED:
            # A person is on the line: never cut them off; the flag is in the record.
            log.warning("call %s: red flag on a bridged call with no handler", self.call.call_id)
            return
        self.flag_raised.set()
        self._stop_playback()
        activity = self._activity
        if activity is not None and not activity.done() and not self._activity_is_emergency:
            self.escalating = True
            activity.cancel()
        self._inbox.put(Interrupt(actions))

    @property
    def interruptible(self) -> bool:
        """Whether `interrupt` would be taken now: never over a red flag's path or a person
        on the line."""
        return not (
            self.ended
            or self.flag_raised.is_set()
            or self._activity_is_emergency
            or self.phase in (CallPhase.EMERGENCY, CallPhase.BRIDGED)
        )

    def interrupt(self, actions: Sequence[Action]) -> bool:
        """Something heard on the line that is not words changes the call (a voicemail box's
        late beep): stop the bot's prompt and carry ACTIONS out next; False when not taken
        (see `interruptible`)."""
        if not self.interruptible:
            return False
        self._stop_playback()
        activity = self._activity
        if activity is not None and not activity.done():
            activity.cancel()
        self._inbox.put(Interrupt(actions))
        return True

    # -- internals -----------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _stop_playback(self) -> None:
        self._held = None
        self.media.clear()
        self._interrupt.set()

    # -- output --------------------------------------------------------------------------------
    async def _play(
        self,
        chunks: Iterator[np.ndarray] | list[np.ndarray],
        barge_in: bool,
        all_queued: Callable[[], None] | None = None,
    ) -> bool:
        """Play audio chunks; returns False when the caller barged in or left. `all_queued` is
        called once every chunk is in the playback queue, while it still plays."""
        self._interrupt.clear()
        self._speaking, self._barge_in = True, barge_in
        iterator = iter(chunks)
        first = True
        self._chunks_out = 0
        self._sent, self._held = [], None
        try:
            while not self._stopped():
                chunk = await asyncio.to_thread(next, iterator, None)
                if chunk is None or self._interrupt.is_set():
                    break
                if first:
                    # Voices open with 40-60 ms of quiet (Piper, measured): the caller waits
                    # for the bot's first word, not for that.
                    chunk, first = without_leading_quiet(chunk), False
                if self.config.acknowledgements_go_on:
                    # Kept in whole frames, so that what was sent lines up with the queue's
                    # count of frames left when she speaks over it.
                    chunk = _whole_frames(chunk)
                    if self._held is not None:
                        self._held.later.append(chunk)  # paused: said if she does not take the turn
                        continue
                    self._sent.append(chunk)
                self.media.enqueue(chunk)
                self._chunks_out += 1
                self._note_first_audio()
            if all_queued is not None and not self._stopped():
                all_queued()
            # Once the caller is gone nothing drains the queue: never wait on it then.
            while (self.media.queued_frames or self._held is not None) and not self._stopped():
                await asyncio.sleep(0.02)
        finally:
            self._speaking = False
            self._sent, self._held = [], None
        return not (self._interrupt.is_set() or self.caller_gone.is_set())

    def _stopped(self) -> bool:
        return self._interrupt.is_set() or self.ended or self.caller_gone.is_set()

    def _note_first_audio(self) -> None:
        if self._latency_origin is not None:
            now = self._loop.time()
            self.latencies.append(now - self._latency_origin)
            timing = {**self._timing, "first_audio_ms": round((now - self._latency_origin) * 1000)}
            self._spawn(self.recorder.event(self.call, "turn_timing", timing))
            self._latency_origin = None

    async def _say(self, text: str, barge_in: bool, then: str | None = None) -> None:
        """Say TEXT; THEN is the reply said right after it, whose first piece is rendered
        while TEXT's last audio plays: rendered only after it, the pause between the two
        (over a second on a loaded machine) was taken by callers for their turn."""
        start = utc_now()
        if self.caller_gone.is_set():  # nobody left to hear it: not even rendered
            self._take_ahead(None)
            return
        ahead = self._take_ahead(text)
        rendered: list[np.ndarray] | None = None
        if ahead is not None:
            pieces = ahead.pieces
            rendered = await ahead.task
        else:
            pieces = split_for_streaming(text)
        chunks = (
            chunk
            for n, piece in enumerate(pieces)
            for chunk in (
                rendered if n == 0 and rendered is not None else self.synthesizer.synthesize(piece)
            )
        )
        finished = False
        try:
            finished = await self._play(
                chunks, barge_in, None if then is None else lambda: self._render_ahead(then)
            )
        finally:
            if finished or self._chunks_out:
                self._bot_turn(text, finished, start)
            else:  # cut off before its first word: the caller never heard it
                log.info("call %s: a reply was cut off before it began", self.call.call_id)

    def _take_ahead(self, text: str | None) -> _RenderedAhead | None:
        """The reply rendered ahead, if it is TEXT; any other (all of them for None) is let go."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.text != text:
            ahead.drop()
            return None
        return ahead

    def _render_ahead(self, text: str) -> None:
        pieces = split_for_streaming(text)
        if not pieces:
            return

        def render() -> list[np.ndarray] | None:
            try:
                return list(self.synthesizer.synthesize(pieces[0]))
            except Exception:  # rendered again, and its failure met, when it is said
                log.exception("call %s: rendering the next reply ahead failed", self.call.call_id)
                return None

        task: asyncio.Task[list[np.ndarray] | None] = self._loop.create_task(
            asyncio.to_thread(render)
        )
        self._ahead = _RenderedAhead(text, pieces, task)

    def _bot_turn(self, text: str, finished: bool, start: datetime) -> None:
        """Into the transcript, also when a red flag or a stop cut the words off (so from a
        `finally`, as a task of its own that the end of the call does not cancel)."""
        said = text if finished else text + " [interrupted]"
        write = self._loop.create_task(self.recorder.turn(self.call, "bot", said, start, utc_now()))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)

    async def _play_prompt(self, name: str, barge_in: bool) -> None:
        start = utc_now()
        outcome = "interrupted"
        self._playing = PROMPT_PHASES.get(name)
        try:
            finished = await self._play([self.prompts.audio(name)], barge_in)
            if finished:
                outcome = "completed"
            elif self.caller_gone.is_set():
                outcome = "caller_hung_up"
        finally:
            self._playing = None
            end = utc_now()
            if self.caller_gone.is_set() and outcome == "interrupted":
                outcome = "caller_hung_up"
            # Told whatever happened, also when a red flag or a stop cut the prompt off:
            # the record says what the caller really heard.
            self.conversation.played(self.call, name, start, end, outcome)
            self._bot_turn(self.prompts.text(name), outcome == "completed", start)

    async def next_input(self, timeout: float) -> CallerTurn | None:
        """The caller's next turn (words or keypad digits) for a handler that holds the call
        outside the run loop, such as a transfer asking "hold or call back?".

        None when nothing came within `timeout` or the caller hung up; other events stay
        queued for the run loop (a red flag cancels the handler itself).
        """
        if self.caller_gone.is_set() or self.flag_raised.is_set():
            return None
        event = await self._inbox.get(timeout, accept=lambda e: isinstance(e, Utterance))
        return event.turn if isinstance(event, Utterance) else None

    async def perform(self, actions: Sequence[Action]) -> None:
        """Carry out a conversation's actions in order."""
        closing = any(isinstance(a, Hangup) for a in actions)
        self._closing = self._closing or closing
        try:
            for n, action in enumerate(actions):
                if self.ended:
                    return
                following = actions[n + 1] if n + 1 < len(actions) else None
                await self._perform_one(action, following)
        finally:
            if closing and not self.ended:
                self._closing = False

    async def _perform_one(self, action: Action, following: Action | None = None) -> None:
        if isinstance(action, Say):
            then = following.text if isinstance(following, Say) else None
            await self._say(action.text, action.barge_in, then)
        elif isinstance(action, PlayPrompt):
            await self._play_prompt(action.name, action.barge_in)
        elif isinstance(action, CollectDigits):
            self.input.expect_digits(action)
        elif isinstance(action, Transfer):
            await self.recorder.event(
                self.call, "transfer", {"queue": action.queue, "emergent": action.emergent}
            )
            if self._transfer is not None:
                await self._transfer.transfer(self, action)
        elif isinstance(action, Hangup):
            await self._hear_out_last_words()
            await self._finish("bot", action.reason)

    async def _hear_out_last_words(self, limit: float = 5.0) -> None:
        """Before the bot hangs up, hear out what the caller is still saying.

        Someone who says "he just collapsed" over the goodbye must not be cut off: wait (up
        to `limit` seconds) until words under way are recognised and screened. A red flag
        among them cancels this activity, hang-up included.
        """
        deadline = self._loop.time() + limit
        while (
            not self.caller_gone.is_set()
            and self._loop.time() < deadline
            and self.input.busy
        ):
            await asyncio.sleep(0.05)

    async def _finish(self, by: str, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.media.clear()
        if by != "caller":
            self._hangup()
        self.input.close()
        for task in list(self._tasks):
            task.cancel()
        self._take_ahead(None)
        outcome = CallOutcome(utc_now(), by, reason)
        # Shielded: a cancellation arriving now must not leave the record open.
        await asyncio.shield(self._close_record(outcome))

    async def _close_record(self, outcome: CallOutcome) -> None:
        if self._writes:  # the last words go into the record before it closes
            await asyncio.wait(list(self._writes), timeout=5.0)
        disposition: str | None = None
        try:
            disposition = await self.conversation.finish(self.call, outcome)
        finally:
            await self.recorder.closed(self.call, outcome, disposition)

    # -- the call ------------------------------------------------------------------------------
    async def _carry_out(
        self, work: Coroutine[Any, Any, None], *, emergency: bool = False
    ) -> None:
        """Run one activity; a red flag may cancel it (then its actions are next in line)."""
        task = self._loop.create_task(work, name=f"activity-{self.call.call_id[:8]}")
        self._activity, self._activity_is_emergency = task, emergency
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            # The worker is stopping: let the activity tidy up (a transfer leaves a callback
            # task) before the session says goodbye.
            task.cancel()
            await asyncio.wait([task], timeout=_ACTIVITY_GRACE)
            raise
        finally:
            if self._activity is task:
                self._activity = None
        if task.cancelled():
            return  # a red flag cut it short; its actions wait at the front of the inbox
        error = task.exception()
        if error is not None:
            raise error

    async def _answer(self, event: Utterance) -> None:
        self._latency_origin = event.latency_origin
        started = time.perf_counter()
        actions = await self.conversation.respond(self.call, event.turn)
        # Where a turn's latency goes, measured from the VAD's end of speech.
        recognized = (event.recognized_at or event.latency_origin) - event.latency_origin
        self._timing = {
            "recognized_ms": round(recognized * 1000),
            "screen_ms": round(event.screen_ms, 1) if event.screen_ms is not None else None,
            "dialog_ms": round((time.perf_counter() - started) * 1000),
            "dialog_done_ms": round((self._loop.time() - event.latency_origin) * 1000),
        }
        await self.perform(actions)

    async def _on_interrupt(self, event: Interrupt) -> None:
        self.flag_raised.clear()
        self.escalating = False
        self.media.clear()  # hold audio queued by the cancelled activity must not play first
        # Only the emergent path itself is never cut short by a later flag.
        emergent = any(isinstance(a, Transfer) and a.emergent for a in event.actions)
        await self._carry_out(self.perform(event.actions), emergency=emergent)

    async def run(self) -> None:
        deadline = self._loop.time() + self.config.max_call_seconds
        silences = 0
        try:
            await self._carry_out(self._open())
            while not self.ended:
                if self._loop.time() > deadline:
                    goodbye: list[Action] = [
                        PlayPrompt("goodbye", barge_in=False),
                        Hangup("max_duration"),
                    ]
                    await self._carry_out(self.perform(goodbye))
                    continue
                timeout = self.config.silence_timeout
                collecting = self.input.collecting
                if collecting is not None:
                    timeout = max(timeout, collecting.timeout)
                event = await self._inbox.get(timeout)
                if event is None:
                    if self.input.busy:
                        continue
                    silences += 1
                    await self._carry_out(self._silence(silences))
                elif isinstance(event, Ended):
                    await self._finish(event.by, event.reason)
                elif isinstance(event, Interrupt):
                    # A caller in danger is never cut off for having talked too long.
                    deadline = max(deadline, self._loop.time() + self.config.max_call_seconds)
                    await self._on_interrupt(event)
                else:
                    silences = 0
                    await self._carry_out(self._answer(event))
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

    async def _open(self) -> None:
        await self.perform(await self.conversation.start(self.call))

    async def _silence(self, count: int) -> None:
        await self.perform(await self.conversation.silence(self.call, count))
