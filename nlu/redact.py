"""Remove PHI from text before it reaches logs or analytics.

Phone numbers, dates, long digit runs (typed or spoken), e-mail addresses and the names the
call already knows become placeholders. Redaction errs towards removing too much.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nlu.dates import MONTHS
from nlu.numbers import TEENS, TENS, UNITS

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_NUMBER_WORD = "|".join(sorted([*UNITS, *TEENS, *TENS, "hundred", "thousand", "double",
                                "triple"], key=len, reverse=True))
_ORDINAL_WORD = (r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
                 r"eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|"
                 r"eighteenth|nineteenth|twentieth|thirtieth)")
_DAY = (rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|(?:twenty |thirty )?{_ORDINAL_WORD}"
        rf"|(?:{_NUMBER_WORD})(?: (?:{_NUMBER_WORD}))?)")
_YEAR = rf"(?:\d{{2,4}}|(?:{_NUMBER_WORD})(?:[ -](?:{_NUMBER_WORD})){{0,3}})"

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<!\w)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)")
_NUMERIC_DATE = re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}\b")
_SPOKEN_DATE = re.compile(
    rf"\b(?:(?:the )?{_DAY} (?:of )?(?:{_MONTH})\b|(?:{_MONTH}) {_DAY}\b)(?:,? {_YEAR}\b)?",
    re.IGNORECASE,
)
_DIGIT_RUN = re.compile(r"(?<!\w)\d(?:[\s-]?\d){4,}(?!\w)")
_SPOKEN_RUN = re.compile(
    rf"\b(?:(?:{_NUMBER_WORD}|oh)\b[\s,-]*){{5,}}", re.IGNORECASE
)


def _name_pattern(known: Sequence[str]) -> re.Pattern[str] | None:
    parts: set[str] = set()
    for name in known:
        clean = " ".join(name.split())
        if clean:
            parts.add(re.escape(clean))
        # Each part of a full name too, but not initials or short words ("Al", "Li" stay
        # only inside the full name, so "all" and "like" are not redacted).
        parts.update(re.escape(p) for p in clean.split() if len(p) >= 3)
    if not parts:
        return None
    alternatives = "|".join(sorted(parts, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})(?:'s)?\b", re.IGNORECASE)


def redact(text: str, known: Sequence[str] = ()) -> str:
    """Text with PHI replaced by [PHONE], [DATE], [NUMBER], [EMAIL] and [NAME]."""
    out = _EMAIL.sub("[EMAIL]", text)
    out = _PHONE.sub("[PHONE]", out)
    out = _NUMERIC_DATE.sub("[DATE]", out)
    out = _SPOKEN_DATE.sub("[DATE]", out)
    out = _DIGIT_RUN.sub("[NUMBER]", out)
    out = _SPOKEN_RUN.sub(lambda m: "[NUMBER]" + (" " if m.group(0).endswith(" ") else ""), out)
    names = _name_pattern(known)
    if names is not None:
        out = names.sub("[NAME]", out)
    return out
