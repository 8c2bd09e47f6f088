"""Fixed prompts rendered once at start-up and kept as WAV files across restarts.

The emergency message in particular must never depend on synthesis at call time. Files
are keyed by a hash of (voice, text), so a changed wording or voice renders anew while an
unchanged one is read back from disk.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from voice.audio.frames import SAMPLE_RATE
from voice.audio.wav import read_wav, write_wav
from voice.tts.base import Synthesizer

log = logging.getLogger(__name__)

# Silence between sentences of one prompt, so they do not run into each other.
_SENTENCE_GAP = np.zeros(SAMPLE_RATE * 150 // 1000, dtype=np.int16)
_SAFE_NAME = re.compile(r"[^a-z0-9_-]+")


class UnknownPrompt(KeyError):
    """A prompt was asked for by a name that was never rendered."""


def prompt_key(voice_id: str, text: str) -> str:
    """Short stable hash of what determines a prompt's audio."""
    return hashlib.sha256(f"{voice_id}\n{text}".encode()).hexdigest()[:16]


class PromptCache:
    """Named prompts as 8 kHz int16 arrays in memory and WAV files in ``cache_dir``."""

    def __init__(self, synthesizer: Synthesizer, cache_dir: Path) -> None:
        self.synthesizer = synthesizer
        self.cache_dir = Path(cache_dir)
        self._texts: dict[str, str] = {}
        self._audio: dict[str, np.ndarray] = {}
        self._paths: dict[str, Path] = {}
        self.synthesized = 0  # prompts rendered by the engine (not found on disk)
        self.reused = 0  # prompts read back from an earlier run

    def render(self, prompts: Mapping[str, str]) -> int:
        """Make every prompt ready (synthesising only those not on disk); returns the count.

        All or nothing: the new wording replaces the old only once every prompt has rendered,
        so a call never hears a half-changed set, and a failure leaves the old one playing."""
        texts, audios, paths = self._prepare(prompts)
        self._audio.update(audios)
        self._texts.update(texts)
        self._paths.update(paths)
        log.info("prompts ready: %d synthesized, %d reused", self.synthesized, self.reused)
        return len(prompts)

    def prepare(self, prompts: Mapping[str, str]) -> dict[str, float]:
        """Render PROMPTS to disk without playing them (a wording about to be published: the
        workers then find the files ready); returns each prompt's length in seconds."""
        _texts, audios, _paths = self._prepare(prompts)
        return {name: len(audio) / SAMPLE_RATE for name, audio in audios.items()}

    def speak(self, text: str) -> np.ndarray:
        """TEXT in the prompts' voice, kept nowhere (a preview of wording not saved yet)."""
        return self._synthesize(text)

    def _prepare(
        self, prompts: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, np.ndarray], dict[str, Path]]:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        texts: dict[str, str] = {}
        audios: dict[str, np.ndarray] = {}
        paths: dict[str, Path] = {}
        for name, text in prompts.items():
            path = self._file_for(name, text)
            if path.exists():
                audio = read_wav(path, SAMPLE_RATE)
                self.reused += 1
            else:
                audio = self._synthesize(text)
                write_wav_atomically(path, audio)
                self.synthesized += 1
            texts[name], audios[name], paths[name] = text, audio, path
        return texts, audios, paths

    @property
    def names(self) -> list[str]:
        return sorted(self._audio)

    def audio(self, name: str) -> np.ndarray:
        """The prompt's 8 kHz int16 samples."""
        return self._audio[self._known(name)]

    def text(self, name: str) -> str:
        """The words of the prompt (for the call transcript)."""
        return self._texts[self._known(name)]

    def path(self, name: str) -> Path:
        """The prompt's WAV file (8 kHz mono 16-bit), e.g. for a SIP media player."""
        return self._paths[self._known(name)]

    def _known(self, name: str) -> str:
        if name not in self._audio:
            raise UnknownPrompt(f"no prompt named {name!r}; rendered: {', '.join(self.names)}")
        return name

    def _file_for(self, name: str, text: str) -> Path:
        safe = _SAFE_NAME.sub("_", name.lower()) or "prompt"
        return self.cache_dir / f"{safe}-{prompt_key(self.synthesizer.voice_id, text)}.wav"

    def _synthesize(self, text: str) -> np.ndarray:
        parts: list[np.ndarray] = []
        for sentence in self.synthesizer.synthesize(text):
            if parts:
                parts.append(_SENTENCE_GAP)
            parts.append(sentence)
        if not parts:
            raise ValueError("prompt text produced no audio")
        return np.concatenate(parts)


def write_wav_atomically(path: Path, audio: np.ndarray) -> None:
    """Write a WAV file under its final name only once whole."""
    # Several processes may start at once: never let one read a half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        write_wav(tmp, audio)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
