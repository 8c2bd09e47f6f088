"""Fixed reply pieces come from the prompt cache; anything else is synthesised live."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dialogs.replies import fixed_replies
from voice.tts.cache import PromptCache
from voice.tts.phrases import PhraseSynthesizer


class CountingToneSynthesizer:
    """Stand-in engine (the caching logic is under test, not the voice): a tone per text."""

    voice_id = "tone-test"
    sample_rate = 8000

    def __init__(self) -> None:
        self.calls: list[str] = []

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        self.calls.append(text)
        yield np.full(80 * len(text), len(text), dtype=np.int16)


def test_known_pieces_are_served_without_synthesis_and_others_live(tmp_path: Path) -> None:
    engine = CountingToneSynthesizer()
    phrases = PhraseSynthesizer(engine, PromptCache(engine, tmp_path))
    known = phrases.learn(
        ["Sure. First, what is the patient's full name?", "Is there anything else?"]
    )
    assert known == 3  # "Sure.", "First, what is ...?", "Is there anything else?"
    rendered = len(engine.calls)
    out = list(phrases.synthesize("Is  there anything else?"))
    assert len(engine.calls) == rendered and phrases.hits == 1 and len(out) == 1
    list(phrases.synthesize("Thanks, Maria Lopez."))  # a name: live, never stored
    assert engine.calls[-1] == "Thanks, Maria Lopez."
    assert not [p for p in tmp_path.iterdir() if "Maria" in p.read_bytes().decode("latin-1")]
    # A restart reads the pieces back from disk instead of synthesising them again.
    again = CountingToneSynthesizer()
    PhraseSynthesizer(again, PromptCache(again, tmp_path)).learn(["Is there anything else?"])
    assert again.calls == []


def test_fixed_replies_are_the_literal_texts_not_the_templated_ones() -> None:
    replies = fixed_replies()
    assert "And the date of birth?" in replies
    assert "Is there anything else?" in replies
    assert not [r for r in replies if "{" in r]
