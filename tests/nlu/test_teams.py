"""Which team a caller asks to speak with (`nlu.teams`)."""

from __future__ import annotations

import pytest

from nlu.teams import asks_for_a_person, team_asked_for


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


@pytest.mark.parametrize(
    "said",
    ["can I just talk to a person", "front desk", "Operator.", "zero", "transfer me please",
     "I don't want to talk to a machine", "somebody from the clinic called me so I'm calling back",
     "i got a voicemail from the clinic", "can I speak with a nurse", "Dr. Patel's office"],
)  # fmt: skip
def test_words_that_ask_for_a_person(said: str) -> None:
    assert asks_for_a_person(said)


@pytest.mark.parametrize(
    "said",
    # Names and dates as a test phone heard them; none asks for anyone.
    ["Eat a brandon.", "Aoife Brennan", "Xiaoming Okonkwo", "March fourth 1972",
     "zero three zero four nineteen seventy two", "Siobhan Wojciechowski", ""],
)  # fmt: skip
def test_a_misheard_name_or_date_asks_for_nobody(said: str) -> None:
    assert not asks_for_a_person(said)
