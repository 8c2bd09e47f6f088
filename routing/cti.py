"""The versioned CTI screen-pop payload an agent sees when a call is handed over to them.

`CtiPayload.to_json()` is the wire form (validated by `cti_schema.json`, schema_version 1.1:
1.0 plus `triage.flagged_at`);
`summary_sentence()` is the short line whispered to the agent before the caller is bridged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1.1"
SCHEMA_FILE = Path(__file__).with_name("cti_schema.json")
LEVELS = ("none", "urgent", "emergent")


def load_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


@dataclass(frozen=True)
class PatientContext:
    patient_id: int | None
    name: str | None
    dob: date | None
    verified: bool
    identifiers_used: tuple[str, ...] = ()  # e.g. ("name", "dob", "caller_number")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.patient_id,
            "name": self.name,
            "dob": None if self.dob is None else self.dob.isoformat(),
            "verified": self.verified,
            "identifiers_used": list(self.identifiers_used),
        }


@dataclass(frozen=True)
class TriageContext:
    level: str = "none"
    flags: tuple[str, ...] = ()  # categories, e.g. "chest_pain"
    trigger_words: tuple[str, ...] = ()  # the caller's words that fired them
    flagged_at: datetime | None = None  # when the first red flag of the call fired

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "flags": list(self.flags),
            "trigger_words": list(self.trigger_words),
            "flagged_at": None if self.flagged_at is None else self.flagged_at.isoformat(),
        }


@dataclass(frozen=True)
class TranscriptLine:
    speaker: str  # "caller" | "bot" | "agent" | "monitor" (a supervisor who joined)
    text: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "text": self.text, "at": self.at.isoformat()}


@dataclass(frozen=True)
class CtiPayload:
    call_id: str
    caller_number: str | None
    patient: PatientContext | None
    intent: str | None
    reason: str
    triage: TriageContext
    queue: str
    summary: str
    transcript: tuple[TranscriptLine, ...]
    slots: dict[str, Any]
    call_started: datetime
    transfer_requested: datetime
    emergent: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "call_id": self.call_id,
            "caller_number": self.caller_number,
            "patient": None if self.patient is None else self.patient.to_json(),
            "intent": self.intent,
            "reason": self.reason,
            "emergent": self.emergent,
            "triage": self.triage.to_json(),
            "queue": self.queue,
            "summary": self.summary,
            "transcript": [line.to_json() for line in self.transcript],
            "slots": _json_safe(self.slots),
            "timestamps": {
                "call_started": self.call_started.isoformat(),
                "transfer_requested": self.transfer_requested.isoformat(),
            },
            "extra": _json_safe(self.extra),
        }


def _json_safe(value: Any) -> Any:
    """Dialog slots may hold dates or tuples; the payload must stay plain JSON."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _humanise(code: str) -> str:
    return code.replace("_", " ").strip()


def summary_sentence(payload: CtiPayload) -> str:
    """One short spoken line: who, why, how urgent ("Verified patient Maria Lopez, chest pain,
    emergent."). Spoken privately to the agent, so it may name the patient."""
    parts: list[str] = []
    patient = payload.patient
    if patient is not None and patient.name:
        status = "Verified patient" if patient.verified else "Unverified caller, says"
        parts.append(f"{status} {patient.name}")
    else:
        parts.append("Unverified caller")
    if payload.triage.flags:
        parts.append(", ".join(_humanise(f) for f in payload.triage.flags[:3]))
    elif payload.reason:
        parts.append(_humanise(payload.reason))
    elif payload.intent:
        parts.append(_humanise(payload.intent))
    if payload.triage.level != "none":
        parts.append(payload.triage.level)
    return ", ".join(parts) + "."
