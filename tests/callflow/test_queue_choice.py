"""What a routine caller answers to "hold, or a call back?" — keypad and everyday words."""

from __future__ import annotations

import pytest

from clinicline.callflow.waiting import parse_choice
from voice.session.actions import CallerTurn


@pytest.mark.parametrize(
    ("said", "choice"),
    [
        ("I'll hold", "hold"),
        ("Alphold.", "hold"),  # whisper on a short "I'll hold"
        ("hold please", "hold"),
        ("I can wait", "hold"),
        ("I'll stay on the line", "hold"),
        ("I'll hang on", "hold"),
        ("option one", "hold"),
        ("call me back", "callback"),
        ("can you just call me back later", "callback"),
        ("a callback is fine", "callback"),
        ("please ring me back", "callback"),
        ("two", "callback"),
        ("I don't want to wait, call me back", "callback"),
        ("no don't call me back I'll hold", "hold"),
        ("what", None),
        ("um I have a question about my bill", None),
        ("", None),
    ],
)
def test_spoken_choices(said: str, choice: str | None) -> None:
    assert parse_choice(CallerTurn(text=said)) == choice


@pytest.mark.parametrize(("keys", "choice"), [("1", "hold"), ("2", "callback"), ("9", None)])
def test_keypad_choices(keys: str, choice: str | None) -> None:
    assert parse_choice(CallerTurn(digits=keys)) == choice
