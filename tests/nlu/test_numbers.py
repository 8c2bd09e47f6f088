"""Specifications of spoken number reading."""

from __future__ import annotations

import pytest

from nlu.numbers import parse_cardinal, parse_year_words, spoken_digits


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("four seven two nine", "4729"),
        ("4 7 2 9", "4729"),
        ("4729", "4729"),
        ("forty seven twenty nine", "4729"),
        ("oh five five five", "0555"),
        ("double five one two", "5512"),
        ("triple seven", "777"),
        ("uh four seven, two nine", "4729"),
        ("four-seven-two-nine", "4729"),
        ("it's four for seven two", "4472"),
        ("five hundred", "500"),
        ("nothing here", ""),
    ],
)
def test_spoken_digits(text: str, digits: str) -> None:
    assert spoken_digits(text) == digits


@pytest.mark.parametrize(
    ("text", "value"),
    [("a hundred and four", 104), ("four hundred", 400), ("twenty two", 22),
     ("two thousand and five", 2005), ("57", 57), ("blue", None), ("", None)],
)
def test_parse_cardinal(text: str, value: int | None) -> None:
    assert parse_cardinal(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("nineteen seventy two", (1972, 4)), ("seventy two", (72, 2)), ("1972", (1972, 4)),
     ("two thousand five", (2005, 4)), ("twenty oh three", (2003, 4)), ("oh five", (5, 2)),
     ("twenty twenty", (2020, 4)), ("five", None)],
)
def test_parse_year_words(text: str, value: tuple[int, int] | None) -> None:
    assert parse_year_words(text) == value
