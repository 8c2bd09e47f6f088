"""FHIR R4 resources clinicline writes to the EHR, and the Slot it reads back.

Times: the local store keeps the clinic's wall-clock time (naive datetimes, this host's zone,
as `integrations/seed/fhir_records.py` reads them); FHIR instants carry their offset.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from integrations.seed.fhir_records import Rejected, reference_kind, wall_clock

# Our business identifiers on resources we create, so a retry finds the first write.
REFILL_SYSTEM = "urn:clinicline:refill-request"
STAFF_TASK_SYSTEM = "urn:clinicline:staff-task"
BOOKING_SYSTEM = "urn:clinicline:booking"


def post(resource: dict[str, Any], if_none_exist: str | None = None) -> dict[str, Any]:
    """A transaction entry creating `resource` (or finding the one `if_none_exist` names)."""
    request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    return {"resource": resource, "request": request}


def put(resource: dict[str, Any], *, if_unchanged: bool = False) -> dict[str, Any]:
    """A transaction entry updating a resource as read, minus the server's bookkeeping (meta);
    `if_unchanged`: only if it is still the version read (If-Match, else 412)."""
    body = {k: v for k, v in resource.items() if k != "meta"}
    url = f"{resource['resourceType']}/{resource['id']}"
    request: dict[str, Any] = {"method": "PUT", "url": url}
    version = (resource.get("meta") or {}).get("versionId")
    if if_unchanged and version:
        request["ifMatch"] = f'W/"{version}"'
    return {"resource": body, "request": request}


def instant(when: datetime) -> str:
    """A wall-clock datetime as a FHIR instant with this host's offset."""
    return when.astimezone().isoformat(timespec="seconds")


def reference(kind: str, fhir_id: str) -> dict[str, str]:
    return {"reference": f"{kind}/{fhir_id}"}


def patient(
    *, first: str, last: str, dob: date, phones: tuple[str, ...], sex: str | None
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": last, "given": [first]}],
        "birthDate": dob.isoformat(),
        "telecom": [{"system": "phone", "value": n, "use": "mobile"} for n in phones],
    }
    if sex in ("male", "female", "other", "unknown"):
        resource["gender"] = sex
    return resource


def practitioner(name: str) -> dict[str, Any]:
    *given, family = name.split()
    return {
        "resourceType": "Practitioner",
        "name": [{"use": "official", "family": family, "given": given or [family]}],
    }


def location(name: str) -> dict[str, Any]:
    return {"resourceType": "Location", "name": name, "status": "active"}


def schedule(practitioner_ref: str, location_ref: str) -> dict[str, Any]:
    return {
        "resourceType": "Schedule",
        "active": True,
        "actor": [{"reference": practitioner_ref}, {"reference": location_ref}],
    }


def slot(
    schedule_ref: str, start: datetime, end: datetime, status: str, visit_type: str | None
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Slot",
        "schedule": {"reference": schedule_ref},
        "status": status,
        "start": instant(start),
        "end": instant(end),
    }
    if visit_type:
        resource["appointmentType"] = {"text": visit_type}
    return resource


def medication_request(
    patient_ref: str, label: str, refills_left: int, active: bool
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "status": "active" if active else "stopped",
        "intent": "order",
        "subject": {"reference": patient_ref},
        "medicationCodeableConcept": {"text": label},
        "dispenseRequest": {"numberOfRepeatsAllowed": refills_left},
    }


def appointment(
    *,
    slot_id: str,
    patient_id: str,
    practitioner_id: str,
    start: datetime,
    end: datetime,
    visit_type: str,
    booking_key: str,
) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "identifier": [{"system": BOOKING_SYSTEM, "value": booking_key}],
        "status": "booked",
        "appointmentType": {"text": visit_type},
        "start": instant(start),
        "end": instant(end),
        "slot": [reference("Slot", slot_id)],
        "participant": [
            {"actor": reference("Patient", patient_id), "status": "accepted"},
            {"actor": reference("Practitioner", practitioner_id), "status": "accepted"},
        ],
    }


def refill_key(request_id: int, patient_id: str, medication_request_id: str | None) -> str:
    """The Task's identifier value: our request id alone would repeat across stores (another
    site, a rebuilt store) writing to the same EHR; with the EHR's own ids it does not."""
    return f"{patient_id}/{medication_request_id or '-'}/{request_id}"


def refill_task(
    *, key: str, patient_id: str, medication_request_id: str | None, authored: datetime
) -> dict[str, Any]:
    """A refill request for the prescriber: the EHR's own work item, found again by `key`."""
    task: dict[str, Any] = {
        "resourceType": "Task",
        "identifier": [{"system": REFILL_SYSTEM, "value": key}],
        "status": "requested",
        "intent": "order",
        "code": {"text": "Medication refill request (by phone)"},
        "for": reference("Patient", patient_id),
        "authoredOn": instant(authored),
    }
    if medication_request_id:
        task["focus"] = reference("MedicationRequest", medication_request_id)
    return task


# A staff task's state as the EHR's Task states it.
TASK_STATUS = {"open": "requested", "claimed": "accepted", "done": "completed"}


def staff_task_entries(
    *, key: str, what: str, note: str, patient_id: str, authored: datetime, urgent: bool,
    status: str = "open",
) -> list[dict[str, Any]]:
    """A staff task for the EHR as two transaction entries: what the caller asked, as a
    Communication from the patient (the message), and the work for the clinic's staff, as a
    Task whose focus is that message (call her back, update her insurance...). Both carry
    `key`, so a retry finds the first write instead of writing twice."""
    message_url = f"urn:uuid:{uuid.uuid4()}"
    identifier = [{"system": STAFF_TASK_SYSTEM, "value": key}]
    message = {
        "resourceType": "Communication",
        "identifier": identifier,
        "status": "completed",
        "subject": reference("Patient", patient_id),
        "sender": reference("Patient", patient_id),
        "medium": [{"text": "telephone (clinicline)"}],
        "sent": instant(authored),
        "payload": [{"contentString": note}],
    }
    task = {
        "resourceType": "Task",
        "identifier": identifier,
        "status": TASK_STATUS.get(status, "requested"),
        "intent": "order",
        "priority": "urgent" if urgent else "routine",
        "code": {"text": what},
        "description": note,
        "for": reference("Patient", patient_id),
        "focus": {"reference": message_url},
        "authoredOn": instant(authored),
    }
    search = f"identifier={STAFF_TASK_SYSTEM}|{key}"
    return [
        {**post(message, search), "fullUrl": message_url},
        post(task, search),
    ]


@dataclass(frozen=True)
class SlotRecord:
    fhir_id: str
    version: str | None
    schedule: str  # Schedule/<id>
    start: datetime  # wall clock
    end: datetime
    free: bool
    visit_type: str | None
    unavailable: bool = False  # busy-unavailable: blocked (its provider is out), not booked


def parse_slot(resource: dict[str, Any]) -> SlotRecord:
    fhir_id = resource.get("id")
    if not isinstance(fhir_id, str) or not fhir_id:
        raise Rejected("Slot has no id")
    ref = (resource.get("schedule") or {}).get("reference")
    if not isinstance(ref, str) or reference_kind(ref) != "Schedule":
        raise Rejected("Slot.schedule does not name a Schedule")
    start, end = wall_clock(resource.get("start"), "start"), wall_clock(resource.get("end"), "end")
    if end <= start:
        raise Rejected("Slot end is not after start")
    kind = (resource.get("appointmentType") or {}).get("text")
    version = (resource.get("meta") or {}).get("versionId")
    return SlotRecord(
        fhir_id,
        str(version) if version is not None else None,
        f"Schedule/{ref.rstrip('/').split('/')[-1]}",
        start,
        end,
        resource.get("status") == "free",
        kind if isinstance(kind, str) else None,
        resource.get("status") == "busy-unavailable",
    )


def actors(schedule_resource: dict[str, Any]) -> tuple[str | None, str | None]:
    """(Practitioner id, Location id) a Schedule is for."""
    practitioner_id = location_id = None
    for actor in schedule_resource.get("actor") or []:
        ref = str((actor or {}).get("reference") or "")
        kind, last = reference_kind(ref), ref.rstrip("/").split("/")[-1]
        if kind == "Practitioner":
            practitioner_id = last
        elif kind == "Location":
            location_id = last
    return practitioner_id, location_id
