"""Spoken numbers: digit strings read aloud, cardinals and years, as ASR writes them.

Callers read member IDs digit by digit ("four seven two nine"), in pairs ("forty seven
twenty nine"), or type them; ASR may give words, digits or a mix. Everything here is pure.
"""

from __future__ import annotations

import re

UNITS: dict[str, int] = {
    "zero": 0, "oh": 0, "o": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}
TEENS: dict[str, int] = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}
# ASR homophones of digit words: "for" and "to" are only digits inside a run of digits.
_HOMOPHONES = {"for": "four", "to": "two", "too": "two", "ate": "eight", "won": "one"}
_FILLERS = {"and", "uh", "um", "er", "dash", "hyphen", "space", "then", "is", "its", "it's"}
_MULTIPLIERS = {"double": 2, "triple": 3}
_TOKEN = re.compile(r"[a-z]+|\d+")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("-", " "))


def _is_digit_word(token: str) -> bool:
    return token in UNITS or token in TEENS or token in TENS or token.isdigit()


def spoken_digits(text: str) -> str:
    """Return the digit string a caller said or keyed ("four seven two nine" -> "4729").

    Pairs ("forty seven" -> "47"), teens, "oh" for zero, "double five" and digits mixed with
    words are all accepted; words that are not numbers are skipped.
    """
    tokens = _tokens(text)
    out: list[str] = []
    repeat = 1
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt_is_digit = i + 1 < len(tokens) and _is_digit_word(tokens[i + 1])
        prev_is_digit = bool(out)
        if tok in _HOMOPHONES and (nxt_is_digit or prev_is_digit):
            tok = _HOMOPHONES[tok]
        if tok in _MULTIPLIERS:
            repeat = _MULTIPLIERS[tok]
        elif tok.isdigit():
            out.append(tok * repeat if len(tok) == 1 else tok)
            repeat = 1
        elif tok in UNITS:
            out.append(str(UNITS[tok]) * repeat)
            repeat = 1
        elif tok in TEENS:
            out.append(str(TEENS[tok]))
        elif tok in TENS:
            unit = tokens[i + 1] if i + 1 < len(tokens) else ""
            if unit in UNITS and UNITS[unit] > 0 and unit not in ("oh", "o"):
                out.append(str(TENS[tok] + UNITS[unit]))
                i += 1
            else:
                out.append(str(TENS[tok]))
        elif tok == "hundred" and out:
            out.append("00")
        elif tok == "thousand" and out:
            out.append("000")
        i += 1
    return "".join(out)


def parse_cardinal(text: str) -> int | None:
    """Read a cardinal number said in words or digits ("a hundred and four" -> 104).

    Returns None when the text holds anything but a number.
    """
    tokens = [t for t in _tokens(text) if t not in ("and", "a")]
    if not tokens:
        return None
    if len(tokens) == 1 and tokens[0].isdigit():
        return int(tokens[0])
    total = 0
    current = 0
    seen = False
    for tok in tokens:
        if tok in UNITS and tok not in ("oh", "o"):
            current += UNITS[tok]
        elif tok in TEENS:
            current += TEENS[tok]
        elif tok in TENS:
            current += TENS[tok]
        elif tok.isdigit():
            current += int(tok)
        elif tok == "hundred":
            current = max(current, 1) * 100
        elif tok == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _pair_value(tokens: list[str]) -> tuple[int, int] | None:
    """Read one two-digit group at the start of tokens: (value, tokens used)."""
    if not tokens:
        return None
    first = tokens[0]
    if first in ("oh", "o", "zero") and len(tokens) > 1 and tokens[1] in UNITS:
        return UNITS[tokens[1]], 2
    if first in TEENS:
        return TEENS[first], 1
    if first in TENS:
        if len(tokens) > 1 and tokens[1] in UNITS and UNITS[tokens[1]] > 0:
            return TENS[first] + UNITS[tokens[1]], 2
        return TENS[first], 1
    if first in UNITS:
        return UNITS[first], 1
    if first.isdigit() and len(first) <= 2:
        return int(first), 1
    return None


def parse_year_words(text: str) -> tuple[int, int] | None:
    """Read a year as said aloud: (value, digits) where digits is 2 or 4.

    "nineteen seventy two" -> (1972, 4); "seventy two" -> (72, 2); "two thousand five" ->
    (2005, 4); "twenty oh three" -> (2003, 4); "oh five" -> (5, 2); "1972" -> (1972, 4).
    """
    tokens = [t for t in _tokens(text) if t != "and"]
    if not tokens:
        return None
    if len(tokens) == 1 and tokens[0].isdigit() and len(tokens[0]) in (2, 4):
        return int(tokens[0]), len(tokens[0])
    if "thousand" in tokens or "hundred" in tokens:
        value = parse_cardinal(" ".join(tokens))
        return (value, 4) if value is not None and value >= 1000 else None
    head = _pair_value(tokens)
    if head is None:
        return None
    century, used = head
    rest = tokens[used:]
    if not rest:
        return (century, 2) if used == 2 or tokens[0] in TENS or tokens[0] in TEENS else None
    tail = _pair_value(rest)
    if tail is None or tail[1] != len(rest) or not 10 <= century <= 20:
        return None
    return century * 100 + tail[0], 4
