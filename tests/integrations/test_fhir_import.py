"""FHIR R4 bundles: valid resources load, bad ones are reported and leave nothing behind."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from integrations.errors import InvalidField
from integrations.seed.fhir import import_fhir_bundle
from integrations.services import refills
from integrations.store import Database
from integrations.store.models import Appointment, Medication, Patient, Provider

TODAY = date(2031, 3, 3)


def _entry(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": resource} if full_url else {"resource": resource}


def _patient(pid: str, given: str, family: str, dob: str, phone: str = "555-010-7777") -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": family, "given": [given]}],
        "birthDate": dob,
        "telecom": [
            {"system": "phone", "value": phone},
            {"system": "email", "value": "x@example.org"},
        ],
    }


def _bundle(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": list(entries)}


GOOD = _bundle(
    _entry(
        {
            "resourceType": "Practitioner",
            "id": "dr1",
            "name": [{"family": "Castillo", "given": ["Elena"]}],
        }
    ),
    _entry(_patient("p1", "Tobias", "Lindgren", "1966-02-11")),
    _entry(
        {
            "resourceType": "Patient",
            "name": [{"family": "Owusu", "given": ["Abena"]}],
            "birthDate": "1984-12-01",
        },
        full_url="urn:uuid:abena",
    ),
    _entry(
        {
            "resourceType": "MedicationRequest",
            "id": "m1",
            "status": "active",
            "subject": {"reference": "Patient/p1"},
            "medicationCodeableConcept": {"text": "Losartan 50 MG Oral Tablet"},
            "dispenseRequest": {"numberOfRepeatsAllowed": 3},
        }
    ),
    _entry(
        {
            "resourceType": "MedicationStatement",
            "id": "m2",
            "status": "active",
            "subject": {"reference": "urn:uuid:abena"},
            "medicationCodeableConcept": {"text": "oxycodone 5 mg tablet"},
        }
    ),
    _entry(
        {
            "resourceType": "Appointment",
            "id": "a1",
            "status": "booked",
            "start": "2031-03-10T09:00:00",
            "end": "2031-03-10T09:30:00",
            "participant": [
                {"actor": {"reference": "Patient/p1"}},
                {"actor": {"reference": "Practitioner/dr1"}},
            ],
        }
    ),
)


async def _count(db: Database, model: Any) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_clean_bundle_imports_every_resource(db: Database) -> None:
    report = await import_fhir_bundle(db, GOOD, today=TODAY)
    assert report.rejected == []
    assert report.imported == {
        "Practitioner": 1,
        "Patient": 2,
        "MedicationRequest": 1,
        "MedicationStatement": 1,
        "Appointment": 1,
    }
    async with db.session() as s:
        p1 = await s.scalar(select(Patient).where(Patient.fhir_id == "p1"))
        assert p1 is not None and [ph.number for ph in p1.phones] == ["+15550107777"]
        meds = await refills.active_medications(s, p1.id)
        assert [(m.name, m.strength, m.refills_left) for m in meds] == [("losartan", "50 mg", 3)]
        oxy = await s.scalar(select(Medication).where(Medication.fhir_id == "m2"))
        assert oxy is not None and oxy.controlled
        dr = await s.scalar(select(Provider).where(Provider.fhir_id == "dr1"))
        assert dr is not None and dr.display_name == "Dr. Castillo"


async def test_bad_records_are_reported_by_index_and_not_loaded(db: Database) -> None:
    bundle = _bundle(
        _entry(_patient("ok", "Greta", "Halvorsen", "1950-05-05")),
        _entry(_patient("future", "Baby", "Nobody", "2099-01-01")),
        _entry({"resourceType": "Patient", "id": "noname", "birthDate": "1970-01-01"}),
        _entry(_patient("partial", "Ivo", "Petrov", "1970-04")),
        _entry(_patient("badphone", "Lena", "Roth", "1980-01-01", phone="call me maybe")),
        _entry(
            {
                "resourceType": "MedicationRequest",
                "id": "orphan",
                "status": "active",
                "subject": {"reference": "Patient/missing"},
                "medicationCodeableConcept": {"text": "metformin 500 mg"},
            }
        ),
        _entry(
            {
                "resourceType": "MedicationRequest",
                "id": "nodrug",
                "status": "active",
                "subject": {"reference": "Patient/ok"},
                "medicationCodeableConcept": {},
            }
        ),
        _entry(
            {
                "resourceType": "Appointment",
                "id": "backwards",
                "status": "booked",
                "start": "2031-03-10T10:00:00",
                "end": "2031-03-10T09:00:00",
                "participant": [{"actor": {"reference": "Patient/ok"}}],
            }
        ),
        _entry({"resourceType": "Observation", "id": "bp"}),
        {"fullUrl": "urn:uuid:empty"},
    )
    report = await import_fhir_bundle(db, bundle, today=TODAY)
    assert report.imported == {"Patient": 1}
    rejected = {index: (kind, reason) for index, kind, reason in report.rejected}
    assert sorted(rejected) == list(range(1, 10))
    assert "future" in rejected[1][1]
    assert "name" in rejected[2][1]
    assert "full date" in rejected[3][1]
    assert "phone" in rejected[4][1]
    assert "Patient/missing" in rejected[5][1]
    assert rejected[8][0] == "Observation"
    assert await _count(db, Patient) == 1
    assert await _count(db, Medication) == 0
    assert await _count(db, Appointment) == 0


async def test_reimporting_a_bundle_updates_instead_of_duplicating(db: Database) -> None:
    await import_fhir_bundle(db, GOOD, today=TODAY)
    report = await import_fhir_bundle(db, GOOD, today=TODAY)
    assert report.rejected == []
    # The fullUrl-only patient has no FHIR id to match on, so it is the one duplicate.
    assert await _count(db, Patient) == 3
    assert await _count(db, Medication) == 2
    assert await _count(db, Appointment) == 1


async def test_something_that_is_not_a_bundle_is_refused() -> None:
    with pytest.raises(InvalidField, match="Bundle"):
        await import_fhir_bundle(None, {"resourceType": "Patient"})  # type: ignore[arg-type]
