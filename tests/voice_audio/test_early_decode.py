"""Recognition starts at the caller's first short pause, not at the end of her utterance.

Whisper needs ~250 ms here for an utterance, most of what a caller waits for an answer. The
utterance detector reports a short pause (100 ms) with the words so far; the hearing starts
recognising them there and keeps that result when she stays quiet until the utterance ends,
or drops it when she goes on. Real espeak-ng speech on a telephone channel, fed in real time
through the real detector and turn-taking; the recogniser is a stand-in that reports how much
audio each decode was given, so that the test sees which decode a turn came from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from clinicline.callflow.echo import EchoConversation
from nlu.triage import TriageEngine
from tests.voice.test_session_partials import caller_input
from voice.asr.base import Transcript
from voice.audio.frames import FRAME_SAMPLES, chunk_frames, silence
from voice.audio.vad import (
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    UtteranceDetector,
    VadConfig,
    VadEvent,
)
from voice.session.inbox import Utterance
from voice.tts.external import EspeakSynthesizer

Render = Callable[[object, str], np.ndarray]


class MeasuringRecognizer:
    """Hears every utterance as the number of samples it was given."""

    name = "measuring-stand-in"
    streaming = False
    sample_rate = 8000

    def __init__(self) -> None:
        self.streams: list[_Measured] = []

    def new_stream(
        self, *, grammar: Sequence[str] | None = None, hints: Sequence[str] = (),
        answer: str | None = None,
    ) -> _Measured:
        stream = _Measured()
        self.streams.append(stream)
        return stream


class _Measured:
    def __init__(self) -> None:
        self.samples = 0
        self.cancelled = False

    def accept(self, pcm: np.ndarray) -> str | None:
        self.samples += len(pcm)
        return None

    def finish(self) -> Transcript:
        return Transcript(f"heard {self.samples} samples", 0.9, self.samples / 8000, 0.0)

    def cancel(self) -> None:
        self.cancelled = True


def _events(config: VadConfig, audio: np.ndarray) -> list[VadEvent]:
    detector = UtteranceDetector(config)
    return [e for frame in chunk_frames(audio) for e in detector.push(frame)] + detector.flush()


def _words(espeak: EspeakSynthesizer, phone_speech: Render, text: str) -> np.ndarray:
    """The words without the voice's own silence, whole frames, so the gaps are ours."""
    pcm = phone_speech(espeak, text)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 300)
    pcm = pcm[loud[0] : loud[-1] + 1]
    return pcm[: len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES]


@pytest.fixture(scope="module")
def request_words(espeak: EspeakSynthesizer, phone_speech: Render) -> np.ndarray:
    return _words(espeak, phone_speech, "I need a refill of my blood pressure medicine.")


@pytest.fixture(scope="module")
def more_words(espeak: EspeakSynthesizer, phone_speech: Render) -> np.ndarray:
    return _words(espeak, phone_speech, "The pharmacy is on Main Street.")


def test_the_detector_reports_the_words_so_far_at_the_early_pause(
    request_words: np.ndarray,
) -> None:
    config = VadConfig(hangover_ms=250, early_pause_ms=100)
    events = _events(config, np.concatenate([silence(0.5), request_words, silence(1.0)]))
    kinds = [type(e) for e in events]
    assert kinds[0] is SpeechStarted and kinds[-1] is SpeechEnded, kinds
    assert SpeechPaused in kinds
    paused = [e for e in events if isinstance(e, SpeechPaused)][-1]
    ended = events[-1]
    assert isinstance(ended, SpeechEnded)
    # The same utterance, less the end of its tail: what is left is the quiet after the words.
    head = ended.pcm[: len(paused.pcm)]
    assert np.array_equal(head, paused.pcm)
    assert len(ended.pcm) - len(paused.pcm) == (config.tail_ms - config.early_pause_ms) * 8
    assert np.abs(ended.pcm[len(paused.pcm) :].astype(np.int32)).max() < 300


def test_a_pause_shorter_than_the_end_reports_paused_then_resumed(
    request_words: np.ndarray, more_words: np.ndarray
) -> None:
    gap = silence(0.16)
    audio = np.concatenate([silence(0.5), request_words, gap, more_words, silence(1.0)])
    events = _events(VadConfig(hangover_ms=250, early_pause_ms=100), audio)
    kinds = [type(e) for e in events]
    assert kinds.count(SpeechEnded) == 1  # one utterance: the gap is shorter than its end
    # Every early pause but the last is followed by the caller speaking again.
    pauses = [i for i, k in enumerate(kinds) if k is SpeechPaused]
    assert len(pauses) >= 2
    assert all(kinds[i + 1] is SpeechResumed for i in pauses[:-1]), kinds
    assert kinds[pauses[-1] + 1] is SpeechEnded


def test_without_an_early_pause_the_detector_reports_start_and_end_only(
    request_words: np.ndarray,
) -> None:
    events = _events(VadConfig(hangover_ms=250), np.concatenate([request_words, silence(1.0)]))
    assert not any(isinstance(e, SpeechPaused | SpeechResumed) for e in events)


def test_long_pause_mode_has_no_early_pause(request_words: np.ndarray) -> None:
    detector = UtteranceDetector(VadConfig(early_pause_ms=100), long_pause=True)
    audio = np.concatenate([request_words, silence(2.0)])
    events = [e for frame in chunk_frames(audio) for e in detector.push(frame)]
    assert not any(isinstance(e, SpeechPaused) for e in events)


async def _hear(audio: np.ndarray, recognizer: MeasuringRecognizer) -> list[Utterance]:
    """Feed the audio at a phone line's pace, then a second of quiet; the turns handed on."""
    loop = asyncio.get_running_loop()
    handed_on: list[Utterance] = []
    hearing = caller_input(
        "early-decode", EchoConversation(TriageEngine.default()), recognizer,
        on_utterance=handed_on.append, vad=VadConfig(hangover_ms=250, early_pause_ms=100),
    )  # fmt: skip
    audio = np.concatenate([audio, silence(1.0)])
    started = loop.time()
    try:
        for i, frame in enumerate(chunk_frames(audio)):
            hearing.on_frame(frame.pcm)
            await asyncio.sleep(max(0.0, started + (i + 1) * 0.02 - loop.time()))
        for _ in range(50):
            if handed_on:
                break
            await asyncio.sleep(0.1)
    finally:
        hearing.close()
    return handed_on


async def test_a_caller_who_stays_quiet_gets_the_decode_begun_at_the_early_pause(
    request_words: np.ndarray,
) -> None:
    recognizer = MeasuringRecognizer()
    handed_on = await _hear(np.concatenate([silence(0.5), request_words]), recognizer)
    assert len(handed_on) == 1
    # One decode for the utterance: the one begun at the early pause, whose words were the turn.
    assert len(recognizer.streams) == 1, [s.samples for s in recognizer.streams]
    assert handed_on[0].turn.text == f"heard {recognizer.streams[0].samples} samples"
    # The turn carries the utterance's whole audio (kept for hearing a name again).
    assert handed_on[0].turn.audio is not None
    assert len(handed_on[0].turn.audio) == recognizer.streams[0].samples + 100 * 8


async def test_a_caller_who_goes_on_after_the_early_pause_is_heard_whole(
    request_words: np.ndarray, more_words: np.ndarray
) -> None:
    recognizer = MeasuringRecognizer()
    audio = np.concatenate([silence(0.5), request_words, silence(0.16), more_words])
    handed_on = await _hear(audio, recognizer)
    assert len(handed_on) == 1
    whole = max(s.samples for s in recognizer.streams)
    # The words before the short gap were not taken for the turn: both parts were heard.
    assert whole > len(request_words) + len(more_words)
    assert handed_on[0].turn.text == f"heard {whole} samples"
