"""What a patient called by the clinic means: "stop calling me", "call me after six", and the
choice she makes.

Deterministic and small on purpose: an opt-out must be honoured the moment it is said, whatever
else the call is doing, and the choice offered on a reminder ("confirm, cancel or reschedule")
has a few words and a key each. Phrases are grouped by how people put them, not listed by
sentence: a verb of calling with a stop or a negation, or asking to be taken off a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Literal

from nlu.dates import parse_when

_CALL = r"(?:call(?:ing|s)?|ring(?:ing)?|phon(?:e|ing)|contact(?:ing)?|bother(?:ing)?)"
_OPT_OUT = re.compile(
    r"\b(?:"
    # "stop calling me", "quit calling", "stop these calls", "no more calls"
    rf"(?:stop|quit|cease|end)\s+(?:\w+\s+){{0,2}}{_CALL}"
    rf"|no\s+more\s+(?:\w+\s+){{0,2}}{_CALL}"
    # "don't call me again", "do not contact me", "never call this number"
    rf"|(?:don'?t|do\s+not|never|dont)\s+(?:ever\s+)?{_CALL}\s+(?:me|us|here|this|again|anymore)"
    # "take me off your list", "remove me from", "unsubscribe", "opt out"
    r"|(?:take|get)\s+(?:me|us|this\s+number|my\s+number)\s+off"
    r"|remove\s+(?:me|us|this\s+number|my\s+number)"
    r"|unsubscribe|opt\s*(?:-\s*)?out|do\s+not\s+call\s+list|do-not-call"
    r")\b",
    re.IGNORECASE,
)

# "Call me back after six", "can you call later", "not a good time", "I'm driving": a verb of
# calling with a when, or a reason this moment is bad.
# "after 7 am", "tomorrow morning at 8": an hour in the morning on purpose.
_MORNING_SAID = re.compile(r"\b(a\.? ?m\b\.?|in the morning|morning)", re.I)
_LATER = re.compile(
    r"\b(?:"
    rf"{_CALL}\s+(?:me\s+|us\s+)?(?:back\s+)?(?:again\s+)?(?:on\s+)?"
    r"(?:later|another\s+time|some\s*other\s+time|tomorrow|tonight|after|before|between"
    r"|around|at\s+\d|in\s+the\s+(?:morning|afternoon|evening)|this\s+(?:afternoon|evening))"
    r"|(?:not|isn'?t)\s+a\s+(?:good|great|convenient)\s+time|bad\s+time"
    r"|(?:i'?m|i\s+am)\s+(?:driving|at\s+work|in\s+a\s+meeting|busy\s+(?:right\s+)?now)"
    r")\b",
    re.IGNORECASE,
)
# "Whenever", "I don't know", "later": an answer to "when would be better?" that gives no
# hours on purpose (anything else without hours was not heard whole, and is asked again).
_ANY_TIME = re.compile(
    r"\b(?:whenever|any\s*time|any\s+other\s+time|later|another\s+(?:time|day)"
    r"|(?:i\s+)?(?:don'?t|do\s+not)\s+know|not\s+sure|no\s+idea"
    r"|(?:it\s+)?(?:doesn'?t|does\s+not)\s+matter|up\s+to\s+you)\b",
    re.IGNORECASE,
)
# Parts of the day as hours she can be called (her own clock).
_PART_HOURS: dict[str, tuple[time | None, time | None]] = {
    "morning": (None, time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), None),
}


@dataclass(frozen=True)
class CallLater:
    """She asked to be called at another time: the hours she gave (her own clock), if any."""

    after: time | None = None
    before: time | None = None
    tomorrow: bool = False

    @property
    def hours_given(self) -> bool:
        return self.after is not None or self.before is not None


Choice = Literal["confirm", "cancel", "reschedule"]
_CHOICES: tuple[tuple[Choice, re.Pattern[str]], ...] = (
    # Moving first: "cancel and reschedule" and "I can't make it, can we move it" mean a move.
    (
        "reschedule",
        re.compile(
            r"\b(?:re-?schedul\w*|re-?book\w*|move\s+(?:it|my|the)|change\s+(?:it|the|my)"
            r"|another\s+(?:time|day|date)|different\s+(?:time|day|date)|a\s+new\s+time"
            r"|push\s+it|later\s+(?:time|date|day))\b",
            re.IGNORECASE,
        ),
    ),
    (
        "cancel",
        re.compile(
            r"\b(?:cancel\w*|call\s+it\s+off|won'?t\s+(?:be\s+)?(?:able\s+to\s+)?(?:make|come)"
            r"|can'?t\s+(?:make|come)|not\s+(?:be\s+)?coming|don'?t\s+need\s+it)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "confirm",
        re.compile(
            r"\b(?:confirm\w*|i'?ll\s+be\s+there|i\s+will\s+be\s+there|see\s+you\s+then"
            r"|keep\s+it|that\s+works|sounds\s+good|yes|yeah|yep|sure)\b",
            re.IGNORECASE,
        ),
    ),
)
_KEYS: dict[str, Choice] = {"1": "confirm", "2": "cancel", "3": "reschedule"}
# A key said instead of pressed: the whole answer is "3", "press three", "option two"... and
# only then — "the second one" is no "1".
_SPOKEN_KEY = re.compile(
    r"^\W*(?:(?:i'?ll\s+)?(?:press|pressing|option|number|choice)\s+)?"
    r"(1|2|3|one|two|three)\W*(?:please)?\W*$",
    re.IGNORECASE,
)
_KEY_WORDS = {"one": "1", "two": "2", "three": "3"}
_KEEP = re.compile(r"\b(?:don'?t|do\s+not|not|no\s+need\s+to)\s+(?:cancel|move|change)", re.I)


def wants_no_calls(text: str) -> bool:
    """True when the words ask the clinic to stop calling."""
    return bool(_OPT_OUT.search(text.replace("\u2019", "'")))


def call_later(text: str, now: datetime) -> CallLater | None:
    """She asks to be called another time ("call me back after 6", "I'm driving"); None when
    she does not. A nurse's call back is not this (a results call offers one)."""
    clean = text.replace("\u2019", "'")
    if "nurse" in clean.lower() or not _LATER.search(clean):
        return None
    return hours_said(clean, now)


def hours_said(text: str, now: datetime) -> CallLater:
    """The hours in an answer to "when would be a better time?" ("after six", "tomorrow
    morning"); none at all for "I don't know"."""
    clean = text.replace("\u2019", "'")
    when = parse_when(clean, now)
    after, before = (when.earliest, when.latest) if when is not None else (None, None)
    if after is None and before is None and when is not None and when.part_of_day:
        after, before = _PART_HOURS.get(when.part_of_day, (None, None))
    tomorrow = bool(re.search(r"\btomorrow\b", clean, re.I))
    if (
        after is not None
        and after.hour < 12
        and after <= now.time()
        and not tomorrow
        and not _MORNING_SAID.search(clean)
    ):
        # "Call me after 7" said at 10 AM: 7 in the evening, since 7 AM has passed (it was
        # read as 07:00, and the call back came at once).
        after = time(after.hour + 12, after.minute)
    if after is not None and before is not None and not after < before:
        after = before = None  # "between 6 and 2": no hours we can use
    return CallLater(after, before, tomorrow=tomorrow)


def no_time_preference(text: str) -> bool:
    """True when an answer to "when would be a better time?" gives no hours on purpose
    ("whenever", "I don't know", "just later")."""
    return bool(_ANY_TIME.search(text.replace("\u2019", "'")))


def reminder_choice(text: str | None, digits: str | None = None) -> Choice | None:
    """Confirm (1), cancel (2) or reschedule (3) from keys or words; None when unclear."""
    if digits:
        return _KEYS.get(digits.strip()[:1])
    clean = (text or "").replace("\u2019", "'")
    spoken = _SPOKEN_KEY.match(clean.strip())
    if spoken:
        key = spoken.group(1).lower()
        return _KEYS[_KEY_WORDS.get(key, key)]
    if _KEEP.search(clean):  # "don't cancel it": she keeps it
        return "confirm"
    for choice, pattern in _CHOICES:
        if pattern.search(clean):
            return choice
    return None
