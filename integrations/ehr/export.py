"""Load what the local store holds into an EHR that does not have it yet (`seed --ehr`).

For a clinic trying clinicline against a test EHR: the demo clinic, or a bundle imported with
`seed --patients`, is written to the EHR — practitioners, locations, a schedule per provider
and location, slots, patients, their medications and booked appointments — and each row
learns its EHR id, so the phone line and the EHR talk about the same records from then on.
Rows that already have an EHR id are skipped: running it again only adds what is new.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from integrations.ehr import resources as fhir
from integrations.ehr.fhir_client import FhirEhr
from integrations.services.transaction import atomic
from integrations.store.database import Database
from integrations.store.models import Appointment, Location, Medication, Patient, Provider, Slot

log = logging.getLogger(__name__)

PLACE_SYSTEM = "urn:clinicline:location"
SCHEDULE_SYSTEM = "urn:clinicline:schedule"
# Entries per transaction: one answer per batch keeps a large clinic's export from being one
# request the EHR must hold in memory, and a failure loses only its own batch.
BATCH = 200
# A local slot status as a FHIR Slot status (blocked: its provider is out that day).
_FHIR_SLOT_STATUS = {"free": "free", "booked": "busy", "blocked": "busy-unavailable"}


@dataclass
class ExportReport:
    written: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int) -> None:
        if count:
            self.written[kind] = self.written.get(kind, 0) + count


class _Batch:
    """Entries of one transaction, each remembering the local row that learns its id."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.rows: list[Any] = []

    def post(self, resource: dict[str, Any], row: Any, if_none_exist: str | None = None) -> str:
        url = f"urn:uuid:{uuid.uuid4()}"
        self.entries.append({"fullUrl": url, **fhir.post(resource, if_none_exist)})
        self.rows.append(row)
        return url


async def export_to_ehr(
    db: Database, ehr: FhirEhr, *, since: datetime | None = None
) -> ExportReport:
    """Write every record the EHR lacks; slots and appointments from `since` (default: now)."""
    since = since or datetime.now()
    report = ExportReport()
    async with db.session() as s, atomic(s):
        places = await _places(s, ehr)
        await _write(ehr, report, await _practitioners(s))
        await _write(ehr, report, await _patients(s))
        await _write(ehr, report, await _medications(s))
        schedules = await _schedules(s, ehr, places)
        slots = (
            await s.scalars(
                select(Slot)
                .where(Slot.fhir_id.is_(None), Slot.start >= since)
                .order_by(Slot.start, Slot.provider_id)
            )
        ).all()
        for first in range(0, len(slots), BATCH):
            batch = _Batch()
            for slot in slots[first : first + BATCH]:
                ref = schedules[(slot.provider_id, slot.location_id)]
                status = _FHIR_SLOT_STATUS[slot.status]
                batch.post(fhir.slot(ref, slot.start, slot.end, status, slot.visit_type_code), slot)
            await _write(ehr, report, batch)
        await _write(ehr, report, await _appointments(s, since))
    return report


async def _write(ehr: FhirEhr, report: ExportReport, batch: _Batch) -> None:
    if not batch.entries:
        return
    answer = await ehr.transaction(batch.entries)
    for row, fhir_id, entry in zip(batch.rows, FhirEhr.ids(answer), answer["entry"], strict=True):
        if row is None:
            continue
        row.fhir_id = fhir_id
        if isinstance(row, Slot):
            row.fhir_version = str((entry.get("resource") or {}).get("meta", {}).get("versionId"))
        report.add(type(row).__name__, 1)


async def _created(ehr: FhirEhr, batch: _Batch) -> list[str]:
    """The EHR ids of a batch of conditional creates, in order (none for an empty batch)."""
    return FhirEhr.ids(await ehr.transaction(batch.entries)) if batch.entries else []


async def _places(s: Any, ehr: FhirEhr) -> dict[int, str]:
    """Location/<id> in the EHR for each local location (found again by name)."""
    batch = _Batch()
    rows = (await s.scalars(select(Location).order_by(Location.id))).all()
    for place in rows:
        resource = {
            **fhir.location(place.name),
            "identifier": [{"system": PLACE_SYSTEM, "value": place.name}],
        }
        batch.post(resource, None, f"identifier={PLACE_SYSTEM}|{place.name}")
    ids = await _created(ehr, batch)
    return {p.id: f"Location/{i}" for p, i in zip(rows, ids, strict=True)}


async def _practitioners(s: Any) -> _Batch:
    batch = _Batch()
    for doctor in (await s.scalars(select(Provider).where(Provider.fhir_id.is_(None)))).all():
        batch.post(fhir.practitioner(doctor.name), doctor)
    return batch


async def _patients(s: Any) -> _Batch:
    batch = _Batch()
    for p in (await s.scalars(select(Patient).where(Patient.fhir_id.is_(None)))).all():
        phones = tuple(ph.number for ph in p.phones)
        batch.post(
            fhir.patient(first=p.first_name, last=p.last_name, dob=p.dob, phones=phones, sex=p.sex),
            p,
        )
    return batch


async def _medications(s: Any) -> _Batch:
    batch = _Batch()
    rows = await s.execute(
        select(Medication, Patient.fhir_id)
        .join(Patient, Patient.id == Medication.patient_id)
        .where(Medication.fhir_id.is_(None), Patient.fhir_id.is_not(None))
    )
    for med, patient in rows:
        label = f"{med.name} {med.strength}".strip()
        batch.post(
            fhir.medication_request(f"Patient/{patient}", label, med.refills_left, med.active), med
        )
    return batch


async def _schedules(s: Any, ehr: FhirEhr, places: dict[int, str]) -> dict[tuple[int, int], str]:
    pairs = (await s.execute(select(Slot.provider_id, Slot.location_id).distinct())).all()
    doctors = dict((await s.execute(select(Provider.id, Provider.fhir_id))).all())
    batch, keys = _Batch(), []
    for provider_id, location_id in sorted(pairs):
        practitioner = f"Practitioner/{doctors[provider_id]}"
        key = f"{doctors[provider_id]}/{places[location_id].split('/')[-1]}"
        resource = {
            **fhir.schedule(practitioner, places[location_id]),
            "identifier": [{"system": SCHEDULE_SYSTEM, "value": key}],
        }
        batch.post(resource, None, f"identifier={SCHEDULE_SYSTEM}|{key}")
        keys.append((provider_id, location_id))
    ids = await _created(ehr, batch)
    return {k: f"Schedule/{i}" for k, i in zip(keys, ids, strict=True)}


async def _appointments(s: Any, since: datetime) -> _Batch:
    batch = _Batch()
    rows = await s.execute(
        select(Appointment, Patient.fhir_id, Provider.fhir_id, Slot.fhir_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Provider, Provider.id == Appointment.provider_id)
        .outerjoin(Slot, Slot.id == Appointment.slot_id)
        .where(
            Appointment.fhir_id.is_(None),
            Appointment.status == "booked",
            Appointment.start >= since,
            Patient.fhir_id.is_not(None),
        )
    )
    for appt, patient, practitioner, slot in rows:
        if slot is None or practitioner is None:
            continue  # an appointment on no slot the EHR has: the clinic's own to enter
        booking = fhir.appointment(
            slot_id=slot,
            patient_id=patient,
            practitioner_id=practitioner,
            start=appt.start,
            end=appt.end,
            visit_type=appt.visit_type,
            booking_key=f"export:{uuid.uuid4()}",
        )
        batch.post(booking, appt)
    return batch
