"""How dates, times and choices are said to, and heard from, a caller on the phone."""

from __future__ import annotations

import re
from datetime import date, datetime

_ORDINALS = {
    "first": 0, "one": 0, "1st": 0, "earliest": 0,
    "second": 1, "two": 1, "2nd": 1, "middle": 1,
    "third": 2, "three": 2, "3rd": 2,
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOUR_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "noon": 12,
}


def speak_time(moment: datetime) -> str:
    """'9 AM', '2:30 PM': TTS reads these naturally."""
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    if moment.minute:
        return f"{hour}:{moment.minute:02d} {suffix}"
    return f"{hour} {suffix}"


def speak_day(day: date) -> str:
    """'Tuesday, March 5' — the year is left out for dates in the coming months."""
    return f"{day.strftime('%A')}, {day.strftime('%B')} {day.day}"


def speak_moment(moment: datetime) -> str:
    return f"{speak_day(moment.date())} at {speak_time(moment)}"


def choose(text: str, options: list[datetime], *, yes_means_first: bool) -> int | None:
    """Which of the offered times the caller picked: by ordinal, weekday or hour."""
    words = re.findall(r"[a-z0-9:]+", text.lower())
    if "last" in words and options:
        return len(options) - 1
    for word in words:
        index = _ORDINALS.get(word)
        if index is not None and index < len(options) and word not in _HOUR_WORDS:
            return index
    days = [i for i, o in enumerate(options) if _WEEKDAYS[o.weekday()] in words]
    if len(days) == 1:
        return days[0]
    hours = _hours_mentioned(words)
    by_hour = [i for i, o in enumerate(options) if (o.hour % 12 or 12) in hours]
    if len(by_hour) == 1:
        return by_hour[0]
    for word in words:
        index = _ORDINALS.get(word)
        if index is not None and index < len(options):
            return index
    return 0 if yes_means_first and options else None


def _hours_mentioned(words: list[str]) -> set[int]:
    hours: set[int] = set()
    for word in words:
        head = word.split(":")[0]
        if head.isdigit() and 1 <= int(head) <= 12:
            hours.add(int(head))
        elif word in _HOUR_WORDS:
            hours.add(_HOUR_WORDS[word])
    return hours
