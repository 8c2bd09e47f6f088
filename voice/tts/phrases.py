"""Known phrases answered from pre-rendered audio, everything else synthesised live.

Most of what the dialogs say is fixed wording ("And the date of birth?", "Is there anything
else?"). Rendering those pieces at start-up, into the same on-disk cache as the prompts, takes
the synthesis time (~0.2-0.3 s on this machine) off those turns. Only fixed wording goes in:
anything with a patient's name or date is synthesised live and never stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import numpy as np

from voice.tts.base import Synthesizer, split_for_streaming, split_sentences
from voice.tts.cache import PromptCache, prompt_key

log = logging.getLogger(__name__)


def _normal(text: str) -> str:
    return " ".join(text.split())


class PhraseSynthesizer:
    """A `Synthesizer` that serves known pieces from the prompt cache."""

    def __init__(self, inner: Synthesizer, cache: PromptCache) -> None:
        self.inner = inner
        self.cache = cache
        self.voice_id = inner.voice_id
        self.sample_rate = inner.sample_rate
        self._known: dict[str, np.ndarray] = {}
        self.hits = 0

    def learn(self, phrases: Iterable[str]) -> int:
        """Pre-render each phrase the way a reply is spoken (piece by piece); returns how many
        pieces are now known."""
        pieces: set[str] = set()
        for phrase in phrases:
            # A reply may open the turn (its long first sentence is cut at a clause) or
            # follow another one (whole sentences): know both cuts.
            pieces.update(_normal(p) for p in split_for_streaming(phrase))
            pieces.update(_normal(p) for p in split_sentences(phrase))
        pieces.discard("")
        names = {f"phrase-{prompt_key(self.voice_id, piece)}": piece for piece in sorted(pieces)}
        self.cache.render(names)
        for name, piece in names.items():
            self._known[piece] = self.cache.audio(name)
        log.info("%d fixed reply pieces pre-rendered", len(self._known))
        return len(self._known)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        audio = self._known.get(_normal(text))
        if audio is not None:
            self.hits += 1
            yield audio
            return
        yield from self.inner.synthesize(text)
