"""A wish turned around by the words just before it: "not Dr. Patel", "anyone but the nurse",
"rather than billing", "I don't need a nurse".

One rule for every wish the dialogs read from free words (a provider, a team), so that they
never disagree on the same sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

NEGATIONS = frozenset({"not", "no", "never", "dont", "than", "except", "but", "instead"})
WINDOW = 3  # "not with Dr. Patel", "I don't need a nurse": the wish comes within three words


def words_of(text: str) -> list[str]:
    """Lower-case words, apostrophes dropped ("don't" → "dont")."""
    return [w.replace("'", "") for w in re.findall(r"[a-z']+", text.lower().replace("’", "'"))]


def negated(words_before: Sequence[str]) -> bool:
    """Whether a negation is among the last `WINDOW` words before a wish."""
    return any(w in NEGATIONS for w in words_before[-WINDOW:])
