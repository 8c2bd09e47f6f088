"""Specifications of spoken-name matching."""

from __future__ import annotations

import pytest

from nlu.names import holds_a_name, name_score


@pytest.mark.parametrize(
    ("spoken", "candidate"),
    [
        ("Maria Lopes", "Maria Lopez"),
        ("Lopez Maria", "Maria Lopez"),
        ("marya lopez", "Maria Lopez"),
        ("my name is maria lopez", "Maria Elena Lopez"),
        ("Jon Smyth", "John Smith"),
        ("Steven Clarke", "Stephen Clark"),
        ("Mohammed Ali", "Muhammad Ali"),
        ("mary ann smith", "Maryann Smith"),
        ("Lopez, Maria", "Maria Lopez"),
    ],
)
def test_same_name_spelled_or_ordered_differently_scores_high(spoken: str, candidate: str) -> None:
    assert name_score(spoken, candidate) >= 0.85


@pytest.mark.parametrize(
    ("spoken", "candidate"),
    [
        ("Robert Brown", "Maria Lopez"),
        ("Aisha Khan", "Maria Lopez"),
        ("I should con", "Aisha Khan"),
        ("maria", "Maria Lopez"),
        ("", "Maria Lopez"),
    ],
)
def test_different_or_partial_name_scores_low(spoken: str, candidate: str) -> None:
    assert name_score(spoken, candidate) < 0.7


def test_score_is_in_unit_interval_and_exact_is_one() -> None:
    assert name_score("Aisha Khan", "Aisha Khan") == 1.0
    assert 0.0 <= name_score("zzz", "Aisha Khan") <= 1.0


def test_similar_sounding_different_first_name_is_below_exact_match() -> None:
    assert name_score("Jane Doe", "John Doe") < name_score("John Doe", "John Doe")


@pytest.mark.parametrize("answer", ["Goodbye.", "hello?", "Thank you", "um, sorry, what?", "OK"])
def test_small_talk_holds_no_name(answer: str) -> None:
    assert not holds_a_name(answer)


@pytest.mark.parametrize("answer", ["Maria Lopez", "Hello, it's Ann Lee", "Will Hope", "Joy"])
def test_an_answer_with_any_other_word_may_be_a_name(answer: str) -> None:
    assert holds_a_name(answer)
