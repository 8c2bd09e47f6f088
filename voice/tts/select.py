"""A voice by name, for the test phones: Piper (the bot's own), espeak-ng or flite."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from voice.audio.frames import SAMPLE_RATE
from voice.audio.wav import read_wav
from voice.tts.cache import prompt_key, write_wav_atomically


class Voice(Protocol):
    def synthesize(self, text: str) -> Iterable[Any]: ...


def make_voice(name: str, remember_in: Path | None = None) -> Voice:
    """ "espeak", "flite", or anything else for Piper (loaded on first use: seconds).

    With `remember_in`, a line said before is read back from a WAV file in that folder, and
    the engine is loaded only for a line it has not said yet."""
    if remember_in is not None:
        return RememberedVoice(name, remember_in)
    return _engine(name)


def _engine(name: str) -> Voice:
    if name == "espeak":
        from voice.tts.external import EspeakSynthesizer

        return EspeakSynthesizer()
    if name == "flite":
        from voice.tts.external import FliteSynthesizer

        return FliteSynthesizer()
    from voice.tts.piper import PiperSynthesizer

    return PiperSynthesizer()


class RememberedVoice:
    """A voice whose lines are kept as WAV files, keyed by the voice and the words.

    Test phones say the same few lines in call after call. Loading Piper and rendering a
    line cost a phone process 1.5 s of CPU on this 2-core machine, more than the rest of
    its start-up; a remembered line costs a file read."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        self._voice_id = _voice_id(name)
        self._engine: Voice | None = None
        self._lock = threading.Lock()

    @property
    def engine_loaded(self) -> bool:
        return self._engine is not None

    def synthesize(self, text: str) -> Iterable[np.ndarray]:
        path = self.folder / f"{self.name}-{prompt_key(self._voice_id, text)}.wav"
        if path.exists():
            return [read_wav(path, SAMPLE_RATE)]
        with self._lock:
            if self._engine is None:
                self._engine = _engine(self.name)
            chunks = [np.asarray(chunk, dtype=np.int16) for chunk in self._engine.synthesize(text)]
        if chunks:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_wav_atomically(path, np.concatenate(chunks))
        return chunks


def _voice_id(name: str) -> str:
    # Piper's model is named in the key, so another model renders its lines anew.
    if name in ("espeak", "flite"):
        return name
    from voice.tts.piper import joe_voice_paths

    return f"piper:{joe_voice_paths()[0].name}"
