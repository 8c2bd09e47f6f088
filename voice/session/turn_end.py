"""When a pause ends the caller's turn: soon when her words are complete, later when they hang.

The recogniser has the words of the utterance a moment after the pause begins, so the rule can
read them. A caller who stops on "I need to move my", on "March fourth" when asked for her date
of birth, or on a first name alone is still speaking: the turn waits for more. Anything else
ends the turn at the short pause. Misjudging a finished turn as unfinished costs only the longer
wait; the reverse cuts the caller off, so the rule leans towards waiting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voice.asr.base import AnswerKind


@dataclass(frozen=True, slots=True)
class TurnEndConfig:
    """Pauses that end a turn, counted from the caller's last voiced frame (recognition starts
    earlier, at the utterance detector's own pause)."""

    finished_ms: int = 350  # the turn is over (or when the words are in, if later)
    unfinished_ms: int = 900  # ... when the words so far hang
    spelling_ms: int = 1600  # ... when she spells her name (she thinks between letters)

    def __post_init__(self) -> None:
        if not 0 < self.finished_ms <= self.unfinished_ms:
            raise ValueError("want 0 < finished_ms <= unfinished_ms")


def _set_of(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words a spoken sentence does not end on: articles, possessives, prepositions, conjunctions,
# and the fillers of someone thinking ("it's, um").
_HANGING_WORDS = _set_of(
    """
    a an the my your his her our their its every
    to of for with about at in on from by into onto than like as per via
    and or but because if when while since until unless although though whether
    um uh er erm uhm
    i'm it's i've i'd we're we've they're he's she's there's
    """
)
# Dates and numbers half said: a month, or a year begun ("nineteen", "two thousand and").
_MONTHS = _set_of(
    "january february march april may june july august september october november december"
)
_YEAR_STARTS = frozenset({"nineteen", "twenty", "thousand", "hundred", "oh"})
_YEAR_TENS = _set_of("forty fifty sixty seventy eighty ninety")
_TENS = _set_of("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen")
_TENS |= _set_of("twenty thirty") | _YEAR_TENS
_WORD = re.compile(r"[a-z0-9']+")


def _has_year(words: list[str]) -> bool:
    """A year said in full or in part: 1972, "nineteen seventy two", "two thousand and five",
    "twenty oh five", or a last number that cannot be a day (72, "seventy-two")."""
    for i, word in enumerate(words):
        after = words[i + 1] if i + 1 < len(words) else ""
        if len(word) == 4 and word.isdigit() and word[:2] in ("19", "20"):
            return True
        if word == "thousand" or (word == "nineteen" and after and after not in _HANGING_WORDS):
            return True
        if word == "twenty" and (after == "oh" or after.split("-")[0] in _TENS):
            return True
    # No day is over 31: "72", "seventy", "seventy two" end a date of birth.
    last, before = words[-1], words[-2] if len(words) > 1 else ""
    return (last.isdigit() and len(last) == 2 and int(last) > 31) or bool(
        {last, before} & _YEAR_TENS
    )


def sounds_unfinished(text: str, answer: AnswerKind | None = None) -> bool:
    """True when the words so far stop where a speaker would go on.

    `answer`: what the caller was just asked for. A name of one word, or a date of birth with
    no year yet, is still coming; a spelled name only ends at the long pause.
    """
    if answer == "spelling":
        return True  # letters come with pauses, and nothing says the last one was said
    stripped = text.strip()
    if stripped.endswith(("...", "…", "-", ",")):
        return True
    words = _WORD.findall(stripped.lower())
    if not words:
        # Speech nobody could make out yet: waiting costs nothing (an empty turn is dropped),
        # ending it would lose the words that come next.
        return True
    last = words[-1]
    if last in _HANGING_WORDS or last in _YEAR_STARTS:
        return True
    if answer == "date":
        return last in _MONTHS or not _has_year(words)
    if answer == "name":  # "Maria", "Maria. Maria." (the recogniser repeats), "my name is"
        return len(set(words)) == 1 or last in ("is", "name's")
    return False
