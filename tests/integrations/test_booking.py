"""Booking, rescheduling and cancelling: no slot is ever given to two callers."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from integrations.errors import NotFound, SlotTaken
from integrations.services import scheduling
from integrations.store import Database
from tests.integrations.conftest import NOW, add_patient, add_small_clinic


@pytest.fixture
async def clinic(db: Database) -> dict[str, int]:
    ids = await add_small_clinic(db)
    ids["maria"] = await add_patient(db, "Maria", "Lopez", date(1972, 3, 4))
    ids["james"] = await add_patient(db, "James", "Carter", date(1958, 11, 20))
    return ids


async def _first_slot(db: Database) -> scheduling.SlotOffer:
    async with db.session() as s:
        return (await scheduling.find_slots(s, when=None, now=NOW))[0]


async def test_two_callers_racing_for_one_slot_only_one_gets_it(
    db: Database, clinic: dict[str, int]
) -> None:
    slot = await _first_slot(db)

    async def try_book(call_id: str, patient_id: int) -> scheduling.Booking | SlotTaken:
        async with db.session() as s:
            try:
                return await scheduling.book(
                    s, call_id=call_id, patient_id=patient_id, slot_id=slot.slot_id
                )
            except SlotTaken as exc:
                return exc

    results = await asyncio.gather(
        *(try_book(f"call-{n}", clinic["maria" if n % 2 else "james"]) for n in range(6))
    )
    wins = [r for r in results if isinstance(r, scheduling.Booking)]
    assert len(wins) == 1
    assert sum(isinstance(r, SlotTaken) for r in results) == 5
    async with db.session() as s:
        holders = [
            *await scheduling.upcoming(s, clinic["maria"], now=NOW),
            *await scheduling.upcoming(s, clinic["james"], now=NOW),
        ]
    assert [h.appointment_id for h in holders] == [wins[0].appointment_id]


async def test_a_booked_slot_is_no_longer_offered(db: Database, clinic: dict[str, int]) -> None:
    slot = await _first_slot(db)
    async with db.session() as s:
        booking = await scheduling.book(
            s, call_id="c1", patient_id=clinic["maria"], slot_id=slot.slot_id
        )
        offered = await scheduling.find_slots(s, when=None, now=NOW, limit=50)
    assert (booking.start, booking.provider) == (slot.start, slot.provider)
    assert slot.slot_id not in {o.slot_id for o in offered}


async def test_retrying_the_same_booking_in_one_call_returns_it(
    db: Database, clinic: dict[str, int]
) -> None:
    slot = await _first_slot(db)
    async with db.session() as s:
        first = await scheduling.book(
            s, call_id="c1", patient_id=clinic["maria"], slot_id=slot.slot_id
        )
        again = await scheduling.book(
            s, call_id="c1", patient_id=clinic["maria"], slot_id=slot.slot_id
        )
        with pytest.raises(SlotTaken):
            await scheduling.book(s, call_id="c2", patient_id=clinic["james"], slot_id=slot.slot_id)
    assert first == again


async def test_reschedule_moves_the_appointment_and_frees_the_old_slot(
    db: Database, clinic: dict[str, int]
) -> None:
    async with db.session() as s:
        old_slot, new_slot = (await scheduling.find_slots(s, when=None, now=NOW, limit=2))[:2]
        booked = await scheduling.book(
            s, call_id="c1", patient_id=clinic["maria"], slot_id=old_slot.slot_id
        )
        moved = await scheduling.reschedule(
            s,
            call_id="c2",
            patient_id=clinic["maria"],
            appointment_id=booked.appointment_id,
            slot_id=new_slot.slot_id,
        )
        upcoming = await scheduling.upcoming(s, clinic["maria"], now=NOW)
        reoffered = await scheduling.book(
            s, call_id="c3", patient_id=clinic["james"], slot_id=old_slot.slot_id
        )
    assert moved.start == new_slot.start
    assert [a.appointment_id for a in upcoming] == [moved.appointment_id]
    assert reoffered.start == old_slot.start


async def test_a_failed_reschedule_keeps_the_original_appointment(
    db: Database, clinic: dict[str, int]
) -> None:
    async with db.session() as s:
        mine, taken = (await scheduling.find_slots(s, when=None, now=NOW, limit=2))[:2]
        booked = await scheduling.book(
            s, call_id="c1", patient_id=clinic["maria"], slot_id=mine.slot_id
        )
        await scheduling.book(s, call_id="c2", patient_id=clinic["james"], slot_id=taken.slot_id)
        with pytest.raises(SlotTaken):
            await scheduling.reschedule(
                s,
                call_id="c3",
                patient_id=clinic["maria"],
                appointment_id=booked.appointment_id,
                slot_id=taken.slot_id,
            )
        upcoming = await scheduling.upcoming(s, clinic["maria"], now=NOW)
    assert [(a.appointment_id, a.start) for a in upcoming] == [(booked.appointment_id, mine.start)]


async def test_cancel_frees_the_slot_and_is_safe_to_repeat(
    db: Database, clinic: dict[str, int]
) -> None:
    slot = await _first_slot(db)
    async with db.session() as s:
        booked = await scheduling.book(
            s, call_id="c1", patient_id=clinic["maria"], slot_id=slot.slot_id
        )
        await scheduling.cancel(
            s, call_id="c2", patient_id=clinic["maria"], appointment_id=booked.appointment_id
        )
        await scheduling.cancel(
            s, call_id="c2", patient_id=clinic["maria"], appointment_id=booked.appointment_id
        )
        assert await scheduling.upcoming(s, clinic["maria"], now=NOW) == []
        rebooked = await scheduling.book(
            s, call_id="c3", patient_id=clinic["james"], slot_id=slot.slot_id
        )
    assert rebooked.start == slot.start


async def test_a_patient_cannot_cancel_someone_elses_appointment(
    db: Database, clinic: dict[str, int]
) -> None:
    slot = await _first_slot(db)
    async with db.session() as s:
        booked = await scheduling.book(
            s, call_id="c1", patient_id=clinic["maria"], slot_id=slot.slot_id
        )
        with pytest.raises(NotFound):
            await scheduling.cancel(
                s, call_id="c2", patient_id=clinic["james"], appointment_id=booked.appointment_id
            )
        assert len(await scheduling.upcoming(s, clinic["maria"], now=NOW)) == 1


async def test_offers_are_spread_over_half_days_and_never_in_the_past(
    db: Database, clinic: dict[str, int]
) -> None:
    now = NOW + timedelta(hours=3, minutes=15)  # Monday 10:15
    async with db.session() as s:
        offers = await scheduling.find_slots(s, when=None, now=now)
    assert all(o.start >= now for o in offers)
    half_days = {(o.start.date(), o.start.hour < 12) for o in offers}
    assert len(half_days) == 3
    assert offers == sorted(offers, key=lambda o: o.start)


async def test_offers_can_be_limited_to_one_provider(db: Database, clinic: dict[str, int]) -> None:
    async with db.session() as s:
        offers = await scheduling.find_slots(s, when=None, now=NOW, provider_id=clinic["patel"])
    assert {o.provider for o in offers} == {"Dr. Patel"}
