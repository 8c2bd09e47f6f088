"""A red flag in a partial transcript interrupts the bot mid-sentence.

No English Vosk model can be installed here, so the streaming recogniser is a stand-in that
"hears" a fixed partial once enough audio has arrived; the VAD, the session, the triage
engine and the playback queue are the real ones, fed with real synthesised speech.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

import numpy as np

from clinicline.callflow.echo import EchoConversation
from nlu.triage import TriageEngine
from voice.asr.base import SpeechRecognizer, Transcript
from voice.audio.frames import FRAME_SAMPLES, chunk_frames
from voice.audio.vad import VadConfig
from voice.session.actions import Action, CallInfo, CallOutcome, Hangup, PlayPrompt, Say
from voice.session.call_session import CallSession, SessionConfig
from voice.session.conversation import Conversation
from voice.session.hearing import CallerInput
from voice.session.inbox import Utterance
from voice.session.phase import CallPhase
from voice.tts.piper import PiperSynthesizer


class StreamingRecognizerStandIn:
    """Reports `partial` once it has been fed `after_seconds` of audio."""

    name = "streaming-stand-in"
    streaming = True
    sample_rate = 8000

    def __init__(self, partial: str, after_seconds: float) -> None:
        self.partial, self.after = partial, int(after_seconds * 8000)

    def new_stream(
        self,
        *,
        grammar: Sequence[str] | None = None,
        hints: Sequence[str] = (),
        answer: str | None = None,
    ) -> _Stream:
        return _Stream(self)


class _Stream:
    def __init__(self, owner: StreamingRecognizerStandIn) -> None:
        self.owner, self.samples = owner, 0

    def accept(self, pcm: np.ndarray) -> str | None:
        self.samples += len(pcm)
        return self.owner.partial if self.samples >= self.owner.after else None

    def finish(self) -> Transcript:
        return Transcript(self.owner.partial, 0.9, self.samples / 8000, 0.0)

    def cancel(self) -> None:
        pass


class QueueMedia:
    """The playback queue of a call, drained at real time by a task (as pjmedia would); keeps
    every frame it sent."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.sent: list[np.ndarray] = []
        self.cleared = 0
        self.first_samples: list[int] = []  # what was queued, in order

    def enqueue(self, pcm: np.ndarray) -> int:
        self.first_samples.append(int(pcm[0]))
        frames = [f.pcm for f in chunk_frames(np.asarray(pcm, dtype=np.int16))]
        self.frames.extend(frames)
        return len(frames)

    def clear(self) -> int:
        dropped, self.frames = len(self.frames), []
        self.cleared += 1
        return dropped

    @property
    def queued_frames(self) -> int:
        return len(self.frames)

    async def drain(self) -> None:
        while True:
            if self.frames:
                self.sent.append(self.frames.pop(0))
            await asyncio.sleep(0.02)


class MemoryRecorder:
    def __init__(self) -> None:
        self.turns: list[tuple[str, str]] = []
        self.events: list[str] = []

    async def turn(
        self, call: CallInfo, speaker: str, text: str, start: datetime, end: datetime
    ) -> None:
        self.turns.append((speaker, text))

    async def event(self, call: CallInfo, kind: str, data: dict[str, object]) -> None:
        self.events.append(kind)

    async def closed(self, call: CallInfo, outcome: CallOutcome, disposition: str | None) -> None:
        self.events.append("closed")


def stand_in_session(
    call_id: str,
    conversation: Conversation,
    recognizer: SpeechRecognizer,
    synthesizer: PiperSynthesizer,
    *,
    hangup: Callable[[], None] = lambda: None,
    config: SessionConfig | None = None,
) -> tuple[CallSession, MemoryRecorder, QueueMedia]:
    """A call session on a playback queue stand-in, with tone prompts, its recorder kept."""
    recorder, media = MemoryRecorder(), QueueMedia()
    session = CallSession(
        CallInfo(call_id, None, datetime.now()),
        conversation=conversation,
        recorder=recorder,
        media=media,
        recognizer=recognizer,
        synthesizer=synthesizer,
        prompts=TonePrompts(),
        hangup=hangup,
        config=config or SessionConfig(silence_timeout=30),
    )
    return session, recorder, media


def caller_input(
    call_id: str,
    conversation: Conversation,
    recognizer: SpeechRecognizer,
    *,
    recorder: MemoryRecorder | None = None,
    on_utterance: Callable[[Utterance], None] = lambda _u: None,
    on_red_flag: Callable[[Sequence[Action]], None] = lambda _a: None,
    vad: VadConfig | None = None,
    digit_timeout: float = 3.0,
    lone_key_wait: float = 0.6,
) -> CallerInput:
    """A caller's hearing with the product's turn-taking (the detector's end at 250 ms, turns
    over at 350 ms, 900 ms when the words hang; `vad` for another detector), listening, for
    the tests that feed it frames."""
    return CallerInput(
        CallInfo(call_id, None, datetime.now()),
        conversation=conversation,
        recorder=recorder or MemoryRecorder(),
        recognizer=recognizer,
        vad=vad or SessionConfig().vad,
        turn=SessionConfig().turn,
        digit_timeout=digit_timeout,
        lone_key_wait=lone_key_wait,
        phase=lambda: CallPhase.LISTENING,
        on_speech=lambda: None,
        on_digit=lambda: None,
        on_utterance=on_utterance,
        on_red_flag=on_red_flag,
    )


class TonePrompts:
    def audio(self, name: str) -> np.ndarray:
        return np.full(8000, 1000 if name == "emergency" else 500, dtype=np.int16)

    def text(self, name: str) -> str:
        return name


class NoticeFirst(EchoConversation):
    """Opens with a long notice that callers may not interrupt."""

    async def start(self, call: CallInfo) -> Sequence[PlayPrompt | Say]:
        return [Say("This call may be recorded. " * 8, barge_in=False)]


async def test_emergent_partial_interrupts_the_bot_mid_sentence_even_without_barge_in(
    piper: PiperSynthesizer,
) -> None:
    session, recorder, media = stand_in_session(
        "partial-test", NoticeFirst(TriageEngine.default()),
        StreamingRecognizerStandIn("I have crushing chest pain", after_seconds=0.8), piper,
    )  # fmt: skip
    drain = asyncio.get_running_loop().create_task(media.drain())
    run = asyncio.get_running_loop().create_task(session.run())
    try:
        while media.queued_frames == 0:  # the notice has started playing
            await asyncio.sleep(0.02)
        speech = np.concatenate(
            list(piper.synthesize("I have crushing chest pain and I feel faint"))
        )
        caller: Iterator = chunk_frames(np.concatenate([speech, np.zeros(8000, dtype=np.int16)]))
        escalated_at = None
        for fed, frame in enumerate(caller, start=1):
            session.on_frame(frame.pcm)
            await asyncio.sleep(0.02)
            if escalated_at is None and "partial_escalation" in recorder.events:
                escalated_at = fed
        speech_frames = len(speech) // FRAME_SAMPLES
        assert escalated_at is not None and escalated_at < speech_frames, (
            escalated_at,
            speech_frames,
        )
        await asyncio.sleep(0.3)
        assert media.cleared >= 1  # the notice was cut off although barge-in was off
        assert 1000 in media.first_samples  # the emergency prompt was queued next
        notice = [t for speaker, t in recorder.turns if speaker == "bot"][0]
        assert notice.endswith("[interrupted]"), recorder.turns
    finally:
        run.cancel()  # the session says goodbye while the queue still drains
        await asyncio.gather(run, return_exceptions=True)
        drain.cancel()
        await asyncio.gather(drain, return_exceptions=True)


class WholeUtteranceStandIn:
    """Non-streaming recogniser stand-in: every utterance is heard as `text`."""

    name = "utterance-stand-in"
    streaming = False
    sample_rate = 8000

    def __init__(self, text: str) -> None:
        self.text = text

    def new_stream(
        self,
        *,
        grammar: Sequence[str] | None = None,
        hints: Sequence[str] = (),
        answer: str | None = None,
    ) -> _Utterance:
        return _Utterance(self.text)


class _Utterance:
    def __init__(self, text: str) -> None:
        self.text, self.samples = text, 0

    def accept(self, pcm: np.ndarray) -> str | None:
        self.samples += len(pcm)
        return None

    def finish(self) -> Transcript:
        return Transcript(self.text, 0.9, self.samples / 8000, 0.0)

    def cancel(self) -> None:
        pass


class GoodbyeAtOnce(EchoConversation):
    """Says goodbye (no barge-in) and hangs up straight after the greeting."""

    async def start(self, call: CallInfo) -> Sequence[PlayPrompt | Say | Hangup]:
        return [Say("Thank you for calling. Goodbye. " * 3, barge_in=False), Hangup("done")]


async def test_a_red_flag_said_over_the_goodbye_calls_the_hang_up_off(
    piper: PiperSynthesizer,
) -> None:
    hung_up: list[bool] = []
    session, recorder, media = stand_in_session(
        "last-words", GoodbyeAtOnce(TriageEngine.default()),
        WholeUtteranceStandIn("wait my husband just collapsed and is not breathing"), piper,
        hangup=lambda: hung_up.append(True),
    )  # fmt: skip
    drain = asyncio.get_running_loop().create_task(media.drain())
    run = asyncio.get_running_loop().create_task(session.run())
    try:
        while media.queued_frames == 0:  # the goodbye has started playing
            await asyncio.sleep(0.02)
        speech = np.concatenate(list(piper.synthesize("wait, my husband just collapsed")))
        for frame in chunk_frames(np.concatenate([speech, np.zeros(8000, dtype=np.int16)])):
            session.on_frame(frame.pcm)
            await asyncio.sleep(0.02)
        for _ in range(100):  # the emergency prompt follows once the words are screened
            if 1000 in media.first_samples:
                break
            await asyncio.sleep(0.05)
        assert 1000 in media.first_samples, recorder.turns
        assert not hung_up and "closed" not in recorder.events, recorder.events
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        drain.cancel()
        await asyncio.gather(drain, return_exceptions=True)
