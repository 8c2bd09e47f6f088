"""The call record and its report: the shape the console, supervisors and tests rely on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from integrations.errors import InvalidField
from integrations.services import calls, refills, scheduling, tasks
from integrations.store import Database
from tests.integrations.conftest import NOW, add_patient, add_small_clinic, medication_ids

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
REPORT_KEYS = {
    "call_id",
    "caller",
    "started",
    "ended",
    "verified",
    "patient",
    "intents",
    "triage_level",
    "flags",
    "emergency_message_played",
    "transferred",
    "transfer_queue",
    "screen_pop",
    "disposition",
    "refill_requests",
    "appointments_booked",
    "appointments_changed",
    "tasks",
    "turns",
    "dtmf",
}


async def test_call_report_holds_everything_the_call_did(db: Database) -> None:
    ids = await add_small_clinic(db)
    pid = await add_patient(
        db,
        "Maria",
        "Lopez",
        date(1972, 3, 4),
        "+15550100001",
        meds=(("lisinopril", "10 mg", 3, False),),
    )
    med = (await medication_ids(db, pid))["lisinopril"]
    async with db.session() as s:
        await calls.open_call(s, call_id="r1", caller_number="(555) 010-0001", started=T0)
        await calls.add_turn(
            s,
            call_id="r1",
            speaker="bot",
            text="Thanks for calling.",
            start=T0,
            end=T0 + timedelta(seconds=2),
        )
        await calls.add_turn(
            s,
            call_id="r1",
            speaker="caller",
            text="I need my lisinopril",
            start=T0 + timedelta(seconds=3),
            end=T0 + timedelta(seconds=5),
        )
        await calls.add_event(s, call_id="r1", kind="intent", data={"name": "request_refill"})
        await calls.add_event(s, call_id="r1", kind="dtmf", data={"digits": "0304"})
        await calls.set_fields(
            s,
            "r1",
            verified_patient_id=pid,
            triage_level="urgent",
            flags=["fever"],
            screen_pop={"reason": "fever"},
        )
        await refills.request_refill(s, call_id="r1", patient_id=pid, medication_id=med)
        slot = (await scheduling.find_slots(s, when=None, now=NOW))[0]
        await scheduling.book(s, call_id="r1", patient_id=pid, slot_id=slot.slot_id)
        await tasks.create_task(
            s,
            kind="callback",
            queue="front_desk",
            patient_id=pid,
            call_id="r1",
            note="wants a call back about billing",
        )
        await calls.close_call(
            s, call_id="r1", ended=T0 + timedelta(minutes=3), disposition="refill_requested"
        )
        report = await calls.call_report(s, "r1")
    assert set(report) >= REPORT_KEYS
    assert report["caller"] == "+15550100001"
    assert report["verified"] is True
    assert report["patient"] == {"id": pid, "name": "Maria Lopez"}
    assert report["intents"] == ["request_refill"]
    assert report["dtmf"] == "0304"
    assert (report["triage_level"], report["flags"]) == ("urgent", ["fever"])
    assert report["screen_pop"] == {"reason": "fever"}
    assert report["refill_requests"] == ["lisinopril"]
    assert report["appointments_booked"] == 1 and report["appointments_changed"] == 0
    assert [t["kind"] for t in report["tasks"]] == ["callback"]
    assert [t["speaker"] for t in report["turns"]] == ["bot", "caller"]
    assert report["turns"][1]["text"] == "I need my lisinopril"
    assert report["started"] == "2031-03-03T09:00:00+00:00"
    assert report["disposition"] == "refill_requested"
    assert ids  # the clinic had slots to book


async def test_an_unverified_call_reports_no_patient(db: Database) -> None:
    async with db.session() as s:
        await calls.open_call(s, call_id="u1", caller_number="anonymous", started=T0)
        await calls.close_call(s, call_id="u1", ended=T0, disposition="caller_hung_up")
        report = await calls.call_report(s, "u1")
    assert report["verified"] is False and report["patient"] is None
    assert report["caller"] == "anonymous"
    assert report["turns"] == [] and report["refill_requests"] == []


async def test_unknown_fields_and_dispositions_are_refused(db: Database) -> None:
    async with db.session() as s:
        await calls.open_call(s, call_id="f1", caller_number=None, started=T0)
        with pytest.raises(InvalidField, match="unknown call fields"):
            await calls.set_fields(s, "f1", mood="grumpy")
        with pytest.raises(InvalidField, match="disposition"):
            await calls.close_call(s, call_id="f1", ended=T0, disposition="solved")


async def test_last_call_id_is_the_most_recently_started_call(db: Database) -> None:
    async with db.session() as s:
        assert await calls.last_call_id(s) is None
        await calls.open_call(s, call_id="later", caller_number=None, started=T0)
        await calls.open_call(
            s, call_id="earlier", caller_number=None, started=T0 - timedelta(hours=1)
        )
        assert await calls.last_call_id(s) == "later"


async def test_reopening_a_call_keeps_the_first_record(db: Database) -> None:
    async with db.session() as s:
        await calls.open_call(s, call_id="o1", caller_number="+15550100001", started=T0)
        await calls.open_call(
            s, call_id="o1", caller_number="+15559999999", started=T0 + timedelta(minutes=1)
        )
        assert (await calls.call_report(s, "o1"))["caller"] == "+15550100001"


async def test_offer_state_reads_who_was_offered_and_who_is_awaited_from_the_record(
    db: Database,
) -> None:
    async with db.session() as s:
        await calls.open_call(s, call_id="c-offer", caller_number="+15550100001", started=T0)

    async def event(kind: str, **data: object) -> tuple[frozenset[int], int | None]:
        async with db.session() as s:
            await calls.add_event(s, call_id="c-offer", kind=kind, data=dict(data))
            return await calls.offer_state(s, "c-offer")

    async with db.session() as s:
        assert await calls.offer_state(s, "c-offer") == (frozenset(), None)
    assert await event("transfer_offered", agent_id=7) == (frozenset({7}), 7)
    assert await event("transfer_declined", agent_id=7) == (frozenset({7}), None)
    assert await event("transfer_offered", agent_id=9) == (frozenset({7, 9}), 9)
    # A red flag told to the nurse already on the line keeps her offer standing.
    assert await event("transfer_escalated", agent_id=9, in_place=True) == (frozenset({7, 9}), 9)
    assert await event("transfer_answered", agent_id=9) == (frozenset({7, 9}), None)
    assert await event("transfer_offered", agent_id=None) == (frozenset({7, 9}), None)  # on call


async def test_the_calls_a_dead_worker_held_are_closed_with_callbacks(db: Database) -> None:
    async with db.session() as s:
        for call_id, worker in (("c-lost", "w1"), ("c-flagged", "w1"), ("c-other", "w2")):
            await calls.open_call(s, call_id=call_id, caller_number=None, started=T0,
                                  worker=worker)  # fmt: skip
        await calls.set_fields(s, "c-flagged", triage_level="emergent", flags=["chest_pain"])
        await calls.open_call(s, call_id="c-done", caller_number=None, started=T0, worker="w1")
        await calls.close_call(s, call_id="c-done", ended=T0, disposition="info_given")
    later = T0 + timedelta(minutes=3)
    async with db.session() as s:
        assert sorted(await calls.close_lost_calls(s, "w1", ended=later)) == [
            "c-flagged", "c-lost"
        ]
        assert await calls.close_lost_calls(s, "w1", ended=later) == []  # twice is harmless
        lost = await calls.call_report(s, "c-lost")
        flagged = await calls.call_report(s, "c-flagged")
        untouched = await calls.call_report(s, "c-other")
        done = await calls.call_report(s, "c-done")
    assert lost["disposition"] == "worker_lost" and lost["ended"] is not None
    assert [(t["kind"], t["queue"]) for t in lost["tasks"]] == [("callback", "front_desk")]
    assert [(t["kind"], t["queue"]) for t in flagged["tasks"]] == [("nurse_callback", "nurse")]
    assert untouched["ended"] is None and untouched["tasks"] == []
    assert done["disposition"] == "info_given" and done["tasks"] == []
