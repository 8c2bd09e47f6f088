"""The utterance detector on silence, line noise and real (synthetic) speech."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from voice.audio.frames import chunk_frames, silence
from voice.audio.vad import SpeechEnded, SpeechStarted, UtteranceDetector, VadConfig, VadEvent
from voice.audio.wav import telephone_channel
from voice.tts.external import EspeakSynthesizer

Render = Callable[[object, str], np.ndarray]


def run(detector: UtteranceDetector, audio: np.ndarray) -> list[VadEvent]:
    events = [event for frame in chunk_frames(audio) for event in detector.push(frame)]
    return events + detector.flush()


def white_noise(seconds: float, amplitude: float, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(int(seconds * 8000)) * amplitude
    return np.clip(noise, -32768, 32767).astype(np.int16)


def mix(speech: np.ndarray, noise: np.ndarray) -> np.ndarray:
    total = speech.astype(np.int32) + noise[: len(speech)]
    return telephone_channel(np.clip(total, -32768, 32767).astype(np.int16))


@pytest.fixture(scope="module")
def sentence(espeak: EspeakSynthesizer, phone_speech: Render) -> np.ndarray:
    return phone_speech(espeak, "I would like to book a checkup for my son next week.")


def test_silence_produces_no_events() -> None:
    assert run(UtteranceDetector(), silence(3.0)) == []


@pytest.mark.parametrize("amplitude", [30, 300, 1000, 3000, 10000])
def test_white_noise_on_the_line_is_not_speech(amplitude: float) -> None:
    line = telephone_channel(white_noise(4.0, amplitude))
    assert run(UtteranceDetector(), line) == []


def test_noise_that_starts_mid_call_is_not_speech() -> None:
    line = telephone_channel(np.concatenate([silence(1.0), white_noise(3.0, 2000)]))
    assert run(UtteranceDetector(), line) == []


def test_one_sentence_gives_one_start_and_one_utterance(sentence: np.ndarray) -> None:
    audio = np.concatenate([silence(1.0), sentence, silence(1.0)])
    events = run(UtteranceDetector(), audio)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    ended = events[1]
    assert isinstance(ended, SpeechEnded)
    assert 0.8 <= events[0].timestamp <= 1.4  # type: ignore[union-attr]
    # The utterance holds the whole sentence (pre-roll included), not the silence after it.
    voiced = np.flatnonzero(np.abs(sentence) > 500)
    spoken = (voiced[-1] - voiced[0]) / 8000
    assert spoken <= ended.seconds <= spoken + 1.0
    assert not ended.forced


def test_speech_over_moderate_line_noise_is_still_found(sentence: np.ndarray) -> None:
    audio = np.concatenate([silence(1.0), sentence, silence(1.0)])
    events = run(UtteranceDetector(), mix(audio, white_noise(len(audio) / 8000, 300)))
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]


def test_a_pause_longer_than_the_hangover_splits_two_utterances(sentence: np.ndarray) -> None:
    audio = np.concatenate([silence(0.5), sentence, silence(1.0), sentence, silence(1.0)])
    ends = [e for e in run(UtteranceDetector(), audio) if isinstance(e, SpeechEnded)]
    assert len(ends) == 2


def test_long_pause_mode_keeps_digits_read_with_pauses_together(
    espeak: EspeakSynthesizer, phone_speech: Render
) -> None:
    spoken = phone_speech(espeak, "seven")
    voiced = np.flatnonzero(np.abs(spoken) > 300)
    digit = spoken[voiced[0] : voiced[-1]]  # espeak pads with silence; the gap is ours
    gap = silence(0.8)  # callers pause like this between groups of a member ID
    audio = np.concatenate([silence(0.5), digit, gap, digit, gap, digit, silence(2.0)])
    normal = [e for e in run(UtteranceDetector(), audio) if isinstance(e, SpeechEnded)]
    patient = [
        e for e in run(UtteranceDetector(long_pause=True), audio) if isinstance(e, SpeechEnded)
    ]
    assert len(normal) == 3
    assert len(patient) == 1


def test_the_head_of_a_stream_is_ignored_even_when_it_is_loud(sentence: np.ndarray) -> None:
    # The first 80 ms: webrtcvad calls them speech whatever they hold.
    detector = UtteranceDetector()
    head = list(chunk_frames(sentence[:640]))
    assert [event for frame in head for event in detector.push(frame)] == []


def test_endless_speech_is_cut_at_the_maximum_utterance_length(sentence: np.ndarray) -> None:
    detector = UtteranceDetector(VadConfig(max_utterance_s=2.0))
    events = run(detector, np.concatenate([silence(0.5), sentence]))
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert ends[0].forced
    assert ends[0].seconds == pytest.approx(2.0, abs=0.05)
