"""Dates as callers say or key them: dates of birth, appointment wishes, and read-back.

US order (month, day, year) is assumed when a date is all numbers, unless the first number
cannot be a month. Two-digit years land in the most recent century that is not in the future.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from nlu.numbers import ORDINALS, TEENS, TENS, UNITS, parse_year_words

MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}
MONTH_NAMES = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]
_ORDINAL_WORDS = {v: k for k, v in ORDINALS.items()}
_UNIT_WORDS = {v: k for k, v in UNITS.items() if k not in ("oh", "o", "nought")}
_TENS_WORDS = {v: k for k, v in TENS.items() if k != "fourty"}
_FILLER = {"the", "of", "on", "born", "my", "birthday", "date", "birth", "is", "it", "its",
           "was", "uh", "um", "and", "dob", "in", "a", "i", "im", "am", "s"}
_MAX_AGE_YEARS = 125
# A four-digit run after a month in these last years is a year, never a day and a year glued
# ("March 1972"): "January 1905" can still be "January nineteenth, oh five".
_RECENT_YEARS = 100


@dataclass(frozen=True, slots=True)
class WhenRequest:
    """What a caller asked for: a date range, and optionally a part of day or time bounds."""

    start: date
    end: date
    part_of_day: str | None = None  # "morning" | "afternoon" | "evening"
    earliest: time | None = None
    latest: time | None = None


# Whisper writes "twenty second" as "20 seconds" or "20-second": an ordinal after tens.
_TENS_THEN_ORDINAL = re.compile(r"\b([23]0)[\s-]+seconds?\b")


def _tokens(text: str) -> list[str]:
    text = _TENS_THEN_ORDINAL.sub(lambda m: str(int(m.group(1)) + 2), text.lower())
    text = text.replace("-", " ").replace("/", " ").replace(".", " ").replace(",", " ")
    text = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text)
    return re.findall(r"[a-z]+|\d+", text)


def _day_at(tokens: list[str], i: int) -> tuple[int, int] | None:
    """A day of month starting at tokens[i]: (day, tokens used)."""
    if i >= len(tokens):
        return None
    tok = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if tok in ("twenty", "thirty") and (nxt in ORDINALS or nxt in UNITS) and nxt not in (
        "oh", "o", "zero"
    ):
        value = ORDINALS.get(nxt, UNITS.get(nxt, 0))
        if value < 10:
            return TENS[tok] + value, 2
    if tok in ORDINALS:
        return ORDINALS[tok], 1
    if tok in TEENS:
        return TEENS[tok], 1
    if tok in TENS:
        return TENS[tok], 1
    if tok in ("oh", "zero", "o") and nxt in UNITS:
        return UNITS[nxt], 2
    if tok in UNITS:
        return UNITS[tok], 1
    if tok.isdigit() and len(tok) <= 2:
        return int(tok), 1
    return None


def _full_year(value: int, digits: int, today: date) -> int:
    if digits == 4:
        return value
    year = 2000 + value
    return year if year <= today.year else 1900 + value


def _valid_dob(year: int, month: int, day: int, today: date) -> date | None:
    try:
        candidate = date(year, month, day)
    except ValueError:
        return None
    if candidate > today or today.year - candidate.year > _MAX_AGE_YEARS:
        return None
    return candidate


def _keypad(digits: str, today: date) -> date | None:
    """MMDDYYYY or MMDDYY typed on the keypad or read digit by digit."""
    if len(digits) == 8:
        return _valid_dob(int(digits[4:]), int(digits[:2]), int(digits[2:4]), today)
    if len(digits) == 6:
        year = _full_year(int(digits[4:]), 2, today)
        return _valid_dob(year, int(digits[:2]), int(digits[2:4]), today)
    return None


def _single_digits(tokens: list[str]) -> str | None:
    digits = []
    for tok in tokens:
        if tok.isdigit():
            digits.append(tok)
        elif tok in UNITS:
            digits.append(str(UNITS[tok]))
        else:
            return None
    joined = "".join(digits)
    return joined if all(len(d) == 1 for d in digits) or len(digits) == 1 else None


def _year_from(tokens: list[str], today: date) -> int | None:
    parsed = parse_year_words(" ".join(tokens))
    return _full_year(*parsed, today) if parsed else None


# Whisper can take "March fourth" for a name and write "Mark IV": a Roman numeral day after a
# word that sounds like a month. Both repairs apply only where a day and a year come with it.
_ROMAN_DAY = re.compile(r"\b(?=[XVI]{2,6}\b)(X{0,3})(IX|IV|V?I{0,3})\b")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}
_MONTH_SOUNDALIKES = {"mark": "march", "marc": "march", "marsh": "march", "marks": "march"}
# A day said as a word right after the month, written as its homophone ("It's March for 2000"
# for "March fourth two thousand", the names bench's awb voice): only in that place.
_DAY_SOUNDALIKES = {"for": "four", "fore": "four", "to": "two", "too": "two", "won": "one",
                    "ate": "eight"}  # fmt: skip


def _roman(numeral: str) -> int:
    total = 0
    for i, ch in enumerate(numeral):
        value = _ROMAN_VALUES[ch]
        nxt = _ROMAN_VALUES[numeral[i + 1]] if i + 1 < len(numeral) else 0
        total += -value if value < nxt else value
    return total


def _arabic_days(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        value = _roman(match.group(0))
        return str(value) if 1 <= value <= 31 else match.group(0)

    return _ROMAN_DAY.sub(repl, text)


def parse_dob(text: str, today: date) -> date | None:
    """A date of birth from any spoken or keyed form, or None if unusable.

    "March fourth nineteen seventy two", "3/4/72", "the fourth of march seventy two",
    "03041972" (keypad), "oh three oh four nineteen seventy two". Future and impossible
    dates give None.
    """
    tokens = [t for t in _tokens(_arabic_days(text)) if t not in _FILLER]
    if not tokens:
        return None
    digits = _single_digits(tokens)
    if digits is not None and len(digits) in (6, 8):
        return _keypad(digits, today)
    month_at = next((i for i, t in enumerate(tokens) if t in MONTHS), None)
    if month_at is not None:
        return _with_month_name(tokens, month_at, today)
    heard_as = next((i for i, t in enumerate(tokens) if t in _MONTH_SOUNDALIKES), None)
    if heard_as is not None:
        repaired = list(tokens)
        repaired[heard_as] = _MONTH_SOUNDALIKES[tokens[heard_as]]
        found = _with_month_name(repaired, heard_as, today)
        if found is not None:
            return found
    return (
        _all_numbers(tokens, today)
        or _glued_month_day(tokens, today)
        or _glued_after_month_number(tokens, today)
        or _one_run(tokens, today)
    )


_DATE_WORDS = (
    set(MONTHS) | set(ORDINALS) | set(TEENS) | set(TENS) | set(UNITS) | _FILLER
    | {"hundred", "thousand", "st", "nd", "rd", "th"}
)  # fmt: skip


def only_a_date(text: str, today: date) -> date | None:
    """The date of birth in an answer that holds nothing else ("March 4, 1972", "it's the
    fourth of March seventy two"): callers asked for a name sometimes give the date first.
    None when other words come with it ("Maria Lopez, March 4 1972") or no date is there."""
    born = parse_dob(text, today)
    if born is None:
        return None
    tokens = _tokens(_arabic_days(text))
    return born if all(t.isdigit() or t in _DATE_WORDS for t in tokens) else None


# "…and my date of birth is March 4th, 1972, I need…": a date of birth given unasked.
_DOB_LEAD = re.compile(
    r"\b(?:date\s+of\s+birth|birth\s*date|birthday|d\.?\s?o\.?\s?b\b\.?|born)"
    r"(?:\s+(?:is|was|on|in))*[\s,:]*",
    re.IGNORECASE,
)
_OF_A_DATE = re.compile(r"[\d/.-]+(?:st|nd|rd|th)?")


def stated_dob(text: str, today: date, *, after_name: str | None = None) -> date | None:
    """The date of birth a caller gives before she is asked, in words that name it ("date of
    birth", "born on", "DOB") and the date words right after them, or a whole date right after
    the name she gave (`after_name`: "This is Maria Lopez, March 4th, 1972, calling…");
    None otherwise."""
    lead = _DOB_LEAD.search(text)
    if lead is not None:
        return _date_words_from(text[lead.end() :], today)
    at = text.find(after_name) if after_name else -1
    if after_name is None or at < 0:
        return None
    return _date_words_from(text[at + len(after_name) :].lstrip(" ,"), today)


def _date_words_from(text: str, today: date) -> date | None:
    """A date of birth from the date words `text` begins with (the rest is her request)."""
    kept: list[str] = []
    words = text.split()
    for at, word in enumerate(words):
        bare = word.lower().strip(",.;:!?")
        if bare == "and":
            # "two thousand and five" goes on; "1972 and I need a refill" ends the date.
            following = words[at + 1].lower().strip(",.;:!?") if at + 1 < len(words) else ""
            if following not in _DATE_WORDS:
                break
        elif not (_OF_A_DATE.fullmatch(bare) or bare in _DATE_WORDS):
            break
        kept.append(word)
        if word[-1:] in ".!?;" and not _OF_A_DATE.fullmatch(word.lower()):
            break
    return parse_dob(" ".join(kept), today) if kept else None


def _with_month_name(tokens: list[str], month_at: int, today: date) -> date | None:
    month = MONTHS[tokens[month_at]]
    if month_at + 1 < len(tokens) and tokens[month_at + 1] in _DAY_SOUNDALIKES:
        tokens = [*tokens[: month_at + 1], _DAY_SOUNDALIKES[tokens[month_at + 1]],
                  *tokens[month_at + 2 :]]  # fmt: skip
    before = _day_before(tokens, month_at)
    after = _day_at(tokens, month_at + 1)
    if before is not None:  # "the fourth of march 1972", "that's the 14th of November, 1950"
        day, rest = before, tokens[month_at + 1 :]
    elif after is not None:  # "march fourth 1972"
        day, used = after
        rest = tokens[month_at + 1 + used :]
    else:
        return _glued_day_year(tokens[month_at + 1 :], month, today)
    year = _year_from(rest, today)
    if year is None and rest and len(rest[0]) == 4 and rest[0].isdigit():
        year = int(rest[0])  # "May 20th, 1980 statement": a word misheard after the year
    return _valid_dob(year, month, day, today) if year else None


# "first to March" is Whisper's "first of March": a word it puts between a day and its month.
_DAY_MONTH_JOINERS = frozenset({"to"})


def _day_before(tokens: list[str], month_at: int) -> int | None:
    """The day said just before the month ("twenty first June", "that's the 14th of May"),
    or None. The words before it are left alone: they are her lead-in, not the date."""
    end = month_at - 1 if month_at and tokens[month_at - 1] in _DAY_MONTH_JOINERS else month_at
    for start in (end - 2, end - 1):  # the longer day first: "twenty first", then "first"
        if start < 0:
            continue
        found = _day_at(tokens, start)
        if found is not None and start + found[1] == end:
            return found[0]
    return None


# Whisper writes some dates said in words as digits run together: "January 905" for "January
# ninth, oh five", "719 1990" for "seven nineteen nineteen ninety", "517, 1983". Only a split
# that makes exactly one valid date is used: the date is read back to the caller anyway.
def _only(found: set[date]) -> date | None:
    return found.pop() if len(found) == 1 else None


def _glued_day_year(rest: list[str], month: int, today: date) -> date | None:
    """ "2810" after "February": day 28, year (20)10. A run that is a recent year ("July
    1982", no day said) is that year: splitting it would make up a day (the 19th)."""
    if len(rest) != 1 or not rest[0].isdigit() or len(rest[0]) not in (3, 4):
        return None
    run = rest[0]
    if len(run) == 4 and today.year - _RECENT_YEARS <= int(run) <= today.year:
        return None
    found = {
        _valid_dob(_full_year(int(run[cut:]), 2, today), month, int(run[:cut]), today)
        for cut in (1, 2)
        if len(run) - cut == 2
    }
    return _only({d for d in found if d is not None})


def _glued_month_day(tokens: list[str], today: date) -> date | None:
    """ "719 1990": month 7, day 19; "1030 1972": month 10, day 30."""
    if len(tokens) < 2 or not tokens[0].isdigit() or len(tokens[0]) not in (3, 4):
        return None
    year = _year_from(tokens[1:], today)
    if year is None:
        return None
    run = tokens[0]
    found = {
        _valid_dob(year, int(run[:cut]), int(run[cut:]), today)
        for cut in (1, 2)
        if len(run) - cut <= 2  # a day has at most two digits
    }
    return _only({d for d in found if d is not None})


def _glued_after_month_number(tokens: list[str], today: date) -> date | None:
    """ "11, 2058" for "eleven twenty fifty eight": month 11, then day 20 and year (19)58 in
    one run. A run that is a year of birth on its own ("11 1958") is that year, no split."""
    if len(tokens) != 2 or not tokens[0].isdigit() or not 1 <= int(tokens[0]) <= 12:
        return None
    run = tokens[1]
    if not run.isdigit() or (len(run) == 4 and 1900 <= int(run) <= today.year):
        return None
    return _glued_day_year([run], int(tokens[0]), today)


def _one_run(tokens: list[str], today: date) -> date | None:
    """A whole date in one run of digits: "52087" for "five twenty eighty seven", "61631" for
    "six sixteen thirty one", "6149" for "six one forty nine" (month, day, then a two- or
    four-digit year). A four-digit run that can be a year of birth is that year alone."""
    if len(tokens) != 1 or not tokens[0].isdigit() or len(tokens[0]) not in (4, 5, 7):
        return None
    run = tokens[0]
    if len(run) == 4 and 1900 <= int(run) <= today.year:
        return None
    found = set()
    for month_digits in (1, 2):
        for day_digits in (1, 2):
            year_digits = len(run) - month_digits - day_digits
            if year_digits not in (2, 4):
                continue
            month, day = int(run[:month_digits]), int(run[month_digits:-year_digits])
            if run[month_digits] == "0" and day_digits == 2 and day < 10:
                continue  # "0" does not start a day said as a number of its own
            year = _full_year(int(run[-year_digits:]), year_digits, today)
            found.add(_valid_dob(year, month, day, today))
    return _only({d for d in found if d is not None})


def _all_numbers(tokens: list[str], today: date) -> date | None:
    first = _day_at(tokens, 0)
    if first is None:
        return None
    second = _day_at(tokens, first[1])
    if second is None:
        return None
    year = _year_from(tokens[first[1] + second[1] :], today)
    if year is None:
        return None
    month, day = first[0], second[0]
    if month > 12 >= day:  # day-first, "25 12 1980"
        month, day = day, month
    return _valid_dob(year, month, day, today)


def ordinal_words(n: int, joiner: str = " ") -> str:
    """A day of the month in words: "fourth", "twenty first" (`joiner` "-": "twenty-first",
    as Whisper writes it)."""
    if n in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[n]
    tens, unit = divmod(n, 10)
    return f"{_TENS_WORDS[tens * 10]}{joiner}{_ORDINAL_WORDS[unit]}"


def speak_date(d: date) -> str:
    """How the bot reads a date back: "March fourth, 1972"."""
    return f"{MONTH_NAMES[d.month - 1]} {ordinal_words(d.day)}, {d.year}"


_WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tues": 1, "tue": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thu": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}
_ASAP = re.compile(
    r"\b(asap|a s a p|as (soon|early) as (possible|you can|i can)|soonest|earliest|"
    r"first available|next available|any ?time|whenever|first opening|right away)\b"
)
_PARTS = (("morning", "morning"), ("afternoon", "afternoon"), ("evening", "evening"),
          ("tonight", "evening"), ("after work", "evening"), ("lunch ?time", "afternoon"))
# "2:30", and as Whisper also writes it, "2.30" (a space once full stops are dropped) and "230".
_CLOCK = (r"(\d{3,4}(?!\w)|\d{1,2}(?:[: ]\d\d(?!\w))?|noon|midday|lunch|"
          r"[a-z]+(?: thirty| fifteen| forty five)?)")
_AMPM = r"(?:\s*(am|pm|a m|p m|in the morning|in the afternoon|in the evening|o ?clock))?"
_BOUND = re.compile(rf"\b(after|before|by|at|around|from|between|until|till|and|to)\s+{_CLOCK}"
                    rf"{_AMPM}")
# Hours as the recogniser mishears them after "at" or "after": "Wednesday after free" (three,
# in espeak-ng's and flite's voices through a call), "at for", "at ate".
_HOUR_SOUNDALIKES = {"free": "three", "tree": "three", "for": "four", "fore": "four",
                     "ate": "eight", "won": "one"}
_MISHEARD_HOUR = re.compile(rf"\b(after|before|at|around|until|till)\s+"
                            rf"({'|'.join(_HOUR_SOUNDALIKES)})\b")
_IN_N = re.compile(r"\bin (a|an|one|two|three|four|a couple of|a few|\d+) (day|days|week|weeks)\b")
_WORD_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "a couple of": 2,
             "a few": 3}


def _clock(word: str, ampm: str | None) -> time | None:
    if word in ("noon", "midday", "lunch"):
        return time(13) if word == "lunch" else time(12)
    minute = 0
    if ":" in word or (" " in word and word.replace(" ", "").isdigit()):  # "2:30", "2 30"
        hour_text, minute_text = re.split(r"[: ]", word)
        hour, minute = int(hour_text), int(minute_text)
    elif word.isdigit() and len(word) > 2:  # "230": 2:30
        hour, minute = int(word[:-2]), int(word[-2:])
    elif word.isdigit():
        hour = int(word)
    else:
        parts = word.split()
        if parts[0] not in UNITS and parts[0] not in ("ten", "eleven", "twelve"):
            return None
        hour = UNITS.get(parts[0], TEENS.get(parts[0], 0))
        minute = {"thirty": 30, "fifteen": 15, "forty five": 45}.get(" ".join(parts[1:]), 0)
    if not 1 <= hour <= 23 or minute > 59:
        return None
    ampm = (ampm or "").replace(" ", "")
    if hour < 12 and (ampm in ("pm", "intheafternoon", "intheevening") or (
        not ampm.startswith(("am", "inthemorning")) and 1 <= hour <= 6
    )):
        hour += 12  # clinics open in the day: "after 3" means 15:00
    return time(hour, minute)


def _time_bounds(text: str) -> tuple[time | None, time | None]:
    earliest: time | None = None
    latest: time | None = None
    latest_half_said = False  # "to 7 pm", "and 7 in the morning": its half of the day was said
    text = _MISHEARD_HOUR.sub(lambda m: f"{m.group(1)} {_HOUR_SOUNDALIKES[m.group(2)]}", text)
    for match in _BOUND.finditer(text):
        word, clock = match.group(1), _clock(match.group(2), match.group(3))
        if clock is None:
            continue
        if word in ("after", "from", "between"):
            earliest = clock
        elif word in ("before", "by", "until", "till", "and", "to"):
            if word in ("and", "to") and earliest is None:
                continue
            latest, latest_half_said = clock, bool(match.group(3))
        else:  # "at 10", "around 10": a one-hour window
            earliest = clock
            latest = time(min(clock.hour + 1, 23), clock.minute)
    if (
        earliest is not None
        and latest is not None
        and latest <= earliest
        and latest.hour < 12
        and not latest_half_said
    ):
        # "Between 5 and 7": 5 is read as 5 PM, so 7 is 7 PM, not a range that ends before
        # it starts (which had left no hours at all).
        latest = time(latest.hour + 12, latest.minute)
    return earliest, latest


def _next_weekday(today: date, weekday: int, *, next_week: bool) -> date:
    if next_week:  # "next tuesday": the tuesday of next calendar week
        monday = today + timedelta(days=7 - today.weekday())
        return monday + timedelta(days=weekday)
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def _day_of_month(today: date, day: int, weekday: int | None) -> date | None:
    year, month = today.year, today.month
    fallback: date | None = None
    for _ in range(4):  # a weekday that never matches nearby is a slip: keep the day
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate and candidate >= today:
            fallback = fallback or candidate
            if weekday is None or candidate.weekday() == weekday:
                return candidate
        month, year = (1, year + 1) if month == 12 else (month + 1, year)
    return fallback


def _ordinal_day(tokens: list[str], raw: str) -> int | None:
    """A day of month said as an ordinal: "the fifth", "the 5th", "twenty third"."""
    match = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)\b", raw)
    if match:
        return int(match.group(1))
    for i, tok in enumerate(tokens):
        if tok in ORDINALS and not (i > 0 and tokens[i - 1] in ("twenty", "thirty")):
            return ORDINALS[tok]
        if tok in ("twenty", "thirty") and i + 1 < len(tokens) and tokens[i + 1] in ORDINALS:
            return TENS[tok] + ORDINALS[tokens[i + 1]]
    match = re.search(r"\bthe (\d{1,2})\b(?! (?:am|pm|o ?clock))", raw)
    return int(match.group(1)) if match else None


def _date_range(text: str, tokens: list[str], today: date) -> tuple[date, date] | None:
    if "day after tomorrow" in text:
        return today + timedelta(days=2), today + timedelta(days=2)
    if "tomorrow" in tokens:
        return today + timedelta(days=1), today + timedelta(days=1)
    if "today" in tokens or "tonight" in tokens or re.search(r"\bthis (morning|afternoon|evening)",
                                                             text):
        return today, today
    if re.search(r"\bweek after next\b", text):
        monday = today + timedelta(days=14 - today.weekday())
        return monday, monday + timedelta(days=6)
    if re.search(r"\bnext week\b", text):
        monday = today + timedelta(days=7 - today.weekday())
        return monday, monday + timedelta(days=6)
    if re.search(r"\b(this|later this|rest of the) week\b", text):
        return today, today + timedelta(days=6 - today.weekday())
    if re.search(r"\bnext month\b", text):
        start = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return start, end
    weekday = next((_WEEKDAYS[t] for t in tokens if t in _WEEKDAYS), None)
    month = next((MONTHS[t] for t in tokens if t in MONTHS and t != "may" or t == "may" and
                  re.search(r"\bmay (\d|the|[a-z]+(st|nd|rd|th))", text)), None)
    day = _ordinal_day(tokens, text)
    if month is not None:
        day = day or next((int(t) for t in tokens if t.isdigit() and int(t) <= 31), None)
        if day:
            for year in (today.year, today.year + 1):
                try:
                    candidate = date(year, month, day)
                except ValueError:
                    return None
                if candidate >= today:
                    return candidate, candidate
    if day is not None:
        found = _day_of_month(today, day, weekday)
        return (found, found) if found else None
    if weekday is not None:
        found = _next_weekday(today, weekday, next_week=bool(re.search(r"\bnext \w+day\b", text)))
        return found, found
    match = _IN_N.search(text)
    if match:
        count = _WORD_NUM.get(match.group(1)) or int(match.group(1))
        if match.group(2).startswith("week"):
            start = today + timedelta(weeks=count)
            return start, start + timedelta(days=6)
        start = today + timedelta(days=count)
        return start, start
    return None


def parse_when(text: str, now: datetime) -> WhenRequest | None:
    """What a caller asked for when booking ("next Tuesday morning", "after 3", "asap").

    Returns None when the text holds no date or time wish at all.
    """
    today = now.date()
    raw = " ".join(text.lower().replace(",", " ").replace(".", " ").split())
    tokens = _tokens(raw)
    part = next((name for phrase, name in _PARTS if re.search(rf"\b{phrase}\b", raw)), None)
    earliest, latest = _time_bounds(raw)
    span = _date_range(raw, tokens, today)
    if span is None:
        if not (_ASAP.search(raw) or part or earliest or latest):
            return None
        span = (today, today + timedelta(days=13))
    if part is None and earliest is not None and latest is None:
        part = None
    return WhenRequest(start=span[0], end=span[1], part_of_day=part, earliest=earliest,
                       latest=latest)
