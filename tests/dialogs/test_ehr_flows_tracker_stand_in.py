"""The flows' actions with the EHR as the source of truth (a real FHIR R4 server): a caller
the local store has never seen is verified from the EHR, books a slot the EHR offers, and
hears "booked" only when the EHR took it; her refill reaches the EHR as a Task."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from dialogs.actions import build_action_executor
from integrations.ehr.fhir_client import EhrSettings, FhirEhr
from integrations.ehr.sync import EhrSync
from integrations.store import Database
from integrations.store.models import StaffTask, VisitType
from tests.dialogs.conftest import NOW, Conversation, verified
from tests.integrations.fhir_server import FhirServer, add_clinic

# "tuesday morning" from the harness's Monday 3 March 2031.
TUESDAY = date(2031, 3, 4)


@pytest.fixture
async def empty_store(tmp_path: Path) -> AsyncIterator[Database]:
    """A clinic store that knows no patient: everything about her is in the EHR."""
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path}/clinic.db", Fernet.generate_key())
    await db.create_all()
    async with db.session() as s:
        s.add(VisitType(code="follow_up", label="Follow-up", minutes=30))
        await s.commit()
    yield db
    await db.dispose()


def _conversation(db: Database, domain: dict[str, Any], ehr_url: str, token: str) -> Conversation:
    sync = EhrSync(db, FhirEhr(EhrSettings.from_url(ehr_url, token, timeout_s=3)))
    return Conversation(build_action_executor(db, clock=lambda: NOW, ehr=sync), domain, db)


async def _verified_booking_offer(c: Conversation, family: str) -> None:
    c.user("I'd like to make an appointment", "schedule_appointment")
    await verified(c, "schedule_form", f"Rosa {family}", "July 14th 1961")
    assert c.slots["verified"] is True
    c.answer("when_text", "tuesday morning")
    await c.run("validate_schedule_form", "schedule_form")
    assert c.slots["offered_slots"], "the EHR's free slots are offered"


async def test_a_caller_only_the_ehr_knows_books_there_and_hears_it(
    fhir_server: FhirServer, empty_store: Database, domain: dict[str, Any]
) -> None:
    ids = add_clinic(fhir_server, TUESDAY, "Castellanos")
    c = await _conversation(empty_store, domain, fhir_server.ehr_url, fhir_server.token).open(
        "+15550104477")
    await _verified_booking_offer(c, "Castellanos")
    c.answer("slot_choice", "the first one")
    await c.run("validate_schedule_form", "schedule_form")
    end = await c.run("action_submit_schedule")
    assert end.said.startswith("You're booked.")
    (appointment,) = fhir_server.search(f"Appointment?patient=Patient/{ids['patient']}")
    assert appointment["status"] == "booked"


async def test_with_the_ehr_gone_the_caller_hears_it_is_not_booked_and_is_called_back(
    fhir_server: FhirServer, empty_store: Database, domain: dict[str, Any]
) -> None:
    add_clinic(fhir_server, TUESDAY, "Abernathy")
    c = await _conversation(empty_store, domain, fhir_server.ehr_url, fhir_server.token).open(
        None)
    await _verified_booking_offer(c, "Abernathy")
    # The EHR goes away between the offer and the caller's pick.
    gone = await _conversation(empty_store, domain, "fhir+http://127.0.0.1:9/fhir", "x").open(None)
    gone.call_id, gone.slots, gone.events = c.call_id, c.slots, c.events
    gone.answer("slot_choice", "the first one")
    turn = await gone.run("validate_schedule_form", "schedule_form")
    assert "not booked" in turn.said and "call you back" in turn.said
    end = await gone.run("action_submit_schedule")
    assert "booked" not in end.said
    report = await gone.report()
    assert report["appointments_booked"] == 0
    async with empty_store.session() as s:
        (task,) = (await s.scalars(select(StaffTask))).all()
    assert task.kind == "callback" and task.call_id == c.call_id


async def test_a_refill_from_the_ehrs_medication_list_lands_there_as_a_task(
    fhir_server: FhirServer, empty_store: Database, domain: dict[str, Any]
) -> None:
    ids = add_clinic(fhir_server, date(2031, 3, 18), "Villanueva")
    c = await _conversation(empty_store, domain, fhir_server.ehr_url, fhir_server.token).open(
        None)
    c.user("I need a refill", "request_refill")
    for slot, text in (("patient_name", "Rosa Villanueva"), ("dob", "July 14th 1961"),
                       ("dob_confirmed", "yes"), ("medication", "my lisinopril")):
        c.answer(slot, text)
        await c.run("validate_refill_form", "refill_form")
    if c.slots.get("requested_slot") == "refill_confirmed":
        c.answer("refill_confirmed", "yes", "affirm")
        await c.run("validate_refill_form", "refill_form")
    end = await c.run("action_submit_refill")
    assert "refill request for lisinopril" in end.said
    (task,) = fhir_server.search(f"Task?patient=Patient/{ids['patient']}")
    assert task["status"] == "requested"


async def test_a_slot_the_ehr_gave_away_meanwhile_is_refused_and_fresh_ones_offered(
    fhir_server: FhirServer, empty_store: Database, domain: dict[str, Any]
) -> None:
    """The front desk books the offered time in the EHR while the caller decides: the EHR
    refuses our booking (the slot's version changed, 412) and she is offered others."""
    add_clinic(fhir_server, TUESDAY, "Sorensen", born=date(1958, 2, 3))
    c = await _conversation(empty_store, domain, fhir_server.ehr_url, fhir_server.token).open(
        None)
    c.user("I'd like to make an appointment", "schedule_appointment")
    for slot, text in (("patient_name", "Rosa Sorensen"), ("dob", "February 3rd 1958"),
                       ("dob_confirmed", "yes")):
        c.answer(slot, text)
        await c.run("validate_schedule_form", "schedule_form")
    c.answer("when_text", "tuesday morning")
    await c.run("validate_schedule_form", "schedule_form")
    first = c.slots["offered_slots"][0]
    stamp = datetime.fromisoformat(first["start"]).astimezone().isoformat().replace("+", "%2B")
    for taken in fhir_server.search(f"Slot?start={stamp}"):
        taken["status"] = "busy"
        assert fhir_server.call("PUT", f"Slot/{taken['id']}", taken)[0] == 200
    c.answer("slot_choice", "the first one")
    turn = await c.run("validate_schedule_form", "schedule_form")
    assert "just taken" in turn.said
    assert first["start"] not in [o["start"] for o in c.slots["offered_slots"]]
