"""'Stop calling me' and a reminder's choice, as patients put them."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from nlu.outreach import (
    CallLater,
    call_later,
    no_time_preference,
    reminder_choice,
    wants_no_calls,
)


@pytest.mark.parametrize(
    "said",
    [
        "please stop calling me",
        "Quit calling this number",
        "can you take me off your list",
        "remove my number please",
        "don't ever call me again",
        "I want to opt out",
        "no more of these calls",
        "put me on the do not call list",
        "stop these robo calls",
    ],
)
def test_an_opt_out_is_heard_however_it_is_put(said: str) -> None:
    assert wants_no_calls(said)


@pytest.mark.parametrize(
    "said",
    [
        "hello who is this",
        "can you call me back later",
        "I called yesterday about it",
        "please call my daughter instead",
        "stop, I mean yes",
        "",
    ],
)
def test_ordinary_answers_are_not_opt_outs(said: str) -> None:
    assert not wants_no_calls(said)


@pytest.mark.parametrize(
    ("said", "digits", "choice"),
    [
        ("yes I'll be there", None, "confirm"),
        ("confirm please", None, "confirm"),
        ("please cancel it", None, "cancel"),
        ("I won't be able to make it", None, "cancel"),
        ("can we move it to another day", None, "reschedule"),
        ("I need to cancel and reschedule", None, "reschedule"),
        ("no don't cancel it", None, "confirm"),
        (None, "1", "confirm"),
        (None, "2", "cancel"),
        (None, "3", "reschedule"),
        (None, "9", None),
        ("Press 3.", None, "reschedule"),
        ("option two please", None, "cancel"),
        ("One.", None, "confirm"),
        ("the second one", None, None),
        ("I have one question", None, None),
        ("what was that", None, None),
    ],
)
def test_a_reminders_choice_from_words_or_keys(
    said: str | None, digits: str | None, choice: str | None
) -> None:
    assert reminder_choice(said, digits) == choice


MONDAY_3PM = datetime(2031, 3, 3, 15, 0)


@pytest.mark.parametrize(
    ("said", "after", "before", "tomorrow"),
    [
        ("can you call me back after 6", time(18), None, False),
        ("I'm at work, could you ring me after five thirty", time(17, 30), None, False),
        ("call back between 4 and 6 pm please", time(16), time(18), False),
        ("call me back between 5 and 7", time(17), time(19), False),
        ("call me after 7", time(19), None, False),  # said at 3 PM: not 7 AM, long gone
        ("could you call me back tomorrow after 7", time(7), None, True),
        ("call me back tomorrow after 7 am", time(7), None, True),
        ("could you call me in the evening", time(17), None, False),
        ("call me tomorrow morning", None, time(12), True),
        ("call me before noon", None, time(12), False),
        ("I'm driving right now", None, None, False),
        ("sorry, this isn't a good time", None, None, False),
        ("can you call later", None, None, False),
    ],
)
def test_a_call_later_is_heard_with_the_hours_she_gives(
    said: str, after: time | None, before: time | None, tomorrow: bool
) -> None:
    assert call_later(said, MONDAY_3PM) == CallLater(after, before, tomorrow)


@pytest.mark.parametrize(
    "said",
    [
        "call me back",  # on a results call: the nurse's call back we offered
        "please have a nurse call me back later",
        "I'd like to move it to a later time",
        "stop calling me",
        "I called after six yesterday",
        "Maria Lopez",
        "",
    ],
)
def test_other_answers_are_not_a_call_later(said: str) -> None:
    assert call_later(said, MONDAY_3PM) is None


@pytest.mark.parametrize(
    ("said", "on_purpose"),
    [
        ("I don't know, whenever", True),
        ("any time is fine", True),
        ("it doesn't matter", True),
        ("just call later", True),
        ("not sure, up to you", True),
        ("Can you call me back", False),  # the hour lost from the end of her sentence
        ("can you call me back after sex", False),  # the hour misheard
        ("the usual", False),
    ],
)
def test_an_answer_without_hours_is_told_from_one_that_lost_them(
    said: str, on_purpose: bool
) -> None:
    assert no_time_preference(said) is on_purpose
