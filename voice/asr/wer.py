"""Word error rate by edit distance, for judging recognisers on known sentences."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_NUMBER_WORDS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
    "6": "six", "7": "seven", "8": "eight", "9": "nine", "10": "ten",
}  # fmt: skip


def normalise_words(text: str) -> list[str]:
    """Lower-case words without punctuation; lone digits spelled out, "dr" read as "doctor".

    Only the spellings a recogniser may legitimately choose between are folded, so a wrong
    word still counts as wrong.
    """
    text = text.lower().replace("'", "")
    words = re.findall(r"[a-z0-9]+", text)
    out = []
    for word in words:
        if word == "dr":
            word = "doctor"
        out.append(_NUMBER_WORDS.get(word, word))
    return out


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance over words (substitutions, insertions, deletions cost 1)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp_word in enumerate(hypothesis, start=1):
            current[j] = min(
                previous[j] + 1,
                current[j - 1] + 1,
                previous[j - 1] + (ref_word != hyp_word),
            )
        previous = current
    return previous[-1]


@dataclass(frozen=True, slots=True)
class WerScore:
    """Errors over reference words, summed over a set of sentences."""

    errors: int
    reference_words: int

    @property
    def rate(self) -> float:
        return self.errors / self.reference_words if self.reference_words else 0.0


def word_error_rate(pairs: Sequence[tuple[str, str]]) -> WerScore:
    """WER over (reference, hypothesis) pairs, pooled as speech corpora report it."""
    errors = 0
    words = 0
    for reference, hypothesis in pairs:
        ref = normalise_words(reference)
        errors += edit_distance(ref, normalise_words(hypothesis))
        words += len(ref)
    return WerScore(errors, words)
