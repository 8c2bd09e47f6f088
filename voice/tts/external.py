"""Other voices through command-line engines (espeak-ng, flite), for the simulated caller.

Tests and benchmarks must hear voices the recogniser was not tuned on; these Debian
packages provide several, each rendered by a subprocess into a temporary WAV file.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from voice.audio.frames import SAMPLE_RATE
from voice.audio.wav import read_wav
from voice.tts.base import split_sentences


class SynthesisError(RuntimeError):
    """The external engine is missing or failed on a sentence."""


class CommandSynthesizer:
    """Renders each sentence with ``argv(sentence, wav_path)`` and reads the WAV back."""

    sample_rate = SAMPLE_RATE
    program = ""

    def __init__(self, voice_id: str, timeout_s: float = 20.0) -> None:
        if shutil.which(self.program) is None:
            hint = f"apt-get install {self.program}"
            raise SynthesisError(f"{self.program} is not installed ({hint})")
        self.voice_id = voice_id
        self.timeout_s = timeout_s

    def argv(self, sentence: str, wav_path: Path) -> Sequence[str]:
        raise NotImplementedError

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        for sentence in split_sentences(text):
            yield self._render(sentence)

    def _render(self, sentence: str) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="clinicline-tts-") as tmp:
            wav_path = Path(tmp) / "out.wav"
            done = subprocess.run(
                list(self.argv(sentence, wav_path)),
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
            if done.returncode != 0 or not wav_path.exists():
                raise SynthesisError(f"{self.program} failed with exit code {done.returncode}")
            return read_wav(wav_path, SAMPLE_RATE)


class EspeakSynthesizer(CommandSynthesizer):
    """espeak-ng: formant synthesis, very unlike Piper (``voice`` e.g. "en-us", "en-gb")."""

    program = "espeak-ng"

    def __init__(self, voice: str = "en-us", words_per_minute: int = 160) -> None:
        super().__init__(f"espeak-ng:{voice}:{words_per_minute}")
        self.voice = voice
        self.words_per_minute = words_per_minute

    def argv(self, sentence: str, wav_path: Path) -> Sequence[str]:
        # "--" so that text starting with "-" is never read as an option.
        return [
            "espeak-ng", "-v", self.voice, "-s", str(self.words_per_minute),
            "-w", str(wav_path), "--", sentence,
        ]  # fmt: skip


class FliteSynthesizer(CommandSynthesizer):
    """flite: diphone/cluster voices (``voice`` one of kal, kal16, awb, rms, slt)."""

    program = "flite"

    def __init__(self, voice: str = "slt") -> None:
        super().__init__(f"flite:{voice}")
        self.voice = voice

    def argv(self, sentence: str, wav_path: Path) -> Sequence[str]:
        return ["flite", "-voice", self.voice, "-t", sentence, "-o", str(wav_path)]
