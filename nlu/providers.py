"""Which provider a caller asks for: "with Doctor Nguyen", "can I see Dr. Okafor", "Patel please".

Booking callers often want their own doctor. The rule is deterministic and needs a cue, so a
patient's own name ("Priya Patel") is never taken for a wish: a title ("doctor", "Dr.",
"nurse practitioner") or a word of seeing ("with", "see", "my doctor is") just before the
name. Surnames are compared by spelling and by
sound (`nlu.names`), since recognisers spell unusual names by ear. "Any doctor", "whoever is
free" and "it doesn't matter who" withdraw a wish said earlier.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from nlu.names import token_similarity
from nlu.negation import negated, words_of

# Words just before a name that make it a wish for that provider.
_CUES = frozenset({
    "dr", "doctor", "doc", "doctors", "nurse", "practitioner", "np", "pa", "with", "see",
    "seeing", "by",
})  # fmt: skip
# "my doctor is Nguyen": "is" is a cue only after one of these.
_ROLES = frozenset({"doctor", "provider", "physician", "pediatrician", "practitioner"})
_ANYONE = re.compile(
    r"\b(any (doctor|provider|one|body)|anyone|anybody|whoever|whichever|"
    r"(doesn't|does not|don't|do not) (matter|care|mind)|no preference)\b"
)
MATCH = 0.8  # a surname's similarity to a provider's, by spelling or sound, to count as said


@dataclass(frozen=True)
class Provider:
    """A provider as the roster has her: store id, full name, the name said on the phone."""

    id: int
    name: str  # "Linh Nguyen"
    display: str  # "Dr. Nguyen"


@dataclass(frozen=True)
class ProviderWish:
    """What a caller said about who to see: a provider, or explicitly anyone (None)."""

    provider: Provider | None
    said: str  # the words that decided it


def _names_of(provider: Provider) -> tuple[str, str]:
    parts = words_of(provider.name)
    return (parts[0] if len(parts) > 1 else "", parts[-1] if parts else "")


def _cued(words: list[str], at: int) -> bool:
    """Whether the word before words[at] makes a name there a wish: "with", "Doctor", ..."""
    before = words[at - 1] if at > 0 else ""
    return before in _CUES or (before == "is" and at > 1 and words[at - 2] in _ROLES)


def _said_at(words: list[str], at: int, provider: Provider) -> bool:
    """Whether words[at] names `provider` in a way that makes it a wish."""
    first, last = _names_of(provider)
    word = words[at]
    if negated(words[:at]):
        return False  # "not Dr. Patel", "anyone but Patel": no wish for her
    if last and token_similarity(word, last) >= MATCH:
        if _cued(words, at):
            return True
        # "with Hannah Schmidt": her first name between the cue and the surname.
        return (bool(first) and at > 0 and token_similarity(words[at - 1], first) >= MATCH
                and _cued(words, at - 1))  # fmt: skip
    # "Dr. Linh" (callers who know their doctor by her first name), but never a bare first
    # name: "with Linh" could be anyone.
    return (bool(first) and at > 0 and words[at - 1] in {"dr", "doctor"}
            and token_similarity(word, first) >= MATCH)  # fmt: skip


def provider_wish(text: str, roster: Sequence[Provider]) -> ProviderWish | None:
    """The last provider the text asks for, an explicit "anyone", or None when it says neither."""
    lowered = text.lower()
    words = words_of(lowered)
    found: list[tuple[int, ProviderWish]] = []
    for at in range(len(words)):
        hits = {p for p in roster if _said_at(words, at, p)}
        if len(hits) == 1:
            found.append((at, ProviderWish(hits.pop(), " ".join(words[max(0, at - 1) : at + 1]))))
    anyone = _ANYONE.search(lowered)
    if anyone is not None:
        # Where it was said, in words, so "Dr. Patel or anyone" ends with anyone.
        at = len(words_of(lowered[: anyone.start()]))
        found.append((at, ProviderWish(None, anyone.group(0))))
    return max(found, key=lambda hit: hit[0])[1] if found else None


def latest_wish(texts: Sequence[str], roster: Sequence[Provider]) -> ProviderWish | None:
    """What the caller's messages, oldest first, last said about who to see: a provider, an
    explicit "anyone" (a wish whose provider is None), or None when they never said."""
    wish: ProviderWish | None = None
    for text in texts:
        wish = provider_wish(text, roster) or wish
    return wish
