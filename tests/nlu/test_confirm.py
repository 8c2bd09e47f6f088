"""Specifications of yes/no reading."""

from __future__ import annotations

import pytest

from nlu.confirm import yes_no


@pytest.mark.parametrize(
    "text",
    ["yes", "Yeah, that's right", "yep", "correct", "that is correct", "uh huh", "sure",
     "right", "yes please", "mm hmm yes", "absolutely", "1", "go ahead", "no wait, yes"],
)
def test_yes(text: str) -> None:
    assert yes_no(text) is True


@pytest.mark.parametrize(
    "text",
    ["no", "nope", "no that's wrong", "that is not correct", "not right", "incorrect",
     "nah", "absolutely not", "no, it's March fifth", "2", "that's not my birthday"],
)
def test_no(text: str) -> None:
    assert yes_no(text) is False


@pytest.mark.parametrize("text", ["I'm not sure", "what", "maybe", "", "hello", "I don't know"])
def test_unclear(text: str) -> None:
    assert yes_no(text) is None
