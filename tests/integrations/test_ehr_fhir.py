"""The EHR adapter against a real FHIR R4 server (sekmet-fhir, started here): the EHR is the
source of truth for who the patient is, what she takes and which slots are free; bookings are
written there first, guarded by the slot's version; nothing the EHR did not take is
announced; refill requests reach it as Tasks, through an outbox that survives it being down.

The local store is a real SQLite file (the adapter's SQL is the services' own, run on both
backends by their tests)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from clinicline.harness import free_port
from integrations.ehr.fhir_client import EhrSettings, FhirEhr
from integrations.ehr.sync import CALLBACK_QUEUE, EhrSync
from integrations.errors import ConfigError, EhrUnavailable, SlotTaken
from integrations.hl7.outbox import Hl7Outbox, Hl7Settings
from integrations.services import absences, refills, scheduling
from integrations.services.absences import Absence
from integrations.services.identity import verify_caller
from integrations.services.tasks import complete_task, create_task, open_tasks
from integrations.store import Database
from integrations.store.models import (
    Appointment,
    Patient,
    RefillRequest,
    Slot,
    StaffTask,
    VisitType,
)
from tests.integrations.conftest import add_patient, fresh_database
from tests.integrations.fhir_server import FhirServer, add_clinic, add_coverage
from tests.integrations.fhir_server import at as _at
from tests.integrations.hl7_engine import Engine

NOW = datetime(2031, 3, 3, 7, 0)


@pytest.fixture
async def store(tmp_path: Path, data_key: bytes) -> AsyncIterator[Database]:
    async with fresh_database("sqlite", tmp_path, data_key) as db:
        async with db.session() as s:
            s.add(VisitType(code="follow_up", label="Follow-up", minutes=30))
            await s.commit()
        yield db


def _sync(db: Database, server: FhirServer, token: str | None = None) -> EhrSync:
    settings = EhrSettings.from_url(server.ehr_url, token or server.token, timeout_s=10)
    return EhrSync(db, FhirEhr(settings))


async def _verified(db: Database, sync: EhrSync, family: str) -> int:
    assert await sync.before_verification("1961-07-14")
    async with db.session() as s:
        result = await verify_caller(s, f"Rosa {family}", date(1961, 7, 14), "+15550104477")
    assert result.status == "verified", result
    assert result.patient_id is not None
    return result.patient_id


async def _offers(db: Database, sync: EhrSync, day: date) -> list[scheduling.SlotOffer]:
    lower, upper = datetime.combine(day, time.min), datetime.combine(day, time.max)
    assert await sync.before_slots(lower, upper)
    async with db.session() as s:
        return await scheduling.find_slots(s, when=None, now=lower, limit=10)


def _appointments_in_ehr(server: FhirServer, patient: str) -> list[dict[str, Any]]:
    return server.search(f"Appointment?patient=Patient/{patient}")


def _slot_in_ehr(server: FhirServer, start: datetime) -> dict[str, Any]:
    stamp = start.astimezone().isoformat().replace("+", "%2B")
    (slot,) = server.search(f"Slot?start={stamp}")
    return slot


async def test_a_caller_known_only_to_the_ehr_is_verified_from_it(
    fhir_server: FhirServer, store: Database
) -> None:
    add_clinic(fhir_server, date(2031, 3, 4), "Delgado")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Delgado")
    async with store.session() as s:
        patient = await s.get(Patient, pid)
        assert patient is not None and patient.fhir_id
    # A wrong date of birth finds nobody, in the EHR or here.
    assert await sync.before_verification("1961-07-15")
    async with store.session() as s:
        wrong = await verify_caller(s, "Rosa Delgado", date(1961, 7, 15), None)
    assert wrong.status == "no_match"


async def test_the_insurance_in_force_is_read_from_the_ehr_with_the_member_id_masked(
    fhir_server: FhirServer, store: Database
) -> None:
    ids = add_clinic(fhir_server, date(2031, 3, 5), "Coverdale")
    add_coverage(fhir_server, ids["patient"], "Blue Cross of Somewhere")
    add_coverage(fhir_server, ids["patient"], "Old Payer", status="cancelled")
    add_coverage(fhir_server, ids["patient"], "Lapsed Payer", until="2030-06-30")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Coverdale")
    assert await sync.coverage(pid, date(2031, 3, 5)) == [{
        "payer": "Blue Cross of Somewhere", "plan": "PPO Gold", "member_id_last4": "6789",
        "until": "2032-12-31",
    }]  # fmt: skip
    down = EhrSync(store, FhirEhr(EhrSettings.from_url(f"fhir+http://127.0.0.1:{free_port()}/fhir",
                                                       "t", timeout_s=2)))
    with pytest.raises(EhrUnavailable):
        await down.coverage(pid, date(2031, 3, 5))


async def test_demographics_changed_in_the_ehr_are_what_verifies_the_next_call(
    fhir_server: FhirServer, store: Database
) -> None:
    ids = add_clinic(fhir_server, date(2031, 3, 5), "Marsh")
    sync = _sync(store, fhir_server)
    await _verified(store, sync, "Marsh")
    status, current = fhir_server.call("GET", f"Patient/{ids['patient']}")
    current["name"] = [{"use": "official", "family": "Whitcombe", "given": ["Rosa"]}]
    assert fhir_server.call("PUT", f"Patient/{ids['patient']}", current)[0] == 200
    await _verified(store, sync, "Whitcombe")
    async with store.session() as s:
        old = await verify_caller(s, "Rosa Marsh", date(1961, 7, 14), None)
    assert old.status == "no_match"


async def test_free_slots_come_from_the_ehr_and_a_booking_lands_there_first(
    fhir_server: FhirServer, store: Database
) -> None:
    day = date(2031, 3, 6)
    ids = add_clinic(fhir_server, day, "Lindqvist")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Lindqvist")
    offers = await _offers(store, sync, day)
    assert [o.start for o in offers] == [_at(day, 9), _at(day, 9, 30), _at(day, 14),
                                         _at(day, 14, 30)]
    assert offers[0].provider == "Dr. Okafor" and offers[0].location == "Lindqvist Clinic"

    booking = await sync.book(call_id="call-book-1", patient_id=pid, slot_id=offers[2].slot_id)
    assert booking.start == _at(day, 14)
    (appt,) = _appointments_in_ehr(fhir_server, ids["patient"])
    assert appt["status"] == "booked"
    assert _slot_in_ehr(fhir_server, _at(day, 14))["status"] == "busy"
    async with store.session() as s:
        local = await s.get(Appointment, booking.appointment_id)
        assert local is not None and local.fhir_id == appt["id"]
    # The same call asking again gets the same booking, not a second appointment.
    again = await sync.book(call_id="call-book-1", patient_id=pid, slot_id=offers[2].slot_id)
    assert again == booking
    assert len(_appointments_in_ehr(fhir_server, ids["patient"])) == 1
    # The next caller is not offered it.
    assert _at(day, 14) not in [o.start for o in await _offers(store, sync, day)]


async def test_a_slot_taken_in_the_ehr_after_it_was_offered_is_refused_and_not_offered_again(
    fhir_server: FhirServer, store: Database
) -> None:
    day = date(2031, 3, 7)
    ids = add_clinic(fhir_server, day, "Achebe")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Achebe")
    offers = await _offers(store, sync, day)
    # The front desk books 09:00 in the EHR itself while the caller is deciding.
    taken = _slot_in_ehr(fhir_server, _at(day, 9))
    taken["status"] = "busy"
    assert fhir_server.call("PUT", f"Slot/{taken['id']}", taken)[0] == 200

    with pytest.raises(SlotTaken):
        await sync.book(call_id="call-late", patient_id=pid, slot_id=offers[0].slot_id)
    assert _appointments_in_ehr(fhir_server, ids["patient"]) == []
    async with store.session() as s:
        assert (await s.scalars(select(Appointment))).all() == []
        # The re-offer no longer has it, read back from the EHR.
        found = await scheduling.find_slots(s, when=None, now=_at(day, 0), limit=10)
    assert _at(day, 9) not in [o.start for o in found]


async def test_two_processes_racing_for_one_slot_book_it_once(
    fhir_server: FhirServer, store: Database, tmp_path: Path, data_key: bytes
) -> None:
    """Two app processes with stores of their own (the EHR is all they share)."""
    day = date(2031, 3, 10)
    ids = add_clinic(fhir_server, day, "Nakamura")
    async with fresh_database("sqlite", tmp_path / "other", data_key) as other:
        async with other.session() as s:
            s.add(VisitType(code="follow_up", label="Follow-up", minutes=30))
            await s.commit()
        syncs = [_sync(store, fhir_server), _sync(other, fhir_server)]
        pids = [await _verified(db, sync, "Nakamura") for db, sync in zip(
            (store, other), syncs, strict=True)]
        slot_ids = [(await _offers(db, sync, day))[1].slot_id for db, sync in zip(
            (store, other), syncs, strict=True)]
        outcomes = await asyncio.gather(
            *(sync.book(call_id=f"race-{i}", patient_id=pids[i], slot_id=slot_ids[i])
              for i, sync in enumerate(syncs)),
            return_exceptions=True,
        )
    booked = [o for o in outcomes if isinstance(o, scheduling.Booking)]
    refused = [o for o in outcomes if isinstance(o, SlotTaken)]
    assert len(booked) == 1 and len(refused) == 1, outcomes
    assert len(_appointments_in_ehr(fhir_server, ids["patient"])) == 1


async def test_cancel_and_reschedule_change_the_ehr_and_free_its_slots(
    fhir_server: FhirServer, store: Database
) -> None:
    day = date(2031, 3, 11)
    ids = add_clinic(fhir_server, day, "Oduya")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Oduya")
    offers = await _offers(store, sync, day)
    first = await sync.book(call_id="c1", patient_id=pid, slot_id=offers[0].slot_id)
    moved = await sync.reschedule(call_id="c2", patient_id=pid,
                                  appointment_id=first.appointment_id, slot_id=offers[3].slot_id)
    assert moved.start == _at(day, 14, 30)
    statuses = sorted(a["status"] for a in _appointments_in_ehr(fhir_server, ids["patient"]))
    assert statuses == ["booked", "cancelled"]
    assert _slot_in_ehr(fhir_server, _at(day, 9))["status"] == "free"
    assert _slot_in_ehr(fhir_server, _at(day, 14, 30))["status"] == "busy"

    await sync.cancel(call_id="c3", patient_id=pid, appointment_id=moved.appointment_id)
    assert [a["status"] for a in _appointments_in_ehr(fhir_server, ids["patient"])] == [
        "cancelled", "cancelled"]
    assert _slot_in_ehr(fhir_server, _at(day, 14, 30))["status"] == "free"
    assert _at(day, 14, 30) in [o.start for o in await _offers(store, sync, day)]


async def test_a_provider_out_blocks_her_free_slots_in_the_ehr_and_a_freed_one_stays_blocked(
    fhir_server: FhirServer, store: Database
) -> None:
    """A provider-out campaign's absence is written to the EHR (Slot busy-unavailable, over
    the version read) before anything here; a visit cancelled on that day leaves its slot
    busy-unavailable, and no slot of hers that day is offered, even after a fresh read."""
    day = date(2031, 4, 8)
    add_clinic(fhir_server, day, "Mwangi")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Mwangi")
    offers = await _offers(store, sync, day)
    booked = await sync.book(call_id="out-1", patient_id=pid, slot_id=offers[0].slot_id)
    async with store.session() as s:
        appointment = await s.get(Appointment, booked.appointment_id)
        assert appointment is not None
        provider_id = appointment.provider_id

    blocked = await sync.declare_out(Absence(provider_id, day, day), actor="test")
    assert blocked == 3
    assert _slot_in_ehr(fhir_server, _at(day, 9))["status"] == "busy"  # her visit, still booked
    for hour, minute in ((9, 30), (14, 0), (14, 30)):
        assert _slot_in_ehr(fhir_server, _at(day, hour, minute))["status"] == "busy-unavailable"
    assert await _offers(store, sync, day) == []

    await sync.cancel(call_id="out-2", patient_id=pid, appointment_id=booked.appointment_id)
    assert _slot_in_ehr(fhir_server, _at(day, 9))["status"] == "busy-unavailable"
    assert await _offers(store, sync, day) == []
    async with store.session() as s:
        statuses = set(await s.scalars(select(Slot.status).where(Slot.provider_id == provider_id)))
        (absence,) = await absences.declared(s)
    assert statuses == {"blocked"}

    # She is in after all: every slot is free again, in the EHR first.
    assert absence.id is not None
    assert await sync.withdraw_out(absence.id, actor="test") == 4
    for hour, minute in ((9, 0), (9, 30), (14, 0), (14, 30)):
        assert _slot_in_ehr(fhir_server, _at(day, hour, minute))["status"] == "free"
    assert len(await _offers(store, sync, day)) == 4


async def test_with_the_ehr_down_nothing_is_booked_and_the_request_is_kept_for_a_person(
    fhir_server: FhirServer, store: Database
) -> None:
    day = date(2031, 3, 12)
    add_clinic(fhir_server, day, "Ferreira")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Ferreira")
    offers = await _offers(store, sync, day)
    down = EhrSync(store, FhirEhr(EhrSettings.from_url(f"fhir+http://127.0.0.1:{free_port()}/fhir",
                                                       "t", timeout_s=2)))
    # Reads fall back to what was last mirrored: the caller is still verified.
    assert not await down.before_verification("1961-07-14")
    async with store.session() as s:
        assert (await verify_caller(s, "Rosa Ferreira", date(1961, 7, 14), None)).status == (
            "verified")
    with pytest.raises(EhrUnavailable):
        await down.book(call_id="call-down", patient_id=pid, slot_id=offers[0].slot_id)
    async with store.session() as s:
        assert (await s.scalars(select(Appointment))).all() == []
        slot = await s.get(Slot, offers[0].slot_id)
        assert slot is not None and slot.status == "free"
        (task,) = await open_tasks(s, CALLBACK_QUEUE)
    assert task.kind == "callback" and task.patient_id == pid and task.call_id == "call-down"


async def test_an_ehr_that_hangs_mid_transaction_or_answers_garbage_books_nothing(
    fhir_server: FhirServer, store: Database
) -> None:
    """Stand-in EHRs (a real one cannot be made to hang or garble on demand): one that holds
    the transaction past the timeout, one that answers it with something that is not FHIR."""
    day = date(2031, 3, 13)
    add_clinic(fhir_server, day, "Haddad")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Haddad")
    offers = await _offers(store, sync, day)
    for behaviour in ("hang", "garbage"):
        async with _stand_in_ehr(fhir_server, behaviour) as url:
            flaky = EhrSync(store, FhirEhr(EhrSettings.from_url(url, fhir_server.token,
                                                                timeout_s=2)))
            with pytest.raises(EhrUnavailable):
                await flaky.book(call_id=f"call-{behaviour}", patient_id=pid,
                                 slot_id=offers[1].slot_id)
    async with store.session() as s:
        assert (await s.scalars(select(Appointment))).all() == []
        assert len(await open_tasks(s, CALLBACK_QUEUE)) == 2
    assert _slot_in_ehr(fhir_server, _at(day, 9, 30))["status"] == "free"


async def test_refill_requests_reach_the_ehr_as_tasks_even_after_it_was_down(
    fhir_server: FhirServer, store: Database
) -> None:
    ids = add_clinic(fhir_server, date(2031, 3, 14), "Kowalski")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Kowalski")
    assert await sync.before_medications(pid)
    async with store.session() as s:
        (med,) = await refills.active_medications(s, pid)
        assert med.name == "lisinopril" and med.refills_left == 3
        outcome = await refills.request_refill(s, call_id="call-rx", patient_id=pid,
                                               medication_id=med.id)
    assert outcome.status == "created"
    down = EhrSync(store, FhirEhr(EhrSettings.from_url(
        f"fhir+http://127.0.0.1:{free_port()}/fhir", "t", timeout_s=2)))
    assert await down.send_refills() == 0
    async with store.session() as s:
        (row,) = (await s.scalars(select(RefillRequest))).all()
        assert row.ehr_task_id is None  # still waiting, not lost
    assert await sync.send_refills() == 1
    assert await sync.send_refills() == 0  # sent once
    (task,) = fhir_server.search(f"Task?patient=Patient/{ids['patient']}")
    assert task["status"] == "requested" and task["focus"]["reference"].startswith(
        "MedicationRequest/")
    async with store.session() as s:
        (row,) = (await s.scalars(select(RefillRequest))).all()
        assert row.ehr_task_id == task["id"]
        # An answer lost on the way back (sent, not marked): the retry finds the same Task.
        row.ehr_task_id = None
        await s.commit()
    assert await sync.send_refills() == 1
    assert [t["id"] for t in fhir_server.search(f"Task?patient=Patient/{ids['patient']}")] == [
        task["id"]]


async def test_callbacks_reach_the_ehr_as_a_task_on_the_callers_message_once(
    fhir_server: FhirServer, store: Database
) -> None:
    """A nurse callback left by a call lands in the EHR as what the caller asked (a
    Communication) and the work (an urgent Task on it); the EHR down, it waits, and a second
    pass writes nothing twice. A task for a patient the EHR never had stays local."""
    ids = add_clinic(fhir_server, date(2031, 3, 15), "Thistlewood")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Thistlewood")
    stranger = await add_patient(store, "Local", "Only", date(1970, 1, 1))
    async with store.session() as s:
        nurse = await create_task(s, kind="nurse_callback", queue="nurse", patient_id=pid,
                                  call_id="call-cb", note="Dizzy since this morning.")
        await create_task(s, kind="callback", queue="front_desk", patient_id=stranger,
                          call_id="call-local", note="Wants a call back.")
        await create_task(s, kind="refill_review", queue="pharmacy", patient_id=pid,
                          call_id="call-rx", note="Controlled: prescriber review.")
        # Done by the billing desk while the EHR was down: it arrives there as done.
        insurance = await create_task(s, kind="insurance_update", queue="billing",
                                      patient_id=pid, call_id="call-ins", note="New card.")
        await complete_task(s, insurance)
    down = EhrSync(store, FhirEhr(EhrSettings.from_url(
        f"fhir+http://127.0.0.1:{free_port()}/fhir", "t", timeout_s=2)))
    assert await down.send_tasks() == 0 and down.tasks_waiting == 2
    assert await sync.send_tasks() == 2
    assert await sync.send_tasks() == 0  # nothing waits, nothing is written twice
    (done,) = fhir_server.search(f"Task?patient=Patient/{ids['patient']}&status=completed")
    assert done["description"] == "New card."
    (task,) = fhir_server.search(f"Task?patient=Patient/{ids['patient']}&priority=urgent")
    assert task["code"]["text"].startswith("Nurse callback")
    assert task["description"] == "Dizzy since this morning."
    message_id = task["focus"]["reference"].split("/")[-1]
    status, message = fhir_server.call("GET", f"Communication/{message_id}")
    assert status == 200 and message["payload"] == [{"contentString": "Dizzy since this morning."}]
    assert message["subject"]["reference"] == f"Patient/{ids['patient']}"
    async with store.session() as s:
        row = await s.get(StaffTask, nurse)
        assert row is not None and row.ehr_task_id == task["id"]
        local = (await s.scalars(select(StaffTask).where(StaffTask.patient_id == stranger))).one()
        assert local.ehr_task_id is None


async def test_a_medication_stopped_in_the_ehr_is_not_offered_for_refill(
    fhir_server: FhirServer, store: Database
) -> None:
    ids = add_clinic(fhir_server, date(2031, 3, 17), "Brennan")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Brennan")
    assert await sync.before_medications(pid)
    (order,) = fhir_server.search(f"MedicationRequest?patient=Patient/{ids['patient']}")
    order["status"] = "stopped"
    assert fhir_server.call("PUT", f"MedicationRequest/{order['id']}", order)[0] == 200
    assert await sync.before_medications(pid)
    async with store.session() as s:
        assert await refills.active_medications(s, pid) == []


async def test_a_wrong_token_is_refused_and_reads_fall_back(
    fhir_server: FhirServer, store: Database
) -> None:
    sync = _sync(store, fhir_server, token="not-the-token")
    assert not await sync.before_verification("1961-07-14")


@pytest.mark.parametrize(
    "url",
    ["http://user:pw@127.0.0.1:1/fhir", "fhir+http://127.0.0.1:1/fhir?token=x", "ftp://x/fhir",
     "fhir+", ""],
)
def test_an_ehr_url_with_credentials_or_no_http_is_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        EhrSettings.from_url(url)


class _StandIn:
    def __init__(self, real: FhirServer, behaviour: str) -> None:
        self.real, self.behaviour = real, behaviour

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST":  # the transaction
            if self.behaviour == "hang":
                await asyncio.sleep(30)
            return web.Response(text="<html>502 Bad Gateway</html>", status=200,
                                content_type="application/fhir+json")
        status, body = await asyncio.to_thread(
            self.real.call, "GET", request.path_qs.split("/fhir/", 1)[1])
        return web.json_response(body, status=status)



@asynccontextmanager
async def _stand_in_ehr(real: FhirServer, behaviour: str) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/fhir/{tail:.*}", _StandIn(real, behaviour).handle)
    app.router.add_route("*", "/fhir", _StandIn(real, behaviour).handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"fhir+http://127.0.0.1:{port}/fhir"
    finally:
        await runner.cleanup()


async def test_the_demo_clinic_seeded_into_an_ehr_is_verified_and_booked_through_it(
    fhir_server: FhirServer, store: Database, tmp_path: Path
) -> None:
    """`clinicline seed --demo --ehr …` as an operator runs it; then a store that holds none of
    it verifies a demo patient and books one of the demo's slots, in the EHR."""
    seeded = tmp_path / "seeded.db"
    done = subprocess.run(
        [sys.executable, "-m", "clinicline.cli", "seed", "--demo", "--db",
         f"sqlite:///{seeded}", "--ehr", fhir_server.ehr_url],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "CLINICLINE_EHR_TOKEN": fhir_server.token},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = json.loads(done.stdout.strip().splitlines()[-1])["written"]
    assert written["Patient"] == 41 and written["Slot"] > 500 and written["Appointment"] >= 1

    sync = _sync(store, fhir_server)
    assert await sync.before_verification("1990-07-19")
    async with store.session() as s:
        aisha = await verify_caller(s, "Aisha Khan", date(1990, 7, 19), None)
    assert aisha.status == "verified" and aisha.patient_id is not None
    tomorrow = date.today() + timedelta(days=1)
    lower = datetime.combine(tomorrow, time.min)
    assert await sync.before_slots(lower, lower + timedelta(days=7))
    async with store.session() as s:
        offers = await scheduling.find_slots(s, when=None, now=lower, limit=3)
    assert offers, "the demo's slots are offered from the EHR"
    booking = await sync.book(call_id="demo-ehr", patient_id=aisha.patient_id,
                              slot_id=offers[0].slot_id)
    async with store.session() as s:
        patient = await s.get(Patient, aisha.patient_id)
        assert patient is not None
        fhir_id = patient.fhir_id
    booked = [a for a in _appointments_in_ehr(fhir_server, str(fhir_id))
              if a["status"] == "booked"]
    assert any(a["start"] == booking.start.astimezone().isoformat() for a in booked), booked


async def test_a_booking_by_phone_is_in_the_ehr_and_announced_to_the_interface_engine(
    fhir_server: FhirServer, store: Database, engine: Engine
) -> None:
    """Both integrations at once: the FHIR server has the appointment, the HL7 engine its SIU
    (the patient named by her EHR id), and the cancellation follows both ways."""
    day = date(2031, 3, 19)
    ids = add_clinic(fhir_server, day, "Eriksen", born=date(1949, 12, 1))
    sync = _sync(store, fhir_server)
    outbox = Hl7Outbox(store, Hl7Settings("127.0.0.1", engine.port, timeout_s=5),
                       clock=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    await outbox.collect()  # switched on
    assert await sync.before_verification("1949-12-01")
    async with store.session() as s:
        who = await verify_caller(s, "Rosa Eriksen", date(1949, 12, 1), None)
    assert who.patient_id is not None
    offers = await _offers(store, sync, day)
    booking = await sync.book(call_id="both", patient_id=who.patient_id, slot_id=offers[0].slot_id)
    await sync.cancel(call_id="both", patient_id=who.patient_id,
                      appointment_id=booking.appointment_id)
    await outbox.collect()
    assert await outbox.send_due() == 2
    (appointment,) = _appointments_in_ehr(fhir_server, ids["patient"])
    assert appointment["status"] == "cancelled"
    sent = engine.received()
    assert [m["type"] for m in sent] == ["SIU^S12", "SIU^S15"]
    assert {m["patient"] for m in sent} == {ids["patient"]}


class _NeighbourSearchesMeanwhile(FhirEhr):
    """The real EHR client; right after our booking transaction lands, another call on the
    same store searches slots (as a second caller would at that moment)."""

    neighbour: EhrSync | None = None
    window: tuple[datetime, datetime] | None = None

    async def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        answer = await super().transaction(bundle)
        if self.neighbour is not None and self.window is not None:
            assert await self.neighbour.before_slots(*self.window)
        return answer


async def test_a_slot_mirrored_busy_between_our_ehr_write_and_ours_is_still_her_booking(
    fhir_server: FhirServer, store: Database
) -> None:
    day = date(2031, 3, 21)
    ids = add_clinic(fhir_server, day, "Valdivia", born=date(1977, 4, 8))
    settings = EhrSettings.from_url(fhir_server.ehr_url, fhir_server.token, timeout_s=10)
    client = _NeighbourSearchesMeanwhile(settings)
    sync = EhrSync(store, client)
    assert await sync.before_verification("1977-04-08")
    async with store.session() as s:
        who = await verify_caller(s, "Rosa Valdivia", date(1977, 4, 8), None)
    assert who.patient_id is not None
    offers = await _offers(store, sync, day)
    client.neighbour = EhrSync(store, FhirEhr(settings))
    client.window = (datetime.combine(day, time.min), datetime.combine(day, time.max))
    booking = await sync.book(call_id="raced", patient_id=who.patient_id,
                              slot_id=offers[0].slot_id)
    assert booking.start == offers[0].start
    (appointment,) = _appointments_in_ehr(fhir_server, ids["patient"])
    async with store.session() as s:
        local = await s.get(Appointment, booking.appointment_id)
        assert local is not None and local.fhir_id == appointment["id"]


async def test_a_confirmation_reaches_the_ehr_as_her_participation_accepted(
    fhir_server: FhirServer, store: Database
) -> None:
    from integrations.ehr.desk import AppointmentDesk
    from integrations.store.models import AuditEvent

    day = date(2031, 3, 12)
    ids = add_clinic(fhir_server, day, "Mbeki")
    sync = _sync(store, fhir_server)
    pid = await _verified(store, sync, "Mbeki")
    offers = await _offers(store, sync, day)
    booked = await sync.book(call_id="c1", patient_id=pid, slot_id=offers[0].slot_id)
    desk = AppointmentDesk(store, sync)
    assert await desk.confirm(call_id="c2", patient_id=pid, appointment_id=booked.appointment_id)
    (appointment,) = _appointments_in_ehr(fhir_server, ids["patient"])
    mine = [
        p for p in appointment["participant"]
        if p["actor"]["reference"] == f"Patient/{ids['patient']}"
    ]  # fmt: skip
    assert [p["status"] for p in mine] == ["accepted"] and appointment["status"] == "booked"
    async with store.session() as s:
        audit = await s.scalar(
            select(AuditEvent).where(AuditEvent.action == "confirm_appointment")
        )
    assert audit is not None and audit.detail["in_ehr"] is True and audit.call_id == "c2"
