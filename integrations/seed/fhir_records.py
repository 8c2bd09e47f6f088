"""FHIR R4 resources checked and turned into plain records before anything touches the store.

Each `parse_*` function either returns a record or raises `Rejected` with a reason a person
can act on; nothing here reads or writes the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from integrations.phone_numbers import normalise_phone

# US schedule II-V substances a phone line must not renew without review (not exhaustive:
# the clinic's formulary should mark the rest).
CONTROLLED_SUBSTANCES = (
    "oxycodone",
    "hydrocodone",
    "morphine",
    "fentanyl",
    "hydromorphone",
    "methadone",
    "tramadol",
    "codeine",
    "buprenorphine",
    "alprazolam",
    "lorazepam",
    "clonazepam",
    "diazepam",
    "temazepam",
    "zolpidem",
    "methylphenidate",
    "amphetamine",
    "lisdexamfetamine",
    "dextroamphetamine",
    "pregabalin",
    "testosterone",
    "phenobarbital",
)
_STRENGTH = re.compile(
    r"\b(\d+(?:\.\d+)?(?:\s*[-/]\s*\d+(?:\.\d+)?)?\s*(?:mg|mcg|µg|g|ml|mL|units?|iu|%)"
    r"(?:\s*/\s*(?:\d+(?:\.\d+)?\s*)?(?:ml|mL|actuation|dose|hr|h))?)",
    re.IGNORECASE,
)
_FORMS = re.compile(r"\b(oral\s+)?(tablets?|capsules?|tabs?|caps?)\b.*$", re.IGNORECASE)
_ACTIVE_MED_STATUS = {"active", "on-hold", "draft", "intended", "not-taken"}
_APPT_STATUS = {
    "proposed": "booked",
    "pending": "booked",
    "booked": "booked",
    "arrived": "booked",
    "checked-in": "booked",
    "waitlist": "booked",
    "fulfilled": "fulfilled",
    "cancelled": "cancelled",
    "noshow": "cancelled",
}


class Rejected(Exception):
    """This resource cannot be imported; the message says why."""


@dataclass(frozen=True)
class PatientRecord:
    fhir_id: str | None
    first_name: str
    last_name: str
    dob: date
    phones: tuple[str, ...]
    sex: str | None


@dataclass(frozen=True)
class PractitionerRecord:
    fhir_id: str | None
    name: str
    display_name: str


@dataclass(frozen=True)
class MedicationRecord:
    fhir_id: str | None
    subject: str
    name: str
    strength: str
    refills_left: int
    active: bool
    controlled: bool


@dataclass(frozen=True)
class AppointmentRecord:
    fhir_id: str | None
    start: datetime
    end: datetime
    status: str
    patient: str
    practitioner: str


def _name_parts(resource: dict[str, Any]) -> tuple[str, str]:
    names = resource.get("name")
    if not isinstance(names, list) or not names:
        raise Rejected("name is missing")
    official = next((n for n in names if n.get("use") == "official"), names[0])
    family = str(official.get("family") or "").strip()
    given = [str(g).strip() for g in official.get("given") or [] if str(g).strip()]
    if not family or not given:
        raise Rejected("name needs both a family name and a given name")
    return given[0], family


def _ref(value: Any, field: str) -> str:
    ref = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(ref, str) or not ref:
        raise Rejected(f"{field} has no reference")
    return ref


def wall_clock(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise Rejected(f"{field} is missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Rejected(f"{field} {value!r} is not an ISO 8601 date-time") from exc
    # Appointment times are kept as the clinic's wall-clock time: this host's local zone.
    return parsed.astimezone().replace(tzinfo=None) if parsed.tzinfo else parsed


def parse_patient(resource: dict[str, Any], today: date) -> PatientRecord:
    first, last = _name_parts(resource)
    raw = resource.get("birthDate")
    if not isinstance(raw, str) or len(raw) != 10:
        raise Rejected("birthDate must be a full date (YYYY-MM-DD): it verifies callers")
    try:
        dob = date.fromisoformat(raw)
    except ValueError as exc:
        raise Rejected(f"birthDate {raw!r} is not a valid date") from exc
    if dob > today:
        raise Rejected(f"birthDate {raw} is in the future")
    phones: list[str] = []
    for telecom in resource.get("telecom") or []:
        if telecom.get("system") != "phone":
            continue
        number = normalise_phone(str(telecom.get("value", "")))
        if number is None:
            raise Rejected(f"telecom value {telecom.get('value')!r} is not a phone number")
        if number not in phones:
            phones.append(number)
    gender = resource.get("gender")
    return PatientRecord(
        resource.get("id"),
        first,
        last,
        dob,
        tuple(phones),
        gender if isinstance(gender, str) else None,
    )


def parse_practitioner(resource: dict[str, Any]) -> PractitionerRecord:
    first, last = _name_parts(resource)
    return PractitionerRecord(resource.get("id"), f"{first} {last}", f"Dr. {last}")


def split_strength(text: str) -> tuple[str, str]:
    """'Lisinopril 10 MG Oral Tablet' -> ('lisinopril', '10 mg')."""
    match = _STRENGTH.search(text)
    strength = re.sub(r"\s+", " ", match.group(1)).lower() if match else ""
    name = text[: match.start()] if match else _FORMS.sub("", text)
    return re.sub(r"\s+", " ", name).strip(" ,-").lower(), strength


def parse_medication(resource: dict[str, Any]) -> MedicationRecord:
    concept = resource.get("medicationCodeableConcept") or {}
    text = concept.get("text") or next(
        (c.get("display") for c in concept.get("coding") or [] if c.get("display")), None
    )
    if not isinstance(text, str) or not text.strip():
        raise Rejected("medicationCodeableConcept.text is missing")
    status = resource.get("status")
    if status == "entered-in-error":
        raise Rejected("status is entered-in-error")
    name, strength = split_strength(text)
    if not name:
        raise Rejected(f"no medication name in {text!r}")
    repeats = (resource.get("dispenseRequest") or {}).get("numberOfRepeatsAllowed", 0)
    if not isinstance(repeats, int) or repeats < 0:
        raise Rejected("dispenseRequest.numberOfRepeatsAllowed must be a whole number >= 0")
    return MedicationRecord(
        fhir_id=resource.get("id"),
        subject=_ref(resource.get("subject"), "subject"),
        name=name,
        strength=strength,
        refills_left=repeats,
        active=status in _ACTIVE_MED_STATUS,
        controlled=any(c in name for c in CONTROLLED_SUBSTANCES),
    )


def parse_appointment(
    resource: dict[str, Any], kind_of: Callable[[str], str] | None = None
) -> AppointmentRecord:
    """`kind_of` tells a reference's resource type (bundle-local `urn:uuid:` references)."""
    kind_of = kind_of or reference_kind
    status = _APPT_STATUS.get(str(resource.get("status")))
    if status is None:
        raise Rejected(f"status {resource.get('status')!r} cannot be imported")
    start = wall_clock(resource.get("start"), "start")
    end = wall_clock(resource.get("end"), "end")
    if end <= start:
        raise Rejected("end is not after start")
    refs = [_ref(p.get("actor"), "participant.actor") for p in resource.get("participant") or []]
    patients = [r for r in refs if kind_of(r) == "Patient"]
    practitioners = [r for r in refs if kind_of(r) == "Practitioner"]
    if len(patients) != 1 or len(practitioners) != 1:
        raise Rejected("participant must name exactly one Patient and one Practitioner")
    return AppointmentRecord(resource.get("id"), start, end, status, patients[0], practitioners[0])


def reference_kind(reference: str) -> str:
    """The resource type of a reference ('Patient/1', 'http://x/fhir/Patient/1')."""
    parts = reference.rstrip("/").split("/")
    return parts[-2] if len(parts) >= 2 else ""
