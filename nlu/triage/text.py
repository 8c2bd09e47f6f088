"""Normalise a transcript for triage rules, keeping a map back to the caller's own words.

ASR output varies in case, punctuation and contractions ("can't", "cant", "can not"); rules
are written once against one canonical form: lowercase words separated by single spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.numbers import TEENS, TENS, UNITS, parse_cardinal

# Contractions with and without the apostrophe (ASR drops it about half the time).
_EXPANSIONS: dict[str, str] = {
    "can't": "cannot", "cant": "cannot", "won't": "will not", "wont": "will not",
    "don't": "do not", "dont": "do not", "doesn't": "does not", "doesnt": "does not",
    "didn't": "did not", "didnt": "did not", "isn't": "is not", "isnt": "is not",
    "aren't": "are not", "arent": "are not", "wasn't": "was not", "wasnt": "was not",
    "weren't": "were not", "couldn't": "could not", "couldnt": "could not",
    "wouldn't": "would not", "wouldnt": "would not", "shouldn't": "should not",
    "haven't": "have not", "havent": "have not", "hasn't": "has not", "hasnt": "has not",
    "hadn't": "had not", "hadnt": "had not", "ain't": "is not", "aint": "is not",
    "i'm": "i am", "im": "i am", "i've": "i have", "ive": "i have", "i'd": "i would",
    "i'll": "i will", "he'd": "he would", "she'd": "she would", "they'd": "they would",
    "we'd": "we would", "you'd": "you would", "he's": "he is", "hes": "he is",
    "she's": "she is", "shes": "she is",
    "it's": "it is", "that's": "that is", "thats": "that is", "there's": "there is",
    "theres": "there is", "they're": "they are", "theyre": "they are", "we're": "we are",
    "you're": "you are", "youre": "you are", "what's": "what is", "whats": "what is",
    "they've": "they have", "we've": "we have", "gonna": "going to", "wanna": "want to",
    "gotta": "got to", "kinda": "kind of", "outta": "out of", "y'all": "you all",
}
# "oh" and "o" stay words here: "oh my god" is not a number.
_NUMBER_WORDS = frozenset([*UNITS, *TEENS, *TENS, "hundred", "thousand"]) - {"oh", "o", "nought"}
_RAW_TOKEN = re.compile(r"\S+")
_STRIP = re.compile(r"[^\w'.]+|(?<!\d)\.|\.(?!\d)")


@dataclass(frozen=True, slots=True)
class Normalised:
    """Canonical text plus, for each canonical token, the index of the raw token it came from."""

    text: str
    tokens: tuple[str, ...]
    origin: tuple[int, ...]
    raw: tuple[str, ...]
    token_starts: tuple[int, ...]

    def token_at(self, char_offset: int) -> int:
        """Index of the canonical token that contains (or follows) a character offset."""
        lo, hi = 0, len(self.token_starts)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.token_starts[mid] <= char_offset:
                lo = mid + 1
            else:
                hi = mid
        return max(lo - 1, 0)

    def raw_span(self, first: int, last: int) -> str:
        """The caller's own words for canonical tokens first..last, without punctuation."""
        words = self.raw[self.origin[first] : self.origin[last] + 1]
        return " ".join(w.strip(".,;:!?\"()[]") for w in words)


def _canonical(raw: str) -> list[str]:
    word = raw.lower().replace("\u2019", "'").replace("`", "'")
    word = word.strip(".,;:!?\"()[]{}")
    if word in _EXPANSIONS:
        return _EXPANSIONS[word].split()
    if word.endswith("'s"):
        # Possessives and "is" both collapse to the bare word plus nothing: "husband's chest".
        word = word[:-2]
    word = _STRIP.sub(" ", word).replace("'", "")
    return word.split()


def _merge_numbers(tokens: list[str], origin: list[int]) -> tuple[list[str], list[int]]:
    """Turn runs of number words into digits so rules can compare values ("four hundred")."""
    out: list[str] = []
    out_origin: list[int] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and (
            tokens[j] in _NUMBER_WORDS or (tokens[j] == "and" and j > i and j + 1 < len(tokens)
                                           and tokens[j + 1] in _NUMBER_WORDS)
        ):
            j += 1
        run = tokens[i:j]
        if run and any(t in ("hundred", "thousand") for t in run):
            value = parse_cardinal(" ".join(run))
            if value is not None:
                out.append(str(value))
                out_origin.append(origin[i])
                i = j
                continue
        out.append(tokens[i])
        out_origin.append(origin[i])
        i += 1
    return out, out_origin


# A reading said the way people read a monitor: "one ninety over one ten", "the top number is
# two forty" (190/110, 240). Only where a reading is being told: "over" comes after it or
# before it, or a reading's word is a few words back; never as a time ("at two thirty").
_READING_WORDS = frozenset({
    "over", "pressure", "bp", "reading", "readings", "number", "numbers", "systolic",
    "diastolic", "top", "bottom", "monitor", "machine", "cuff",
})
_TIME_LEADS = frozenset({
    "at", "by", "around", "about", "between", "from", "until", "till", "before", "after", "past",
})
# What follows a time or a dose, not a reading ("two twenty milligram tablets").
_NOT_A_READING_AFTER = frozenset({
    "am", "pm", "oclock", "milligram", "milligrams", "mg", "mcg", "micrograms", "units",
    "tablets", "pills", "dollars", "pounds", "minutes", "hours", "days",
})
_READING_REACH = 6


def _reading_at(tokens: list[str], i: int) -> tuple[int, int] | None:
    """(value, tokens used) for a three-digit reading said as "one ninety", "two forty five"."""
    hundreds = {"one": 100, "two": 200}.get(tokens[i])
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if hundreds is None or not (nxt in TENS or nxt in TEENS):
        return None
    value, used = hundreds + TENS.get(nxt, TEENS.get(nxt, 0)), 2
    unit = tokens[i + 2] if i + 2 < len(tokens) else ""
    if nxt in TENS and UNITS.get(unit, 0) > 0 and unit not in ("oh", "o", "nought"):
        value, used = value + UNITS[unit], 3
    after = tokens[i + used] if i + used < len(tokens) else ""
    before = tokens[i - 1] if i else ""
    told = after == "over" or before == "over" or any(
        t in _READING_WORDS for t in tokens[max(0, i - _READING_REACH) : i]
    )
    if not told or after in _NOT_A_READING_AFTER or (before in _TIME_LEADS and after != "over"):
        return None
    return value, used


def _merge_readings(tokens: list[str], origin: list[int]) -> tuple[list[str], list[int]]:
    out: list[str] = []
    out_origin: list[int] = []
    i = 0
    while i < len(tokens):
        found = _reading_at(tokens, i)
        if found is None:
            out.append(tokens[i])
            out_origin.append(origin[i])
            i += 1
            continue
        out.append(str(found[0]))
        out_origin.append(origin[i])
        i += found[1]
    return out, out_origin


def normalise(text: str) -> Normalised:
    """Lowercase, expand contractions, drop punctuation, read "a hundred and four" as 104 and
    a reading told as "one ninety over one ten" as 190 over 110."""
    raw = tuple(_RAW_TOKEN.findall(text))
    tokens: list[str] = []
    origin: list[int] = []
    for index, word in enumerate(raw):
        for tok in _canonical(word):
            tokens.append(tok)
            origin.append(index)
    tokens, origin = _merge_numbers(tokens, origin)
    tokens, origin = _merge_readings(tokens, origin)
    starts: list[int] = []
    pos = 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok) + 1
    return Normalised(" ".join(tokens), tuple(tokens), tuple(origin), raw, tuple(starts))
