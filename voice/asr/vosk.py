"""Streaming recognition with Vosk (Kaldi) on a model directory chosen by the deployment.

Vosk takes 8 kHz audio directly, returns partial transcripts while the caller speaks (so
triage can act mid-sentence) and can be restricted to a word grammar for yes/no or digits.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voice.asr.base import AnswerKind, Transcript
from voice.audio.frames import SAMPLE_RATE

log = logging.getLogger(__name__)

_UNKNOWN = "[unk]"  # lets a grammar-restricted recogniser say "none of these"


class VoskModelError(RuntimeError):
    """The configured Vosk model directory is missing or not a Vosk model."""


def looks_like_vosk_model(path: Path) -> bool:
    """A Vosk model directory holds an acoustic model (``am/final.mdl``) and a ``conf/``."""
    return (path / "am" / "final.mdl").is_file() and (path / "conf").is_dir()


class VoskRecognizer:
    """One loaded Vosk model shared by all calls; each stream has its own recogniser."""

    sample_rate = SAMPLE_RATE
    streaming = True

    def __init__(self, model_dir: Path) -> None:
        import vosk

        model_dir = Path(model_dir)
        if not looks_like_vosk_model(model_dir):
            raise VoskModelError(f"{model_dir} is not a Vosk model directory (no am/final.mdl)")
        vosk.SetLogLevel(-1)  # Kaldi logs every stream to stderr otherwise
        started = time.perf_counter()
        self._model = vosk.Model(str(model_dir))
        self.load_seconds = time.perf_counter() - started
        self.model_dir = model_dir
        # Packaged models often sit in a folder called "model": name the package instead.
        label = model_dir.parent.name if model_dir.name == "model" else model_dir.name
        self.name = f"vosk:{label}"

    def describe(self) -> str:
        return f"{self.name} ({self.model_dir}, streaming, loaded in {self.load_seconds:.1f}s)"

    def new_stream(
        self,
        *,
        grammar: Sequence[str] | None = None,
        hints: Sequence[str] = (),
        answer: AnswerKind | None = None,
    ) -> VoskStream:
        # Vosk has no hotwords outside a grammar; hints are accepted and unused.
        import vosk

        if grammar:
            phrases = [p.strip().lower() for p in grammar if p.strip()]
            recognizer = vosk.KaldiRecognizer(
                self._model, SAMPLE_RATE, json.dumps([*phrases, _UNKNOWN], ensure_ascii=False)
            )
        else:
            recognizer = vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
        recognizer.SetWords(True)  # word confidences feed Transcript.confidence
        return VoskStream(recognizer)


class VoskStream:
    """Feeds audio to one KaldiRecognizer; keeps finished segments across endpoints."""

    def __init__(self, recognizer: object) -> None:
        self._rec = recognizer
        self._segments: list[str] = []
        self._confidences: list[float] = []
        self._samples = 0
        self._busy = 0.0
        self.endpoint = False  # true after Vosk detected the end of a segment

    def accept(self, pcm: np.ndarray) -> str | None:
        pcm = np.asarray(pcm, dtype=np.int16)
        self._samples += len(pcm)
        started = time.perf_counter()
        finished_segment = self._rec.AcceptWaveform(pcm.tobytes())  # type: ignore[attr-defined]
        if finished_segment:
            self._keep(json.loads(self._rec.Result()))  # type: ignore[attr-defined]
            partial = ""
        else:
            partial = json.loads(self._rec.PartialResult()).get("partial", "")  # type: ignore[attr-defined]
        self._busy += time.perf_counter() - started
        self.endpoint = bool(finished_segment)
        text = " ".join([*self._segments, _clean(partial)]).strip()
        return text or None

    def cancel(self) -> None:
        """Nothing to skip: Vosk decodes as audio arrives, and finishing is cheap."""

    def finish(self) -> Transcript:
        started = time.perf_counter()
        self._keep(json.loads(self._rec.FinalResult()))  # type: ignore[attr-defined]
        self._busy += time.perf_counter() - started
        text = " ".join(self._segments).strip()
        confidence = float(np.mean(self._confidences)) if self._confidences else 0.0
        seconds = self._samples / SAMPLE_RATE
        return Transcript(text, confidence if text else 0.0, seconds, self._busy)

    def _keep(self, result: dict) -> None:
        text = _clean(result.get("text", ""))
        if text:
            self._segments.append(text)
            self._confidences.extend(
                float(w["conf"]) for w in result.get("result", []) if w.get("word") != _UNKNOWN
            )


def _clean(text: str) -> str:
    return " ".join(word for word in text.split() if word != _UNKNOWN)
