"""The CTI payload: valid against its published JSON Schema, and a short spoken summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from routing.cti import (
    CtiPayload,
    PatientContext,
    TranscriptLine,
    TriageContext,
    load_schema,
    summary_sentence,
)
from routing.schema_check import schema_errors

STARTED = datetime(2031, 3, 3, 10, 0)


def payload(**changes: object) -> CtiPayload:
    base = CtiPayload(
        call_id="call-1",
        caller_number="+15550100009",
        patient=PatientContext(7, "Grace Okafor", date(1961, 5, 2), True, ("name", "dob")),
        intent="report_symptom",
        reason="red flag during call",
        triage=TriageContext("emergent", ("chest_pain",), ("pressure in my chest",)),
        queue="nurse",
        summary="",
        transcript=(TranscriptLine("caller", "my chest feels tight", STARTED),),
        slots={"dob": date(1961, 5, 2), "medications": ("a", "b")},
        call_started=STARTED,
        transfer_requested=STARTED,
        emergent=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_full_payload_validates_against_the_schema() -> None:
    doc = payload().to_json()
    assert doc["schema_version"] == "1.1"
    assert schema_errors(doc, load_schema()) == []


def test_anonymous_caller_payload_validates() -> None:
    doc = payload(patient=None, intent=None, triage=TriageContext(), emergent=False).to_json()
    assert schema_errors(doc, load_schema()) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("triage", "level"), "critical"),
        (("schema_version",), "2.0"),
        (("patient", "verified"), "yes"),
        (("patient", "dob"), "May 2nd"),
        (("queue",), ""),
    ],
)
def test_schema_rejects_malformed_fields(path: tuple[str, ...], value: object) -> None:
    doc = payload().to_json()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert schema_errors(doc, load_schema()) != []


def test_schema_rejects_unknown_top_level_fields_and_missing_ones() -> None:
    doc = payload().to_json()
    doc["ssn"] = "000"
    del doc["call_id"]
    errors = schema_errors(doc, load_schema())
    assert any("ssn" in e for e in errors) and any("call_id" in e for e in errors)


def test_summary_names_verified_patient_flag_and_level() -> None:
    assert summary_sentence(payload()) == "Verified patient Grace Okafor, chest pain, emergent."


def test_summary_of_unverified_caller_says_so() -> None:
    unverified = PatientContext(None, "Grace Okafor", None, False)
    text = summary_sentence(payload(patient=unverified))
    assert text.startswith("Unverified caller, says Grace Okafor")


def test_summary_without_flags_gives_the_reason() -> None:
    text = summary_sentence(
        payload(patient=None, triage=TriageContext(), reason="billing_question", emergent=False)
    )
    assert text == "Unverified caller, billing question."
