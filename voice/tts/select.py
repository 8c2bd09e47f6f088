"""A voice by name, for the test phones: Piper (the bot's own), espeak-ng or flite."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


class Voice(Protocol):
    def synthesize(self, text: str) -> Iterable[Any]: ...


def make_voice(name: str) -> Voice:
    """ "espeak", "flite", or anything else for Piper (loaded on first use: seconds)."""
    if name == "espeak":
        from voice.tts.external import EspeakSynthesizer

        return EspeakSynthesizer()
    if name == "flite":
        from voice.tts.external import FliteSynthesizer

        return FliteSynthesizer()
    from voice.tts.piper import PiperSynthesizer

    return PiperSynthesizer()
