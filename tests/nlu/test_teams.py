"""Which team a caller asks to speak with (`nlu.teams`)."""

from __future__ import annotations

import pytest

from nlu.teams import team_asked_for


@pytest.mark.parametrize(
    ("said", "team"),
    [
        ("Can I talk to Dr. Okafor's nurse about my medication side effects?", "nurse"),
        ("I need to speak with a nurse", "nurse"),
        ("put me through to the nurse line please", "nurse"),
        ("is there a nurse I could ask", "nurse"),
        ("can I talk to someone in billing", "billing"),
        ("the business office please", "billing"),
        ("I'd like to speak to a person", None),
        ("front desk please", None),
        ("operator", None),
        ("I don't need a nurse, just the front desk", None),
        ("not the nurse, someone at reception", None),
        ("the front desk rather than billing", None),
        ("someone at the desk instead of the nurse", None),
        ("I don’t need the nurse", None),  # a typographic apostrophe
        ("a nurse or billing, whoever is free", None),  # two teams: the front desk decides
        ("my pharmacy said you never sent it, can I talk to someone", None),
        ("", None),
    ],
)
def test_the_team_a_caller_asks_for(said: str, team: str | None) -> None:
    assert team_asked_for(said) == team

