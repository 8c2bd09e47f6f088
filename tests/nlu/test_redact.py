"""Specifications of PHI redaction."""

from __future__ import annotations

import pytest

from nlu.redact import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my number is 555-123-4567", "my number is [PHONE]"),
        ("call (555) 123 4567 please", "call [PHONE] please"),
        ("reach me on +1 555.123.4567", "reach me on [PHONE]"),
        ("born 03/04/1972", "born [DATE]"),
        ("my birthday is March fourth nineteen seventy two", "my birthday is [DATE]"),
        ("the 4th of march 1972", "[DATE]"),
        ("member id 4729183", "member id [NUMBER]"),
        ("it is four seven two nine one eight", "it is [NUMBER]"),
        ("mail maria.lopez@example.com", "mail [EMAIL]"),
    ],
)
def test_phi_is_replaced_by_placeholders(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_known_names_are_redacted_whole_and_by_part() -> None:
    text = "this is Maria Lopez, calling for maria's refill, Lopez family"
    assert redact(text, ["Maria Lopez"]) == (
        "this is [NAME], calling for [NAME] refill, [NAME] family"
    )


def test_short_name_parts_do_not_eat_common_words() -> None:
    assert redact("call Al at all times", ["Al Li"]) == "call Al at all times"


@pytest.mark.parametrize(
    "text", ["I need three pills a day", "may I speak to someone", "take 2 tablets at 8"]
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text
