"""Specifications of date parsing: dates of birth, booking wishes, read-back."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from clinicline.bench_names import BIRTHDAYS, ways_to_say
from nlu.dates import only_a_date, parse_dob, parse_when, speak_date, stated_dob

TODAY = date(2026, 11, 27)  # a Friday
NOW = datetime(2026, 11, 27, 9, 30)


@pytest.mark.parametrize(
    "text",
    [
        "March fourth nineteen seventy two",
        "march 4th 1972",
        "3 4 1972",
        "03/04/1972",
        "3-4-72",
        "the fourth of march seventy two",
        "4th of March, 1972",
        "03041972",
        "030472",
        "oh three oh four nineteen seventy two",
        "zero three zero four one nine seven two",
        "my date of birth is march the fourth 1972",
        "Mar 4 1972",
    ],
)
def test_dob_in_any_spoken_or_keyed_form(text: str) -> None:
    assert parse_dob(text, TODAY) == date(1972, 3, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("december twenty fifth eighty", date(1980, 12, 25)),
        ("june thirtieth two thousand one", date(2001, 6, 30)),
        ("the twenty third of october nineteen fifty five", date(1955, 10, 23)),
        ("january 5 oh five", date(2005, 1, 5)),
        ("25/12/1980", date(1980, 12, 25)),
        ("seven twelve sixty", date(1960, 7, 12)),
        ("feb 29 2000", date(2000, 2, 29)),
        # A day word heard as its homophone right after the month (a real decode).
        ("It's March for 2000.", date(2000, 3, 4)),
        ("July to, 1990", date(1990, 7, 2)),
    ],
)
def test_dob_variants(text: str, expected: date) -> None:
    assert parse_dob(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The day just before the month, after words of her own (the dates bench's decodes).
        ("That's the 14th of November, 1950.", date(1950, 11, 14)),
        ("It's the first to march 2021.", date(2021, 3, 1)),
        ("um, it's the twenty first of June, nineteen ninety", date(1990, 6, 21)),
        # "twenty second" written as a number of seconds.
        ("20 seconds, February 2010.", date(2010, 2, 22)),
        ("20-second January 1933.", date(1933, 1, 22)),
        # A word misheard after a whole year.
        ("It's the 20th of May, 1980 statement.", date(1980, 5, 20)),
    ],
)
def test_dob_as_whisper_writes_it(text: str, expected: date) -> None:
    assert parse_dob(text, TODAY) == expected


@pytest.mark.parametrize(
    "text", ["That's the July 1982.", "March 1972", "Daught the up to January 2019."]
)
def test_a_month_and_a_year_make_no_date_of_birth(text: str) -> None:
    # No day was said: a day made from the year's digits ("July 19, 1982") would be read back
    # as if she had said it. Asked again, she says the whole date.
    assert parse_dob(text, TODAY) is None


def test_two_digit_year_is_never_in_the_future() -> None:
    assert parse_dob("may 2 30", TODAY) == date(1930, 5, 2)
    assert parse_dob("may 2 19", TODAY) == date(2019, 5, 2)


@pytest.mark.parametrize(
    "text",
    ["january 5 2030", "february 30 1990", "13 13 1980", "feb 29 2001", "hello there", "",
     "march", "1850 march 3"],
)
def test_future_impossible_or_missing_dob_is_rejected(text: str) -> None:
    assert parse_dob(text, TODAY) is None


def test_speak_date_reads_month_ordinal_and_year() -> None:
    assert speak_date(date(1972, 3, 4)) == "March fourth, 1972"
    assert speak_date(date(1990, 1, 23)) == "January twenty third, 1990"
    assert speak_date(date(2001, 12, 31)) == "December thirty first, 2001"


@pytest.mark.parametrize(
    ("text", "start", "end", "part"),
    [
        ("next Tuesday morning", date(2026, 12, 1), date(2026, 12, 1), "morning"),
        ("tomorrow afternoon", date(2026, 11, 28), date(2026, 11, 28), "afternoon"),
        ("the fifth", date(2026, 12, 5), date(2026, 12, 5), None),
        ("on the 30th", date(2026, 11, 30), date(2026, 11, 30), None),
        ("next week", date(2026, 11, 30), date(2026, 12, 6), None),
        ("Monday the 7th", date(2026, 12, 7), date(2026, 12, 7), None),
        ("march 10th", date(2027, 3, 10), date(2027, 3, 10), None),
        ("wednesday evening", date(2026, 12, 2), date(2026, 12, 2), "evening"),
        ("today", TODAY, TODAY, None),
        ("in two weeks", date(2026, 12, 11), date(2026, 12, 17), None),
    ],
)
def test_when_dates(text: str, start: date, end: date, part: str | None) -> None:
    when = parse_when(text, NOW)
    assert when is not None
    assert (when.start, when.end, when.part_of_day) == (start, end, part)


def test_when_after_three_means_afternoon_time() -> None:
    when = parse_when("anytime after 3", NOW)
    assert when is not None and when.earliest == time(15, 0) and when.start == TODAY


def test_when_before_noon_on_friday() -> None:
    when = parse_when("before noon on Friday", NOW)
    assert when is not None
    assert when.start == TODAY and when.latest == time(12, 0)


def test_when_between_two_times() -> None:
    when = parse_when("thursday between 10 am and 2", NOW)
    assert when is not None
    assert (when.start, when.earliest, when.latest) == (date(2026, 12, 3), time(10), time(14))


@pytest.mark.parametrize(
    ("said", "earliest", "latest"),
    [
        ("tuesday between 5 and 7", time(17), time(19)),  # both in the evening, not 17 to 7
        ("tuesday from 11 to 1", time(11), time(13)),
        ("tuesday from 10 to 7", time(10), time(19)),
        ("tuesday between 9 and 11", time(9), time(11)),
    ],
)
def test_a_range_of_hours_ends_after_it_starts(said: str, earliest: time, latest: time) -> None:
    when = parse_when(said, NOW)
    assert when is not None and (when.earliest, when.latest) == (earliest, latest)


@pytest.mark.parametrize("said", ["as soon as possible please", "as early as possible"])
def test_when_as_soon_as_possible_is_the_next_two_weeks(said: str) -> None:
    when = parse_when(said, NOW)
    assert when is not None and when.start == TODAY and (when.end - when.start).days == 13


@pytest.mark.parametrize(
    ("heard", "earliest"),
    [
        # Half past two as Whisper writes it from a call: "2.30", "2 30", "230".
        ("Next Thursday at 2.30.", time(14, 30)),
        ("next thursday at 2 30", time(14, 30)),
        ("Next Thursday at 230.", time(14, 30)),
        ("Monday at 10.45", time(10, 45)),
        ("at 1030 please", time(10, 30)),
        # "three" and "four" misheard after "after" and "at" (espeak-ng and flite, 2026-12-05).
        ("Wednesday after free.", time(15, 0)),
        ("Tuesday at for", time(16, 0)),
    ],
)
def test_a_time_as_the_recogniser_writes_it(heard: str, earliest: time) -> None:
    when = parse_when(heard, NOW)
    assert when is not None and when.earliest == earliest, when


@pytest.mark.parametrize(
    ("heard", "start", "earliest"),
    [
        ("Tuesday at 2 15", date(2026, 12, 1), time(14, 15)),  # the next Tuesday, not the 15th
        ("Tuesday the 15th at 2", date(2026, 12, 15), time(14, 0)),
        ("Tuesday at 2 75", date(2026, 12, 1), None),  # no such time
    ],
)
def test_a_day_of_month_and_minutes_are_told_apart(
    heard: str, start: date, earliest: time | None
) -> None:
    when = parse_when(heard, NOW)
    assert when is not None and (when.start, when.earliest) == (start, earliest), when


def test_the_week_after_next() -> None:
    when = parse_when("The week after next.", NOW)  # NOW is a Friday
    assert when is not None and (when.start, when.end) == (date(2026, 12, 7), date(2026, 12, 13))


def test_when_without_any_wish_is_none() -> None:
    assert parse_when("I need a refill", NOW) is None


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        ("Mark IV, 1972.", date(1972, 3, 4)),  # whisper's "March fourth" as a name
        ("marsh fourth nineteen seventy two", date(1972, 3, 4)),
        ("the IV of March 1972", date(1972, 3, 4)),
        ("June XXXI 1980", None),  # no such day
        ("Mark", None),  # a name alone is not a date
        ("Mark Lopez", None),
        ("Louis XIV 1972", None),
    ],
)
def test_dob_survives_common_mishearings_without_inventing_dates(
    heard: str, expected: date | None
) -> None:
    assert parse_dob(heard, TODAY) == expected


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        # Dates said in words that whisper wrote as digits run together.
        ("719 1990.", date(1990, 7, 19)),  # "seven nineteen nineteen ninety"
        ("517, 1983.", date(1983, 5, 17)),
        ("621-1969", date(1969, 6, 21)),
        ("1030-1972.", date(1972, 10, 30)),
        ("February 2810.", date(2010, 2, 28)),  # "February twenty eighth ten"
        ("January 905.", date(2005, 1, 9)),  # "January ninth oh five"
        ("121 1935", None),  # January 21 or December 1: never a guess
        ("1313 1990", None),
        ("March 4444", None),
        ("11, 2058.", date(1958, 11, 20)),  # "eleven twenty fifty eight"
        ("3 472", date(1972, 3, 4)),  # "three four seventy two"
        ("11 1958", None),  # November 1958: no day said, none invented
        ("13 2058", None),
        # The whole date in one run: month, day, two- or four-digit year.
        ("52087.", date(1987, 5, 20)),  # "five twenty eighty seven"
        ("61631", date(1931, 6, 16)),  # "six sixteen thirty one"
        ("6149", date(1949, 6, 1)),  # "six one forty nine"
        ("9141990", date(1990, 9, 14)),
        ("1974", None),  # a year alone is no date of birth
        ("11122", None),  # January 11 or November 1
        ("1231990", None),  # January 23 or December 3
    ],
)
def test_digits_run_together_are_split_only_one_way(heard: str, expected: date | None) -> None:
    assert parse_dob(heard, TODAY) == expected


def test_a_hundred_ways_of_saying_a_date_of_birth_are_understood() -> None:
    said = [(d, text) for d in BIRTHDAYS for text in ways_to_say(d)]
    assert len(said) == 100
    heard = [(text, d, parse_dob(text, TODAY)) for d, text in said]
    assert [(text, got) for text, d, got in heard if got != d] == []


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("March 4, 1972.", date(1972, 3, 4)),
        ("It's the fourth of March, 72.", date(1972, 3, 4)),
        ("my date of birth is 7 19 90", date(1990, 7, 19)),
        ("03/04/1972", date(1972, 3, 4)),
        ("Maria Lopez, March 4 1972", None),  # a name with it: the name question's answer
        ("June Carter", None),
        ("April Smith 1980", None),
        ("March", None),
    ],
)
def test_an_answer_that_is_only_a_date(said: str, expected: date | None) -> None:
    assert only_a_date(said, TODAY) == expected


@pytest.mark.parametrize(
    ("said", "born"),
    [
        ("Hi this is Maria Lopez, date of birth March 4th, 1972 and I need a refill of my "
         "lisinopril", date(1972, 3, 4)),
        ("my DOB is 3/4/72.", date(1972, 3, 4)),
        ("born November twentieth nineteen fifty eight and I want to cancel my appointment on "
         "Monday", date(1958, 11, 20)),
        ("Her birthday is 11/20/1958", date(1958, 11, 20)),
        ("my date of birth is July 19th, 1990, and I need to book a checkup for next week",
         date(1990, 7, 19)),
        ("date of birth June thirtieth two thousand and one, I need a refill", date(2001, 6, 30)),
        # No date of birth named, or not a whole one.
        ("I want to book for my birthday next month", None),
        ("I was born in March", None),
        ("My date of birth is March 4. I need a refill", None),
        ("I need to move my appointment on March 4th 2027", None),
    ],
)
def test_a_date_of_birth_given_unasked_is_the_date_after_the_words_that_name_it(
    said: str, born: date | None
) -> None:
    assert stated_dob(said, TODAY) == born


@pytest.mark.parametrize(
    ("said", "born"),
    [
        ("Hello, this is Maria Lopez, March 4th, 1972, calling about my test result.",
         date(1972, 3, 4)),
        ("This is Maria Lopez 3 4 72 I need a refill", date(1972, 3, 4)),
        ("This is Maria Lopez, calling about my appointment on March 4th", None),
        ("This is Maria Lopez calling about my appointment on March 4th 2027", None),
    ],
)
def test_a_whole_date_right_after_the_name_she_gave_is_her_date_of_birth(
    said: str, born: date | None
) -> None:
    assert stated_dob(said, TODAY, after_name="Maria Lopez") == born
