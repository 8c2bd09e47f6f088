"""A caller who asks for a provider is offered that provider's times, and told when she has none.

Demo clinic: Dr. Okafor never works Fridays, Dr. Schmidt never Mondays; TODAY is a Monday.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from integrations.store.models import Provider, Slot
from tests.dialogs.conftest import Conversation, verified
from tests.integrations.conftest import add_patient

AISHA = ("Aisha Khan", "July nineteenth nineteen ninety")


async def _book_up_to_offers(
    c: Conversation, request: str, when: str, form: str = "schedule_form"
) -> list[dict[str, str]]:
    """Aisha Khan, verified, asks for a visit (or to move her one appointment: Dr. Okafor,
    Thursday March 13) and says when."""
    c.user(request, {"schedule_form": "schedule_appointment"}.get(form, "reschedule_appointment"))
    await verified(c, form, *AISHA)
    assert c.slots["verified"] is True
    asked = await c.run("action_ask_when_text", form)
    # The voice worker hears the answer as a day and time (`WhenRecheck`).
    assert {"kind": "expect", "what": "when_text"} in asked.payloads, asked
    if form == "reschedule_form":
        assert "with Dr. Okafor" in asked.said, asked.said
    c.answer("when_text", when)
    await c.run(f"validate_{form}", form)
    offers: list[dict[str, str]] = c.slots["offered_slots"]
    assert offers, c.slots
    return offers


async def test_a_provider_named_in_the_request_is_the_only_one_offered(
    conversation: Conversation,
) -> None:
    c = await conversation.open("+15550100003")
    offers = await _book_up_to_offers(
        c, "I'd like to book a follow-up appointment with Dr. Nguyen.", "next week"
    )
    assert {o["provider"] for o in offers} == {"Dr. Nguyen"}, offers
    said = (await c.run("action_ask_slot_choice", "schedule_form")).said
    assert "Dr. Nguyen" in said, said
    assert not any(other in said for other in ("Patel", "Okafor", "Schmidt")), said
    c.answer("slot_choice", "the first one")
    await c.run("validate_schedule_form", "schedule_form")
    end = await c.run("action_submit_schedule")
    assert end.said.startswith("You're booked.") and "Dr. Nguyen" in end.said, end.said


async def test_without_a_wish_every_provider_is_offered(conversation: Conversation) -> None:
    c = await conversation.open("+15550100003")
    offers = await _book_up_to_offers(c, "I need an appointment", "Tuesday")
    assert len({o["provider"] for o in offers}) > 1, offers


async def test_a_wish_said_with_the_day_and_a_day_she_does_not_work(
    conversation: Conversation,
) -> None:
    """Asked "Friday with Doctor Okafor" (he never works Fridays): told so, offered his next
    times, all his."""
    c = await conversation.open("+15550100003")
    c.user("can I make an appointment", "schedule_appointment")
    await verified(c, "schedule_form", *AISHA)
    c.answer("when_text", "Friday morning with Doctor Okafor please")
    turn = await c.run("validate_schedule_form", "schedule_form")
    assert turn.said == (
        "Dr. Okafor has nothing open then, so here are Dr. Okafor's next open times."
    )
    offers = c.slots["offered_slots"]
    assert offers and {o["provider"] for o in offers} == {"Dr. Okafor"}, offers


@pytest.mark.parametrize("form_started", [False, True])
async def test_an_answer_rasa_takes_for_another_request_keeps_the_wish(
    conversation: Conversation, form_started: bool
) -> None:
    """On a `make run` call (2026-12-05) Rasa classified the name answer "AsiaCon." as a booking
    request, and "with Dr. Schmidt", said in the real one, was lost. `form_started`: the
    tracker holds the event of the form starting, as Rasa's does."""
    c = await conversation.open("+15550100003")
    c.user("9")
    c.user("I'd like to make an appointment with Dr. Schmidt.", "schedule_appointment")
    if form_started:
        c.events.append({"event": "active_loop", "name": "schedule_form"})
    c.answer("patient_name", "Aisha Khan", "schedule_appointment")
    await c.run("validate_schedule_form", "schedule_form")
    c.answer("dob", "July nineteenth nineteen ninety")
    await c.run("validate_schedule_form", "schedule_form")
    c.answer("dob_confirmed", "yes", "affirm")
    await c.run("validate_schedule_form", "schedule_form")
    assert c.slots["verified"] is True, c.slots
    c.answer("when_text", "Wednesday morning")
    await c.run("validate_schedule_form", "schedule_form")
    offers = c.slots["offered_slots"]
    assert offers and {o["provider"] for o in offers} == {"Dr. Schmidt"}, offers


async def test_anyone_said_later_withdraws_the_wish(conversation: Conversation) -> None:
    c = await conversation.open("+15550100003")
    offers = await _book_up_to_offers(
        c, "I want to see Dr. Schmidt", "Wednesday, but anyone is fine really"
    )
    assert len({o["provider"] for o in offers}) > 1, offers


async def test_asking_for_another_provider_at_the_offers_gets_her_times(
    conversation: Conversation,
) -> None:
    c = await conversation.open("+15550100003")
    offers = await _book_up_to_offers(c, "book me a visit", "Tuesday morning")
    offered = {o["provider"] for o in offers}
    other = next(p for p in ("Dr. Nguyen", "Dr. Patel", "Dr. Okafor", "Dr. Schmidt")
                 if p not in offered)  # fmt: skip
    c.answer("slot_choice", f"does Doctor {other.split()[-1]} have anything")
    await c.run("validate_schedule_form", "schedule_form")
    fresh = c.slots["offered_slots"]
    assert fresh and {o["provider"] for o in fresh} == {other}, (other, fresh)
    assert c.slots["requested_slot"] == "slot_choice"  # asked again, nothing booked yet
    report = await c.report()
    assert report["appointments_booked"] == 0


@pytest.mark.parametrize(
    "asked",
    ["does Doctor {name} have anything", "what about Dr. {name}", "is Dr. {name} free",
     "With Dr. {name}?"],
)  # fmt: skip
async def test_asking_about_a_provider_already_offered_books_nothing_and_offers_her_times(
    conversation: Conversation, asked: str
) -> None:
    """Found on a `make run` call (2026-12-05): "Does Dr. Patel have anything?", with Dr. Patel's
    8:30 first among the offers, booked it."""
    c = await conversation.open("+15550100003")
    offers = await _book_up_to_offers(c, "book me a visit", "the earliest you have")
    name = offers[0]["provider"].split()[-1]
    c.answer("slot_choice", asked.format(name=name))
    await c.run("validate_schedule_form", "schedule_form")
    assert c.slots.get("booking") is None, c.slots
    fresh = c.slots["offered_slots"]
    assert fresh and {o["provider"] for o in fresh} == {offers[0]["provider"]}, fresh
    assert (await c.report())["appointments_booked"] == 0


async def test_a_provider_with_nothing_for_weeks_is_said_before_other_times(
    conversation: Conversation,
) -> None:
    async with conversation.db.session() as s:
        nguyen = await s.scalar(select(Provider.id).where(Provider.display_name == "Dr. Nguyen"))
        await s.execute(
            update(Slot).where(Slot.provider_id == nguyen, Slot.status == "free")
            .values(status="blocked")
        )  # fmt: skip
        await s.commit()
    c = await conversation.open("+15550100003")
    c.user("I'd like to see Doctor Nguyen", "schedule_appointment")
    await verified(c, "schedule_form", *AISHA)
    c.answer("when_text", "Thursday")
    turn = await c.run("validate_schedule_form", "schedule_form")
    assert "Dr. Nguyen has no open times in the coming weeks" in turn.said, turn.said
    offers = c.slots["offered_slots"]
    assert offers and "Dr. Nguyen" not in {o["provider"] for o in offers}, offers


async def test_a_patient_who_shares_a_providers_name_is_not_taken_for_a_wish(
    conversation: Conversation,
) -> None:
    """Her own name, "Priya Patel", answers who is calling: no wish for Dr. Priya Patel."""
    await add_patient(conversation.db, "Priya", "Patel", date(1984, 2, 9), "+15550100779")
    c = await conversation.open("+15550100779")
    c.user("I need an appointment", "schedule_appointment")
    await verified(c, "schedule_form", "Priya Patel", "February ninth nineteen eighty four")
    assert c.slots["verified"] is True, c.slots
    c.answer("when_text", "Tuesday")
    await c.run("validate_schedule_form", "schedule_form")
    offers = c.slots["offered_slots"]
    assert len({o["provider"] for o in offers}) > 1, offers


async def test_times_on_one_day_with_her_say_the_day_and_her_name_once(
    conversation: Conversation,
) -> None:
    c = await conversation.open("+15550100003")
    offers = await _book_up_to_offers(c, "can I see Doctor Okafor", "Thursday morning")
    assert len(offers) == 3 and {o["provider"] for o in offers} == {"Dr. Okafor"}, offers
    said = (await c.run("action_ask_slot_choice", "schedule_form")).said
    assert said.startswith("I have Thursday, March 6 with Dr. Okafor at "), said
    assert said.count("Okafor") == 1 and said.count("Thursday") == 1, said
    c.answer("slot_choice", "the second one")
    await c.run("validate_schedule_form", "schedule_form")
    assert c.slots["booking"]["start"] == offers[1]["start"], c.slots


async def test_a_moved_appointment_keeps_its_provider_when_none_is_named(
    conversation: Conversation,
) -> None:
    c = await conversation.open("+15550100003")
    offers = await _book_up_to_offers(
        c, "I need to move my appointment", "Tuesday", "reschedule_form"
    )
    assert {o["provider"] for o in offers} == {"Dr. Okafor"}, offers
    said = (await c.run("action_ask_slot_choice", "reschedule_form")).said
    if len({o["start"][:10] for o in offers}) > 1:
        assert said.startswith("With Dr. Okafor, I have ") and said.count("Okafor") == 1, said
    c.answer("slot_choice", "the first one")
    await c.run("validate_reschedule_form", "reschedule_form")
    assert c.slots["booking"]["provider"] == "Dr. Okafor", c.slots


async def test_when_her_provider_is_off_that_day_the_others_times_that_day_are_offered(
    conversation: Conversation,
) -> None:
    """Dr. Okafor never works Fridays: she asked for Friday, so Friday with someone else."""
    c = await conversation.open("+15550100003")
    c.user("can I reschedule my visit", "reschedule_appointment")
    await verified(c, "reschedule_form", *AISHA)
    c.answer("when_text", "Friday")
    turn = await c.run("validate_reschedule_form", "reschedule_form")
    assert turn.said == (
        "Dr. Okafor has nothing open then, so here are times with our other providers."
    ), turn.said
    offers = c.slots["offered_slots"]
    assert offers and "Dr. Okafor" not in {o["provider"] for o in offers}, offers
    assert {date.fromisoformat(o["start"][:10]).weekday() for o in offers} == {4}, offers


@pytest.mark.parametrize(
    ("request_", "when", "providers"),
    [
        ("I need to move my appointment, any doctor is fine", "Tuesday", "several"),
        ("I want to move my appointment to see Doctor Nguyen instead", "Tuesday", "Dr. Nguyen"),
    ],
)
async def test_a_move_where_she_says_who_follows_her_words(
    conversation: Conversation, request_: str, when: str, providers: str
) -> None:
    c = await conversation.open("+15550100003")
    offers = await _book_up_to_offers(c, request_, when, "reschedule_form")
    offered = {o["provider"] for o in offers}
    if providers == "several":
        assert len(offered) > 1, offered
    else:
        assert offered == {providers}, offered
