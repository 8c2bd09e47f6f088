"""'Stop calling me' and a reminder's choice, as patients put them."""

from __future__ import annotations

import pytest

from nlu.outreach import reminder_choice, wants_no_calls


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
