"""Read from the EHR what a call is about to need, and mirror it into the local store.

The local store stays what every other part of clinicline reads (call records, audit, the
console, the dialogs' services); this module keeps the part of it that the EHR owns —
patients, practitioners, medications, appointments and slots — in step with the EHR, at the
moment a call needs it. Patients, practitioners, medications and appointments go through the
same checked import as a FHIR bundle (`integrations/seed/fhir.py`); slots are mirrored here
with the version a booking must match.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select, update

from integrations.ehr import resources as fhir
from integrations.ehr.fhir_client import FhirEhr
from integrations.errors import InvalidField
from integrations.seed.fhir import import_fhir_bundle
from integrations.seed.fhir_records import Rejected
from integrations.services.transaction import atomic
from integrations.store.database import Database
from integrations.store.models import Appointment, Location, Medication, Patient, Provider, Slot

log = logging.getLogger(__name__)


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


class EhrMirror:
    def __init__(self, db: Database, ehr: FhirEhr) -> None:
        self.db, self.ehr = db, ehr
        # Schedule -> (provider, location) in this store: three EHR reads each, on every slot
        # search of every call otherwise. A read cache only (a schedule's practitioner and
        # place do not change under it); nothing is decided from it that the EHR is not asked.
        self._places: dict[str, tuple[int, int]] = {}

    async def _import(self, resources: list[dict[str, Any]]) -> None:
        if not resources:
            return
        report = await import_fhir_bundle(self.db, _bundle(resources), claim=False)
        if report.rejected:
            # Kinds and reasons only: the rejected resources themselves are patient records.
            log.warning(
                "EHR records not mirrored",
                extra={"rejected": [(kind, why) for _, kind, why in report.rejected][:10]},
            )

    async def fhir_id_of(self, model: type[Patient] | type[Provider], row_id: int) -> str | None:
        async with self.db.session() as s:
            return await s.scalar(select(model.fhir_id).where(model.id == row_id))

    async def patients_born_on(self, when: str) -> None:
        """Every patient the EHR has born on `when` (YYYY-MM-DD), as the EHR has them now."""
        await self._import(await self.ehr.search("Patient", birthdate=when))

    async def medications_of(self, patient_id: int) -> None:
        """The patient's medication requests; one the EHR no longer lists as active is not
        offered for a refill."""
        fhir_id = await self.fhir_id_of(Patient, patient_id)
        if fhir_id is None:
            return
        found = await self.ehr.search("MedicationRequest", patient=f"Patient/{fhir_id}")
        await self._import(found)
        listed = {str(r.get("id")) for r in found}
        async with self.db.session() as s, atomic(s):
            await s.execute(
                update(Medication)
                .where(
                    Medication.patient_id == patient_id,
                    Medication.fhir_id.is_not(None),
                    Medication.fhir_id.not_in(listed),
                )
                .values(active=False)
            )

    async def appointments_of(self, patient_id: int, since: datetime) -> None:
        fhir_id = await self.fhir_id_of(Patient, patient_id)
        if fhir_id is None:
            return
        found = await self.ehr.search(
            "Appointment", patient=f"Patient/{fhir_id}", date=f"ge{fhir.instant(since)}"
        )
        await self._import(found)

    async def campaign_targets(self, query: str) -> list[tuple[int, int | None]]:
        """Whom a FHIR search names, mirrored here first: the patients of `Patient?…`, or the
        booked appointments (and their patients and practitioners) of `Appointment?…`; as
        (patient id, appointment id or None) in this store, for a campaign."""
        kind, _, query_string = query.strip().partition("?")
        if kind not in ("Appointment", "Patient") or not query_string:
            raise InvalidField("a campaign's FHIR search is Appointment?… or Patient?…")
        try:
            params = {
                name: values if len(values) > 1 else values[0]
                for name, values in parse_qs(query_string, strict_parsing=True).items()
            }
        except ValueError as exc:
            raise InvalidField(f"not a FHIR search query: {exc}") from exc
        found = await self.ehr.search(kind, **params)
        if kind == "Patient":
            await self._import(found)
            ids = await self._local(Patient, [str(r.get("id")) for r in found])
            return [(patient_id, None) for patient_id in ids]
        refs = {
            str((p.get("actor") or {}).get("reference") or "")
            for r in found
            for p in r.get("participant") or []
        }
        related = [
            await self.ehr.read(*ref.split("/", 1))
            for ref in sorted(refs)
            if ref.startswith(("Patient/", "Practitioner/"))
        ]
        await self._import([*related, *found])
        listed = [str(r.get("id")) for r in found]
        async with self.db.session() as s:
            rows = await s.execute(
                select(Appointment.patient_id, Appointment.id).where(
                    Appointment.fhir_id.in_(listed), Appointment.status == "booked"
                )
            )
            return [(patient_id, appointment_id) for patient_id, appointment_id in rows]

    async def _local(self, model: type[Patient], fhir_ids: list[str]) -> list[int]:
        async with self.db.session() as s:
            return list(await s.scalars(select(model.id).where(model.fhir_id.in_(fhir_ids))))

    async def slots_between(self, lower: datetime, upper: datetime) -> None:
        """Every slot starting in [lower, upper), free or not, with its current version."""
        found = await self.ehr.search(
            "Slot", start=[f"ge{fhir.instant(lower)}", f"lt{fhir.instant(upper)}"]
        )
        await self._slots(found)

    async def slot(self, fhir_id: str) -> None:
        await self._slots([await self.ehr.read("Slot", fhir_id)])

    async def _slots(self, found: list[dict[str, Any]]) -> None:
        records = []
        for resource in found:
            try:
                records.append(fhir.parse_slot(resource))
            except Rejected as exc:
                log.warning("EHR slot not mirrored", extra={"reason": str(exc)})
        places: dict[str, tuple[int, int] | None] = {}
        for schedule_ref in sorted({r.schedule for r in records}):
            place = self._places.get(schedule_ref) or await self._place(schedule_ref)
            if place is not None:
                self._places[schedule_ref] = place
            places[schedule_ref] = place
        async with self.db.session() as s, atomic(s):
            for rec in records:
                place = places.get(rec.schedule)
                if place is not None:
                    await self._upsert_slot(s, rec, *place)

    async def _place(self, schedule_ref: str) -> tuple[int, int] | None:
        """(provider id, location id) in the local store for a Schedule, mirroring both."""
        schedule = await self.ehr.read("Schedule", schedule_ref.split("/")[-1])
        practitioner_id, location_id = fhir.actors(schedule)
        if practitioner_id is None:
            log.warning("EHR schedule names no practitioner; its slots are not offered")
            return None
        async with self.db.session() as s:
            provider = await s.scalar(
                select(Provider.id).where(Provider.fhir_id == practitioner_id)
            )
        if provider is None:
            await self._import([await self.ehr.read("Practitioner", practitioner_id)])
        name = "Main clinic"
        if location_id is not None:
            name = str((await self.ehr.read("Location", location_id)).get("name") or name)
        async with self.db.session() as s, atomic(s):
            provider = await s.scalar(
                select(Provider.id).where(Provider.fhir_id == practitioner_id)
            )
            place = await s.scalar(select(Location).where(Location.name == name))
            if place is None:
                place = Location(name=name)
                s.add(place)
                await s.flush()
            return (provider, place.id) if provider is not None else None

    @staticmethod
    async def _upsert_slot(
        s: Any, rec: fhir.SlotRecord, provider_id: int, location_id: int
    ) -> None:
        row = await s.scalar(select(Slot).where(Slot.fhir_id == rec.fhir_id))
        if row is None:
            # A slot the store already had (the same clinic seeded both) is adopted, not doubled.
            row = await s.scalar(
                select(Slot).where(Slot.provider_id == provider_id, Slot.start == rec.start)
            )
        if row is None:
            row = Slot(provider_id=provider_id, start=rec.start)
            s.add(row)
        row.fhir_id, row.fhir_version = rec.fhir_id, rec.version
        row.location_id, row.end, row.visit_type_code = location_id, rec.end, rec.visit_type
        if rec.unavailable and not await _held_here(s, row):
            row.status = "blocked"
        elif not rec.free:
            row.status = "booked"
        elif row.status != "free" and not await _held_here(s, row):
            # Freed in the EHR (cancelled there, or the slot reopened): offered again.
            row.status = "free"
        await s.flush()


async def _held_here(s: Any, slot: Slot) -> bool:
    """A live local appointment holds the slot: it stays booked until its cancellation is
    mirrored too (a freshly written booking whose EHR write is still under way)."""
    if slot.id is None:
        return False
    live = await s.scalar(
        select(Appointment.id).where(Appointment.slot_id == slot.id, Appointment.status == "booked")
    )
    return live is not None
