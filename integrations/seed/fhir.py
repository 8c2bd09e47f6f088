"""Import a FHIR R4 Bundle (Patient, Practitioner, MedicationStatement/Request, Appointment).

Every resource is checked before anything is written (`fhir_records.py`), references are
resolved before a row is added, and the valid ones are written in one transaction: a bad
record is reported in `ImportReport.rejected`, never half-loaded. Resources already imported
(same FHIR id) are updated, so re-importing a bundle is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import InvalidField
from integrations.seed import fhir_records as fr
from integrations.services.store_mode import claim_mode
from integrations.services.transaction import atomic
from integrations.store.database import Database
from integrations.store.models import (
    Appointment,
    Medication,
    Patient,
    PatientPhone,
    Provider,
    Slot,
)

# Writing order: what others reference comes first.
ORDER = ("Practitioner", "Patient", "MedicationStatement", "MedicationRequest", "Appointment")


@dataclass
class ImportReport:
    imported: dict[str, int] = field(default_factory=dict)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Parsed:
    index: int
    kind: str
    full_url: str | None
    record: Any


def _parse(kind: str, resource: dict[str, Any], kind_of: Callable[[str], str], today: date) -> Any:
    if kind == "Patient":
        return fr.parse_patient(resource, today)
    if kind == "Practitioner":
        return fr.parse_practitioner(resource)
    if kind in ("MedicationStatement", "MedicationRequest"):
        return fr.parse_medication(resource)
    if kind == "Appointment":
        return fr.parse_appointment(resource, kind_of)
    raise fr.Rejected(f"resourceType {kind!r} is not imported")


def _check_all(bundle: dict[str, Any], today: date, report: ImportReport) -> list[_Parsed]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidField("not a FHIR Bundle (resourceType must be 'Bundle')")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidField("Bundle.entry must be a list")
    full_urls = {
        e["fullUrl"]: e["resource"].get("resourceType", "")
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("resource"), dict) and e.get("fullUrl")
    }

    def kind_of(ref: str) -> str:
        return full_urls.get(ref) or fr.reference_kind(ref)

    parsed: list[_Parsed] = []
    seen_ids: set[tuple[str, str]] = set()
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = str(resource.get("resourceType", "")) if isinstance(resource, dict) else ""
        try:
            if not isinstance(resource, dict):
                raise fr.Rejected("entry has no resource")
            record = _parse(kind, resource, kind_of, today)
            key = (kind, str(resource.get("id")))
            if resource.get("id") and key in seen_ids:
                raise fr.Rejected(f"duplicate {kind}/{resource['id']} in the bundle")
            seen_ids.add(key)
        except fr.Rejected as exc:
            report.rejected.append((index, kind or "unknown", str(exc)))
            continue
        parsed.append(_Parsed(index, kind, entry.get("fullUrl"), record))
    return parsed


async def import_fhir_bundle(
    db: Database, bundle: dict[str, Any], *, today: date | None = None, claim: bool = True
) -> ImportReport:
    """Import the valid resources of `bundle`; see the module docstring. `claim=False` leaves
    the store's mode as it is: the EHR mirror (integrations/ehr) refreshes a store that an
    operator set up, demo clinic included, and imports nothing it did not ask the EHR for."""
    report = ImportReport()
    parsed = _check_all(bundle, today or date.today(), report)
    if claim:
        async with db.session() as s:
            await claim_mode(s, "clinic")  # never beside the demo clinic's public passwords
    async with db.session() as s, atomic(s):
        writer = _Writer(s)
        for kind in ORDER:
            for item in (p for p in parsed if p.kind == kind):
                try:
                    await writer.write(item)
                except fr.Rejected as exc:
                    report.rejected.append((item.index, item.kind, str(exc)))
                    continue
                report.imported[kind] = report.imported.get(kind, 0) + 1
    report.rejected.sort()
    return report


class _Writer:
    """Writes checked records, remembering ids so later resources can reference earlier ones."""

    def __init__(self, s: AsyncSession) -> None:
        self.s = s
        self.ids: dict[str, int] = {}

    def _remember(self, item: _Parsed, fhir_id: str | None, row_id: int) -> None:
        if fhir_id:
            self.ids[f"{item.kind}/{fhir_id}"] = row_id
        if item.full_url:
            self.ids[item.full_url] = row_id

    async def _resolve(self, ref: str, kind: str, model: type[Patient] | type[Provider]) -> int:
        if ref in self.ids:
            return self.ids[ref]
        parts = ref.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == kind:
            key = f"{kind}/{parts[-1]}"
            if key in self.ids:
                return self.ids[key]
            found = await self.s.scalar(select(model.id).where(model.fhir_id == parts[-1]))
            if found is not None:
                return found
        raise fr.Rejected(f"reference {ref!r} does not name an imported {kind}")

    async def write(self, item: _Parsed) -> None:
        rec = item.record
        if isinstance(rec, fr.PractitionerRecord):
            row_id = await self._practitioner(rec)
        elif isinstance(rec, fr.PatientRecord):
            row_id = await self._patient(rec)
        elif isinstance(rec, fr.MedicationRecord):
            row_id = await self._medication(rec)
        else:
            row_id = await self._appointment(rec)
        self._remember(item, rec.fhir_id, row_id)

    async def _existing(self, model: Any, fhir_id: str | None) -> Any:
        if not fhir_id:
            return None
        return await self.s.scalar(select(model).where(model.fhir_id == fhir_id))

    async def _practitioner(self, rec: fr.PractitionerRecord) -> int:
        row = await self._existing(Provider, rec.fhir_id) or Provider(fhir_id=rec.fhir_id)
        row.name, row.display_name = rec.name, rec.display_name
        row.specialty = row.specialty or ""
        self.s.add(row)
        await self.s.flush()
        return int(row.id)

    async def _patient(self, rec: fr.PatientRecord) -> int:
        row = await self._existing(Patient, rec.fhir_id)
        if row is None:
            row = Patient(fhir_id=rec.fhir_id, phones=[])
            self.s.add(row)
        row.first_name, row.last_name, row.dob, row.sex = (
            rec.first_name,
            rec.last_name,
            rec.dob,
            rec.sex,
        )
        known = {p.number for p in row.phones}
        row.phones.extend(PatientPhone(number=n) for n in rec.phones if n not in known)
        await self.s.flush()
        return int(row.id)

    async def _medication(self, rec: fr.MedicationRecord) -> int:
        patient_id = await self._resolve(rec.subject, "Patient", Patient)
        row = await self._existing(Medication, rec.fhir_id) or Medication(fhir_id=rec.fhir_id)
        row.patient_id, row.name, row.strength = patient_id, rec.name, rec.strength
        row.refills_left, row.active, row.controlled = rec.refills_left, rec.active, rec.controlled
        self.s.add(row)
        await self.s.flush()
        return int(row.id)

    async def _appointment(self, rec: fr.AppointmentRecord) -> int:
        patient_id = await self._resolve(rec.patient, "Patient", Patient)
        provider_id = await self._resolve(rec.practitioner, "Practitioner", Provider)
        row = await self._existing(Appointment, rec.fhir_id)
        if row is not None:
            row.status = rec.status
            await self.s.flush()
            return int(row.id)
        slot = None
        if rec.status == "booked":
            # Take the matching slot off the market so the phone line cannot double-book it.
            slot = await self.s.scalar(
                select(Slot).where(
                    Slot.provider_id == provider_id, Slot.start == rec.start, Slot.status == "free"
                )
            )
            if slot is not None:
                slot.status = "booked"
        row = Appointment(
            fhir_id=rec.fhir_id,
            patient_id=patient_id,
            provider_id=provider_id,
            location_id=slot.location_id if slot else None,
            slot_id=slot.id if slot else None,
            start=rec.start,
            end=rec.end,
            status=rec.status,
            visit_type="follow_up",
        )
        self.s.add(row)
        await self.s.flush()
        return int(row.id)
