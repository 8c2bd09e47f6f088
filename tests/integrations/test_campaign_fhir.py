"""A campaign from a FHIR search of the EHR (sekmet-fhir, started here): the appointments it
names, with their patients and practitioners, are mirrored into the store and become the
campaign's targets; a bad query is refused with the reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from integrations.ehr.fhir_client import EhrSettings, FhirEhr
from integrations.ehr.mirror import EhrMirror
from integrations.errors import InvalidField
from integrations.services import campaigns
from integrations.store import Database
from integrations.store.models import Appointment, Patient, VisitType
from tests.integrations.conftest import fresh_database
from tests.integrations.fhir_server import FhirServer, add_clinic, at

DAY = date(2031, 5, 6)


@pytest.fixture
async def store(tmp_path: Path, data_key: bytes) -> AsyncIterator[Database]:
    async with fresh_database("sqlite", tmp_path, data_key) as db:
        async with db.session() as s:
            s.add(VisitType(code="follow_up", label="Follow-up", minutes=30))
            await s.commit()
        yield db


def _book_in_ehr(server: FhirServer, ids: dict[str, str], hour: int, status: str) -> str:
    start = at(DAY, hour)
    status_code, answer = server.call(
        "POST",
        "Appointment",
        {
            "resourceType": "Appointment",
            "status": status,
            "start": start.astimezone().isoformat(),
            "end": (start + timedelta(minutes=30)).astimezone().isoformat(),
            "participant": [
                {"actor": {"reference": f"Patient/{ids['patient']}"}, "status": "accepted"},
                {"actor": {"reference": f"Practitioner/{ids['doctor']}"}, "status": "accepted"},
            ],
        },
    )
    assert status_code in (200, 201), answer
    return str(answer["id"])


async def test_a_campaign_from_the_appointments_a_fhir_search_names(
    fhir_server: FhirServer, store: Database
) -> None:
    family = f"Camp{uuid.uuid4().hex[:6]}"
    ids = add_clinic(fhir_server, DAY, family)
    booked = _book_in_ehr(fhir_server, ids, 10, "booked")
    _book_in_ehr(fhir_server, ids, 11, "cancelled")
    settings = EhrSettings.from_url(fhir_server.ehr_url, fhir_server.token, timeout_s=10)
    mirror = EhrMirror(store, FhirEhr(settings))
    query = (
        f"Appointment?patient=Patient/{ids['patient']}&date=ge{DAY.isoformat()}"
        f"&date=lt{(DAY + timedelta(days=1)).isoformat()}"
    )
    targets = await mirror.campaign_targets(query)
    async with store.session() as s:
        (patient_id, appointment_id), *rest = targets
        assert rest == []  # the cancelled visit is nobody to remind
        patient = await s.get(Patient, patient_id)
        appointment = await s.get(Appointment, appointment_id)
        assert patient is not None and patient.last_name == family
        assert appointment is not None and appointment.fhir_id == booked
        assert appointment.start.time() == time(10, 0)
        campaign_id = await campaigns.create_campaign(
            s, name="from the EHR", kind="reminder", targets=targets,
            settings=campaigns.CampaignSettings(), created_by="test",
        )  # fmt: skip
        assert (await campaigns.campaign_status(s, campaign_id)).targets == 1
    patients = await mirror.campaign_targets(f"Patient?family={family}")
    assert patients == [(patient_id, None)]


@pytest.mark.parametrize(
    "query", ["Observation?code=1234", "Appointment", "Patient?family", "DROP TABLE patients"]
)
async def test_a_search_that_names_no_patients_is_refused(
    fhir_server: FhirServer, store: Database, query: str
) -> None:
    settings = EhrSettings.from_url(fhir_server.ehr_url, fhir_server.token, timeout_s=10)
    with pytest.raises(InvalidField):
        await EhrMirror(store, FhirEhr(settings)).campaign_targets(query)
