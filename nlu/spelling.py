"""A surname spelled letter by letter: the letters in what the recogniser wrote, the ways it
writes a spelled name, and which surname on file the letters are.

Asked to spell, callers say the letters ("L, O, P, E, Z"), name them ("el oh pee ee zed"),
double them ("double L"), or gloss them ("P as in Peter"). Whisper writes the result as
"L-O-P-E-Z", "L O P E Z", "L, O, P, E, Z." or, when it recognises the name, "Lopez". Letters
that sound alike (B/D/E/P/T/V, M/N) are often heard wrong on a phone line, so a long surname
may match with a slip or two; a short one only exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

# Letter names as callers say them and recognisers write them.
_LETTER_NAMES = {
    "ay": "a", "eh": "a", "bee": "b", "be": "b", "see": "c", "sea": "c", "cee": "c",
    "dee": "d", "ee": "e", "eff": "f", "ef": "f", "gee": "g", "aitch": "h", "haitch": "h",
    "eye": "i", "jay": "j", "kay": "k", "el": "l", "ell": "l", "em": "m", "en": "n",
    "oh": "o", "owe": "o", "pee": "p", "pea": "p", "cue": "q", "queue": "q", "are": "r",
    "ar": "r", "ess": "s", "es": "s", "tee": "t", "tea": "t", "you": "u", "yoo": "u",
    "vee": "v", "ex": "x", "why": "y", "zee": "z", "zed": "z",
}  # fmt: skip
# Said around the letters, never letters themselves.
_AROUND = frozenset({
    "it's", "its", "it", "is", "that's", "thats", "that", "my", "last", "name", "surname",
    "family", "spelled", "spelt", "spell", "um", "uh", "er", "okay", "ok", "so", "yes",
    "yeah", "sure", "and", "then", "the", "letter", "letters", "hyphen", "dash", "space",
    "capital", "as",
})  # fmt: skip
_WORD = re.compile(r"[a-z']+")
_GLOSS = re.compile(r"\b([a-z])\s+(?:as|like)\s+(?:in\s+)?[a-z']+", re.IGNORECASE)
# A surname of this many letters may be matched with one slip more (5: exact; 6-11: one;
# 12 and longer: two), and only when no other surname on file comes as close.
LETTERS_PER_SLIP = 6


def letters_of(text: str) -> str | None:
    """The letters spelled in `text`, upper case, or None when it holds no spelling (fewer
    than two letters, or words that are neither letters nor what is said around them). A
    single word is taken as the surname written whole."""
    said = _GLOSS.sub(r"\1", text.replace("-", " ").replace(".", " "))
    words = _WORD.findall(said.lower())
    if len(words) == 1 and len(words[0]) >= 2 and words[0] not in _AROUND | set(_LETTER_NAMES):
        return words[0].replace("'", "").upper()
    letters: list[str] = []
    double = False
    for word in words:
        if word in ("double", "doubled"):
            double = True
            continue
        if word in ("double-u", "doubleu"):
            letter = "w"
        elif len(word) == 1:
            letter = word
        elif word in _LETTER_NAMES:
            letter = _LETTER_NAMES[word]
        elif word in _AROUND:
            continue
        else:
            return None  # a word in the middle of the letters: not a spelling
        if double and letter == "u":
            letters.append("w")
        else:
            letters.extend([letter, letter] if double else [letter])
        double = False
    if double:  # "double" alone at the end: "double you" split oddly, or nothing
        return None
    return "".join(letters).upper() if len(letters) >= 2 else None


def surname_letters(surname: str) -> str:
    """A surname as its letters only ("O'Brien" → "OBRIEN", "De la Cruz" → "DELACRUZ")."""
    return re.sub(r"[^A-Za-z]", "", surname).upper()


def spelled_forms(surname: str) -> list[str]:
    """The ways Whisper writes `surname` spelled out, for a hearing held to them."""
    letters = list(surname_letters(surname))
    return ["-".join(letters), " ".join(letters), ", ".join(letters), ". ".join(letters) + "."]


def allowed_slips(letters: str) -> int:
    return len(letters) // LETTERS_PER_SLIP


def matching_surname(spelled: str, surnames: Sequence[str]) -> str | None:
    """The one surname of `surnames` that `spelled` is, or None: equal letters, or within the
    slips a surname of that length allows while every other surname is further away."""
    distances = sorted(
        (Levenshtein.distance(spelled, surname_letters(s)), s) for s in set(surnames)
    )
    if not distances:
        return None
    best, surname = distances[0]
    if best > allowed_slips(surname_letters(surname)):
        return None
    if len(distances) > 1 and distances[1][0] <= best:
        return None  # two surnames as close: not one
    return surname
