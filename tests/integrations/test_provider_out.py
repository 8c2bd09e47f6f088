"""A provider out, on both backends: her free slots on those days are blocked at once, a visit
of hers cancelled or moved from them leaves its slot blocked, and nothing else is touched."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from integrations.errors import InvalidField, NotFound
from integrations.services import campaigns, scheduling
from integrations.services.absences import Absence, declare_out, declared, is_out, withdraw
from integrations.store import Database
from integrations.store.models import AuditEvent, Slot
from tests.integrations.conftest import MONDAY, NOW, add_patient, add_small_clinic

TUESDAY = MONDAY + timedelta(days=1)


async def _offered_days(db: Database, provider_id: int) -> set[date]:
    async with db.session() as s:
        offers = await scheduling.find_slots(
            s, when=None, provider_id=provider_id, limit=500, now=NOW
        )
    return {o.start.date() for o in offers}


async def _status(db: Database, slot_id: int) -> str:
    async with db.session() as s:
        slot = await s.get(Slot, slot_id)
        assert slot is not None
        return slot.status


async def _slot_at(db: Database, provider_id: int, start: datetime) -> int:
    async with db.session() as s:
        found = await s.scalar(
            select(Slot.id).where(Slot.provider_id == provider_id, Slot.start == start)
        )
        assert found is not None
        return found


async def test_her_free_slots_on_those_days_are_blocked_and_freed_ones_stay_blocked(
    db: Database,
) -> None:
    clinic = await add_small_clinic(db, days=4)
    nguyen, patel = clinic["nguyen"], clinic["patel"]
    pid = await add_patient(db, "Ines", "Moreau", date(1966, 2, 9), "+15550209911")
    at_nine = await _slot_at(db, nguyen, datetime.combine(TUESDAY, time(9, 0)))
    at_ten = await _slot_at(db, nguyen, datetime.combine(TUESDAY, time(10, 0)))
    async with db.session() as s:
        first = await scheduling.book(s, call_id="b1", patient_id=pid, slot_id=at_nine)
        second = await scheduling.book(s, call_id="b2", patient_id=pid, slot_id=at_ten)
    assert TUESDAY in await _offered_days(db, nguyen)

    async with db.session() as s:
        blocked = await declare_out(s, Absence(nguyen, TUESDAY, TUESDAY), actor="super1")
    assert blocked == 12 - 2  # her twelve half-hours that day, less the two booked
    assert await _offered_days(db, nguyen) == {MONDAY, MONDAY + timedelta(days=2),
                                               MONDAY + timedelta(days=3)}  # fmt: skip
    assert TUESDAY in await _offered_days(db, patel)  # the other provider is not out
    async with db.session() as s:
        assert await is_out(s, nguyen, TUESDAY)
        assert not await is_out(s, nguyen, MONDAY)
        assert not await is_out(s, patel, TUESDAY)

    # Her patients' visits that day are still booked until each is moved or cancelled...
    assert await _status(db, at_nine) == "booked"
    later = await _slot_at(db, nguyen, datetime.combine(MONDAY + timedelta(days=3), time(9, 0)))
    async with db.session() as s:
        moved = await scheduling.reschedule(
            s, call_id="m1", patient_id=pid, appointment_id=first.appointment_id, slot_id=later
        )
        await scheduling.cancel(
            s, call_id="c1", patient_id=pid, appointment_id=second.appointment_id
        )
    # ...and then their slots are not offered again: she is still out.
    assert await _status(db, at_nine) == "blocked"
    assert await _status(db, at_ten) == "blocked"
    assert TUESDAY not in await _offered_days(db, nguyen)
    # A visit of hers on a day she is in frees its slot as before.
    async with db.session() as s:
        await scheduling.cancel(
            s, call_id="c2", patient_id=pid, appointment_id=moved.appointment_id
        )
    assert await _status(db, later) == "free"

    async with db.session() as s:
        (declared,) = await s.scalars(
            select(AuditEvent).where(AuditEvent.action == "declare_provider_out")
        )
    assert declared.actor == "super1" and declared.patient_id is None
    assert declared.detail == {"provider_id": nguyen, "first_day": TUESDAY.isoformat(),
                               "last_day": TUESDAY.isoformat(), "slots_blocked": 10}  # fmt: skip


async def test_withdrawn_she_is_offered_again_except_where_another_absence_or_a_visit_holds(
    db: Database,
) -> None:
    clinic = await add_small_clinic(db, days=3)
    nguyen = clinic["nguyen"]
    wednesday = TUESDAY + timedelta(days=1)
    pid = await add_patient(db, "Ines", "Moreau", date(1966, 2, 9), "+15550209911")
    visit = await _slot_at(db, nguyen, datetime.combine(TUESDAY, time(9, 0)))
    async with db.session() as s:
        await scheduling.book(s, call_id="b1", patient_id=pid, slot_id=visit)
    async with db.session() as s:
        assert await declare_out(s, Absence(nguyen, TUESDAY, TUESDAY), actor="t") == 11
    async with db.session() as s:
        assert await declare_out(s, Absence(nguyen, TUESDAY, wednesday), actor="t") == 12
    async with db.session() as s:
        first, second = await declared(s)
    assert (first.first_day, first.last_day) == (TUESDAY, TUESDAY)
    assert first.id is not None and second.id is not None

    async with db.session() as s:  # Tuesday is still covered by the second absence
        assert await withdraw(s, first.id, actor="super1") == 0
    assert await _offered_days(db, nguyen) == {MONDAY}
    async with db.session() as s:
        assert await withdraw(s, second.id, actor="super1") == 23
        assert await declared(s) == []
        with pytest.raises(NotFound):
            await withdraw(s, second.id, actor="super1")
    assert await _offered_days(db, nguyen) == {MONDAY, TUESDAY, wednesday}
    assert await _status(db, visit) == "booked"  # her patient's visit is untouched


async def test_an_unknown_provider_or_a_bad_span_is_refused_and_blocks_nothing(
    db: Database,
) -> None:
    clinic = await add_small_clinic(db, days=2)
    async with db.session() as s:
        with pytest.raises(NotFound):
            await declare_out(s, Absence(9999, MONDAY, MONDAY), actor="t")
        with pytest.raises(InvalidField):
            await declare_out(s, Absence(clinic["nguyen"], TUESDAY, MONDAY), actor="t")
        with pytest.raises(InvalidField):
            await declare_out(
                s, Absence(clinic["nguyen"], MONDAY, MONDAY + timedelta(days=40)), actor="t"
            )
    assert await _offered_days(db, clinic["nguyen"]) == {MONDAY, TUESDAY}


def test_a_provider_out_campaign_must_name_the_provider_and_the_days() -> None:
    assert campaigns.absence_of("reminder", "2031-03-04", None) is None
    with pytest.raises(InvalidField, match="names the provider"):
        campaigns.absence_of("provider_out", "2031-03-04", None)
    with pytest.raises(InvalidField, match="names the provider"):
        campaigns.absence_of("provider_out", None, 3)
    with pytest.raises(InvalidField):
        campaigns.absence_of("provider_out", "2031-03-04:2031-06-01", 3)
    assert campaigns.absence_of("provider_out", "2031-03-04:2031-03-05", 3) == Absence(
        3, date(2031, 3, 4), date(2031, 3, 5)
    )
