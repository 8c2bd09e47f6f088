"""The demo clinic: the cast the other teams' demos and tests count on, loaded idempotently."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from integrations.passwords import verify_password
from integrations.seed.demo import seed_demo
from integrations.services import agents, refills, scheduling
from integrations.store import Database
from integrations.store.models import Patient, Slot
from tests.integrations.conftest import MONDAY, NOW


async def test_seeding_twice_adds_nothing_the_second_time(db: Database) -> None:
    first = await seed_demo(db, MONDAY)
    second = await seed_demo(db, MONDAY)
    assert first.patients >= 40 and first.providers >= 3 and first.slots > 500
    assert set(vars(second).values()) == {0}


async def test_maria_lopez_has_refillable_lisinopril_and_metformin(demo_db: Database) -> None:
    async with demo_db.session() as s:
        maria = await s.scalar(select(Patient).where(Patient.mrn == "DEMO0001"))
        assert maria is not None
        assert (maria.first_name, maria.dob) == ("Maria", date(1972, 3, 4))
        assert [p.number for p in maria.phones] == ["+15550100001"]
        meds = {m.name: m for m in await refills.active_medications(s, maria.id)}
    assert meds["lisinopril"].strength == "10 mg" and meds["lisinopril"].refills_left > 0
    assert meds["metformin"].strength == "500 mg" and meds["metformin"].refills_left > 0


async def test_the_pool_has_controlled_and_zero_refill_medications(demo_db: Database) -> None:
    async with demo_db.session() as s:
        ids = (await s.scalars(select(Patient.id))).all()
        meds = [m for pid in ids for m in await refills.active_medications(s, pid)]
    assert any(m.controlled for m in meds)
    assert any(m.refills_left == 0 and not m.controlled for m in meds)


async def test_four_weeks_of_weekday_slots_morning_and_afternoon(demo_db: Database) -> None:
    async with demo_db.session() as s:
        starts = (await s.scalars(select(Slot.start))).all()
        offers = await scheduling.find_slots(s, when=None, now=NOW, limit=3)
    assert {d.weekday() for d in starts} == {0, 1, 2, 3, 4}
    assert {d.hour < 12 for d in starts} == {True, False}
    assert (max(starts).date() - MONDAY).days >= 25
    assert len(offers) == 3


async def test_a_later_seed_only_adds_the_new_days(db: Database) -> None:
    await seed_demo(db, MONDAY)
    async with db.session() as s:
        before = await s.scalar(select(func.count()).select_from(Slot))
    later = await seed_demo(db, date(2031, 3, 10))
    async with db.session() as s:
        after = await s.scalar(select(func.count()).select_from(Slot))
    assert later.patients == 0 and 0 < later.slots < 300
    assert after == (before or 0) + later.slots


async def test_demo_staff_sign_in_with_their_documented_passwords(demo_db: Database) -> None:
    async with demo_db.session() as s:
        record = await agents.sign_in_record(s, "nurse1")
        assert record is not None and verify_password("nurse1-demo", record.password_hash)
        assert not verify_password("wrong", record.password_hash)
        nurse = record.agent
        queues = {q.name for q in await agents.list_queues(s)}
        await agents.set_presence(s, nurse.agent_id, "available")  # type: ignore[union-attr]
        on_duty = await agents.agents_for_queue(s, "nurse")
    assert nurse is not None and nurse.role == "nurse"
    assert nurse.sip_uri.startswith("sip:nurse1@127.0.0.1:")
    assert queues == {"front_desk", "nurse", "pharmacy", "billing", "scheduling"}
    assert [a.username for a in on_duty] == ["nurse1"]


async def test_the_staff_phones_answer_from_the_port_asked_for(db: Database) -> None:
    await seed_demo(db, MONDAY, staff_port=6170)
    async with db.session() as s:
        front = await agents.sign_in_record(s, "front1")
        nurse = await agents.sign_in_record(s, "nurse1")
    assert front is not None and front.agent.sip_uri == "sip:front1@127.0.0.1:6170"
    assert nurse is not None and nurse.agent.sip_uri == "sip:nurse1@127.0.0.1:6174"
