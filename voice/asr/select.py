"""Choose and load the speech recogniser from configuration."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from voice.asr.base import SpeechRecognizer
from voice.asr.vosk import VoskRecognizer, looks_like_vosk_model
from voice.asr.whisper import WhisperConfig, WhisperRecognizer

log = logging.getLogger(__name__)

ENGINES = ("auto", "vosk", "whisper")


class RecognizerConfigError(ValueError):
    """The configured engine cannot be used as configured."""


def make_recognizer(
    engine: str,
    vosk_model_dir: Path | None,
    vocabulary: Sequence[str],
    *,
    whisper: WhisperConfig | None = None,
) -> SpeechRecognizer:
    """Load the configured engine.

    "auto" picks Vosk when a model directory is configured and holds a model (streaming,
    grammars), and otherwise the packaged English Whisper model.
    """
    if engine not in ENGINES:
        raise RecognizerConfigError(f"unknown ASR engine {engine!r}; use one of {ENGINES}")
    vosk_ready = vosk_model_dir is not None and looks_like_vosk_model(Path(vosk_model_dir))
    if engine == "vosk" or (engine == "auto" and vosk_ready):
        if vosk_model_dir is None:
            raise RecognizerConfigError("ASR engine 'vosk' needs vosk_model_dir to be set")
        return VoskRecognizer(Path(vosk_model_dir))
    if engine == "auto" and vosk_model_dir is not None:
        log.warning("vosk model directory not usable, falling back to whisper")
    return WhisperRecognizer(whisper, vocabulary=vocabulary)


def describe_recognizer(recognizer: SpeechRecognizer) -> str:
    """One line for the start-up log: engine, model, threads, load time."""
    describe = getattr(recognizer, "describe", None)
    if callable(describe):
        return str(describe())
    return f"{recognizer.name} ({'streaming' if recognizer.streaming else 'per utterance'})"
