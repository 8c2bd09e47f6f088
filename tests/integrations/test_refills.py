"""Refill requests: idempotent, and anything risky goes to a person instead of the pharmacy."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from integrations.errors import NotFound
from integrations.services import refills, tasks
from integrations.store import Database
from tests.integrations.conftest import add_patient, medication_ids

MEDS = (
    ("lisinopril", "10 mg", 3, False),
    ("amlodipine", "5 mg", 0, False),
    ("alprazolam", "0.5 mg", 2, True),
)


@pytest.fixture
async def patient(db: Database) -> int:
    return await add_patient(db, "Maria", "Lopez", date(1972, 3, 4), meds=MEDS)


async def test_active_medications_lists_the_patients_own_meds(db: Database, patient: int) -> None:
    other = await add_patient(
        db, "James", "Carter", date(1958, 11, 20), meds=(("warfarin", "5 mg", 1, False),)
    )
    async with db.session() as s:
        meds = await refills.active_medications(s, patient)
        assert {m.name for m in meds} == {"lisinopril", "amlodipine", "alprazolam"}
        assert {m.name for m in await refills.active_medications(s, other)} == {"warfarin"}
    controlled = next(m for m in meds if m.name == "alprazolam")
    assert controlled.controlled and controlled.refills_left == 2


async def test_a_refill_with_refills_left_is_created(db: Database, patient: int) -> None:
    med = (await medication_ids(db, patient))["lisinopril"]
    async with db.session() as s:
        out = await refills.request_refill(s, call_id="c1", patient_id=patient, medication_id=med)
    assert out.status == "created"
    assert out.medication == "lisinopril 10 mg"
    assert out.turnaround


async def test_asking_twice_in_one_call_or_a_later_call_returns_the_same_request(
    db: Database, patient: int
) -> None:
    med = (await medication_ids(db, patient))["lisinopril"]
    async with db.session() as s:
        first = await refills.request_refill(s, call_id="c1", patient_id=patient, medication_id=med)
        again = await refills.request_refill(s, call_id="c1", patient_id=patient, medication_id=med)
        later = await refills.request_refill(s, call_id="c2", patient_id=patient, medication_id=med)
    assert again.status == later.status == "already_requested"
    assert first.request_id == again.request_id == later.request_id


async def test_concurrent_requests_for_one_medication_file_only_one(
    db: Database, patient: int
) -> None:
    med = (await medication_ids(db, patient))["lisinopril"]

    async def ask(call_id: str) -> refills.RefillOutcome:
        async with db.session() as s:
            return await refills.request_refill(
                s, call_id=call_id, patient_id=patient, medication_id=med
            )

    outcomes = await asyncio.gather(ask("a"), ask("b"))
    assert sorted(o.status for o in outcomes) == ["already_requested", "created"]
    assert outcomes[0].request_id == outcomes[1].request_id


async def test_no_refills_left_needs_review_and_leaves_a_pharmacy_task(
    db: Database, patient: int
) -> None:
    med = (await medication_ids(db, patient))["amlodipine"]
    async with db.session() as s:
        out = await refills.request_refill(s, call_id="c1", patient_id=patient, medication_id=med)
        open_tasks = await tasks.open_tasks(s, "pharmacy")
    assert out.status == "needs_review"
    assert [(t.kind, t.patient_id, t.call_id) for t in open_tasks] == [
        ("refill_review", patient, "c1")
    ]
    assert "amlodipine" in open_tasks[0].note


async def test_a_controlled_substance_goes_to_the_nurse_queue_even_with_refills_left(
    db: Database, patient: int
) -> None:
    med = (await medication_ids(db, patient))["alprazolam"]
    async with db.session() as s:
        out = await refills.request_refill(s, call_id="c1", patient_id=patient, medication_id=med)
        again = await refills.request_refill(s, call_id="c1", patient_id=patient, medication_id=med)
        nurse = await tasks.open_tasks(s, "nurse")
    assert out.status == "needs_review"
    assert again.status == "already_requested"
    assert len(nurse) == 1, "asking again must not pile up review tasks"


async def test_another_patients_medication_is_refused(db: Database, patient: int) -> None:
    other = await add_patient(db, "James", "Carter", date(1958, 11, 20))
    med = (await medication_ids(db, patient))["lisinopril"]
    async with db.session() as s:
        with pytest.raises(NotFound):
            await refills.request_refill(s, call_id="c1", patient_id=other, medication_id=med)
        assert await tasks.open_tasks(s) == []
