"""Which provider a caller asks for, from what the recogniser wrote."""

from __future__ import annotations

import pytest

from nlu.providers import Provider, latest_wish, provider_wish

ROSTER = (
    Provider(1, "Linh Nguyen", "Dr. Nguyen"),
    Provider(2, "Priya Patel", "Dr. Patel"),
    Provider(3, "Samuel Okafor", "Dr. Okafor"),
    Provider(4, "Hannah Schmidt", "Dr. Schmidt"),
)


@pytest.mark.parametrize(
    ("said", "wanted"),
    [
        ("I'd like to book a follow-up appointment with Dr. Nguyen.", "Dr. Nguyen"),
        ("Can I see Dr. Okafor next week?", "Dr. Okafor"),
        ("Tuesday morning with Dr. Patel, please.", "Dr. Patel"),
        ("my doctor is Okafor, I'd like to see him", "Dr. Okafor"),
        ("I want to come in and see Schmidt on Thursday", "Dr. Schmidt"),
        ("is doctor Linh free on friday", "Dr. Nguyen"),  # her first name, after the title
        ("with Hannah Schmidt if possible", "Dr. Schmidt"),
        # As recognisers spelled them in calls and off-line decodes here.
        ("I'd like to see Dr. Schmidt's.", "Dr. Schmidt"),
        ("I'd like to see Dr. Okafour", "Dr. Okafor"),
        ("book with Dr. Schmitt", "Dr. Schmidt"),
        ("Dr. Lin, guby, and available on Friday.", "Dr. Nguyen"),
    ],
)
def test_a_provider_asked_for(said: str, wanted: str) -> None:
    wish = provider_wish(said, ROSTER)
    assert wish is not None and wish.provider is not None, said
    assert wish.provider.display == wanted


@pytest.mark.parametrize(
    "said",
    [
        "Priya Patel",  # a patient's own name, without a cue, could be anyone's
        "my name is Maria Patel",
        "I want an appointment for my son",
        "with Linh",  # a first name alone, without a title
        "next Tuesday at ten",
        "not Dr. Patel please",  # no wish for her (and none for anyone else)
        "anyone but Patel",
        "I'd like to see a doctor about my knee",
    ],
)
def test_no_provider_asked_for(said: str) -> None:
    wish = provider_wish(said, ROSTER)
    assert wish is None or wish.provider is None, (said, wish)


@pytest.mark.parametrize(
    "said",
    ["anyone is fine", "any doctor", "whoever is free", "it doesn't matter who",
     "no preference", "Dr. Patel or anyone really"],
)  # fmt: skip
def test_anyone_is_said_as_such(said: str) -> None:
    wish = provider_wish(said, ROSTER)
    assert wish is not None and wish.provider is None, (said, wish)


def test_the_last_wish_wins_and_anyone_withdraws_it() -> None:
    def last(texts: list[str]) -> Provider | None | str:
        wish = latest_wish(texts, ROSTER)
        return "never said" if wish is None else wish.provider

    assert last(["with Dr. Nguyen", "Tuesday"]) == ROSTER[0]
    assert last(["with Dr. Nguyen", "actually Dr. Patel"]) == ROSTER[1]
    assert last(["with Dr. Nguyen", "whoever is free"]) is None  # anyone, said
    assert last(["Tuesday morning"]) == "never said"


def test_two_providers_sharing_a_surname_are_not_guessed_between() -> None:
    roster = (*ROSTER, Provider(5, "Arjun Patel", "Dr. Arjun Patel"))
    assert provider_wish("with Dr. Patel", roster) is None
    wish = provider_wish("with Arjun Patel", roster)
    assert wish is not None and wish.provider == roster[-1]
