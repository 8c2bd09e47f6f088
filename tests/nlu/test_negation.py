"""The words that turn a wish around (`nlu.negation`), shared by providers and teams."""

from __future__ import annotations

import pytest

from nlu.negation import negated, words_of


@pytest.mark.parametrize(
    ("before", "turned"),
    [
        ("anyone but", True),
        ("rather than", True),
        ("I don't want", True),
        ("I don’t want", True),
        ("not with", True),
        ("never", True),
        ("can I talk to", False),
        ("I'd like", False),
        ("not today, can I talk to", False),  # three words back and more: another clause
    ],
)
def test_a_negation_within_three_words_turns_the_wish_around(before: str, turned: bool) -> None:
    assert negated(words_of(before)) is turned
