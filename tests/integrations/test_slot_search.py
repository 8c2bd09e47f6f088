"""Finding slots for what the caller asked: a day range, a part of the day, a time window."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from integrations.errors import UnknownVisitType
from integrations.services import scheduling
from integrations.store import Database
from tests.integrations.conftest import MONDAY, NOW, add_patient, add_small_clinic

dates = pytest.importorskip("nlu.dates")
WhenRequest = dates.WhenRequest


def _when(
    start: date, end: date | None = None, part: str | None = None, earliest=None, latest=None
):
    return WhenRequest(
        start=start, end=end or start, part_of_day=part, earliest=earliest, latest=latest
    )


@pytest.fixture
async def clinic(db: Database) -> dict[str, int]:
    return await add_small_clinic(db)


async def test_a_named_day_afternoon_offers_only_that_afternoon(
    db: Database, clinic: dict[str, int]
) -> None:
    wednesday = MONDAY + timedelta(days=2)
    async with db.session() as s:
        offers = await scheduling.find_slots(s, when=_when(wednesday, part="afternoon"), now=NOW)
    assert len(offers) == 3
    assert all(o.start.date() == wednesday and o.start.hour >= 12 for o in offers)


async def test_a_time_window_bounds_the_start_times(db: Database, clinic: dict[str, int]) -> None:
    when = _when(MONDAY, MONDAY + timedelta(days=4), earliest=time(10, 0), latest=time(11, 0))
    async with db.session() as s:
        offers = await scheduling.find_slots(s, when=when, now=NOW, limit=10)
    assert offers and all(time(10) <= o.start.time() <= time(11) for o in offers)


async def test_a_request_with_nothing_free_offers_nothing(
    db: Database, clinic: dict[str, int]
) -> None:
    saturday = MONDAY + timedelta(days=5)
    async with db.session() as s:
        assert await scheduling.find_slots(s, when=_when(saturday), now=NOW) == []
        evening = _when(MONDAY, MONDAY + timedelta(days=4), part="evening")
        assert await scheduling.find_slots(s, when=evening, now=NOW) == []


async def test_an_unknown_visit_type_names_the_known_ones(
    db: Database, clinic: dict[str, int]
) -> None:
    async with db.session() as s:
        with pytest.raises(UnknownVisitType, match="follow_up"):
            await scheduling.find_slots(s, when=None, visit_type="massage", now=NOW)


async def test_a_patient_is_never_offered_a_time_she_is_already_booked_at(
    db: Database, clinic: dict[str, int]
) -> None:
    """Two `make run` calls booked one patient with two doctors at the same time: the second
    call was offered the time the first had taken, with the other doctor."""
    pid = await add_patient(db, "Aisha", "Khan", date(1990, 7, 19))
    nine = _when(MONDAY, earliest=time(9, 0), latest=time(9, 0))
    async with db.session() as s:
        first = (await scheduling.find_slots(s, when=nine, now=NOW, limit=1))[0]
        booked = await scheduling.book(s, call_id="c1", patient_id=pid, slot_id=first.slot_id)
        # The other doctor is free at nine: not for her.
        assert await scheduling.find_slots(s, when=nine, now=NOW, patient_id=pid) == []
        others = await scheduling.find_slots(s, when=nine, now=NOW)
        assert [o.start.time() for o in others] == [time(9, 0)]
        # Moving that very appointment, its own time is no conflict.
        moving = await scheduling.find_slots(
            s, when=nine, now=NOW, patient_id=pid, moving=booked.appointment_id
        )
        assert [o.start.time() for o in moving] == [time(9, 0)]
