"""Specifications of yes/no reading."""

from __future__ import annotations

import pytest

from nlu.confirm import (
    answer_phrases,
    asks_for_something,
    besides_giving_up,
    gives_up,
    mend_no,
    request_after_no,
    yes_no,
)


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "Yeah, that's right",
        "yep",
        "correct",
        "that is correct",
        "uh huh",
        "sure",
        "right",
        "yes please",
        "mm hmm yes",
        "absolutely",
        "1",
        "go ahead",
        "no wait, yes",
    ],
)
def test_yes(text: str) -> None:
    assert yes_no(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "nope",
        "no that's wrong",
        "that is not correct",
        "not right",
        "incorrect",
        "nah",
        "absolutely not",
        "no, it's March fifth",
        "2",
        "that's not my birthday",
    ],
)
def test_no(text: str) -> None:
    assert yes_no(text) is False


@pytest.mark.parametrize("text", ["I'm not sure", "what", "maybe", "", "hello", "I don't know"])
def test_unclear(text: str) -> None:
    assert yes_no(text) is None


def test_answers_written_with_hyphens_are_answers() -> None:
    assert yes_no("Uh-huh.") is True and yes_no("Mm-hmm") is True


def test_every_answer_phrase_is_read_as_the_answer_it_is() -> None:
    """The phrases a yes-or-no answer is heard against (`answer_phrases`): each reads as a
    yes or a no, never as nothing."""
    phrases = answer_phrases()
    assert "Yes" in phrases and "Nope" in phrases and "Uh-huh" in phrases
    assert all(yes_no(p) is not None for p in phrases), [p for p in phrases if yes_no(p) is None]


@pytest.mark.parametrize(
    ("said", "wanted"),
    [
        ("No thanks, I'd rather just book an appointment.", "I'd rather just book an appointment"),
        ("no thanks I just need a refill of my metformin", "I just need a refill of my metformin"),
        ("No. Actually, I need to cancel my appointment", "I need to cancel my appointment"),
        ("not right now, just the refill please", "just the refill please"),
        ("Can I book an appointment?", "Can I book an appointment"),  # no decline: all of it
        ("No, thank you.", ""),
        ("Nope, I'm fine.", ""),
        ("no that's okay", ""),
        ("No, I'm okay, thank you so much.", ""),
    ],
)
def test_what_a_caller_asks_for_after_turning_an_offer_down(said: str, wanted: str) -> None:
    assert request_after_no(said) == wanted


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("Know that's all.", "No that's all."),  # flite on a `make run` call, sent to Rasa
        ("Know, thanks.", "No, thanks."),
        ("Know.", "No."),
        ("Know what, I need a refill", "Know what, I need a refill"),
        ("I know that", "I know that"),
        ("Know if my results are in?", "Know if my results are in?"),
    ],
)
def test_a_no_written_as_know_is_put_right(heard: str, meant: str) -> None:
    assert mend_no(heard) == meant
    assert (yes_no(heard) is False) == meant.startswith("No")


@pytest.mark.parametrize(
    ("said", "gave_up", "besides"),
    [
        ("Never mind, I'll call back later.", True, ""),
        ("No thank you, I'll call back then", True, ""),
        ("no thanks", True, ""),
        ("forget it", True, ""),
        ("I'll just call back later", True, ""),
        ("Never mind. I'll talk back later.", True, ""),  # as whisper wrote "call back"
        ("Never mind, I'll talk.", True, ""),
        ("I'll call my daughter, she knows it", False, None),
        ("never mind, it's Maria Lopez", True, "it's Maria Lopez"),
        ("not now, I'm driving", True, "I'm driving"),
        # Asked for a name or a date, these are asked again, not taken for giving up.
        ("No.", False, None),
        ("nope", False, None),
        ("I don't know", False, None),
        ("no, it's Maria Lopez", False, None),
    ],
)
def test_giving_up_and_what_else_was_said(said: str, gave_up: bool, besides: str | None) -> None:
    assert gives_up(said) is gave_up
    if besides is not None:
        assert besides_giving_up(said) == besides


@pytest.mark.parametrize(
    ("said", "asks"),
    [
        ("I need a note for work", True),
        ("Can I get my records sent over?", True),
        ("I would like to pay my bill", True),
        ("No.", False),
        ("No thanks", False),
        ("No, I don't need anything else", False),
        ("nothing else", False),
        ("That's it", False),
        ("No, that's all I needed, bye", False),
        ("Okay bye", False),
    ],
)
def test_a_request_is_told_from_a_no_or_a_goodbye(said: str, asks: bool) -> None:
    assert asks_for_something(said) is asks
