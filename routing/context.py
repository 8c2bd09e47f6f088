"""What the voice worker knows about a call when it asks for a transfer, and how to read it
back from the call record when the worker has not kept it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.call_report import call_report
from integrations.services.transaction import atomic
from integrations.store.models import Patient
from routing.cti import PatientContext, TranscriptLine, TriageContext


@dataclass(frozen=True)
class TransferRequest:
    """The dialog's `Transfer(queue, reason, emergent)` plus the call's context so far."""

    call_id: str
    queue: str
    reason: str
    emergent: bool
    caller_number: str | None = None
    patient: PatientContext | None = None
    intent: str | None = None
    triage: TriageContext = field(default_factory=TriageContext)
    transcript: tuple[TranscriptLine, ...] = ()
    slots: dict[str, Any] = field(default_factory=dict)
    call_started: datetime | None = None
    prefer_agent: int | None = None  # a colleague asked for by the agent passing it on

    @property
    def flagged(self) -> bool:
        """Flagged callers never go to voicemail or a callback (triage safety rule)."""
        return self.emergent or self.triage.level != "none" or bool(self.triage.flags)


async def request_from_store(
    s: AsyncSession,
    call_id: str,
    *,
    queue: str,
    reason: str,
    emergent: bool,
    intent: str | None = None,
    slots: dict[str, Any] | None = None,
    identifiers_used: tuple[str, ...] = ("name", "dob"),
) -> TransferRequest:
    """Build the request from what the call record holds (turns, flags, triage events)."""
    report = await call_report(s, call_id)
    patient = None
    if report["patient"] is not None:
        async with atomic(s):
            row = await s.get(Patient, report["patient"]["id"])
        patient = PatientContext(
            patient_id=report["patient"]["id"],
            name=report["patient"]["name"],
            dob=None if row is None else row.dob,
            verified=bool(report["verified"]),
            identifiers_used=identifiers_used,
        )
    matched: list[str] = []
    flagged_at: datetime | None = None
    for event in report["events"]:
        if event["kind"] == "triage":
            matched.extend(str(m) for m in event["data"].get("matched", ()))
            if flagged_at is None and event["data"].get("at"):
                flagged_at = datetime.fromisoformat(str(event["data"]["at"]))
    intents = [i for i in report["intents"] if i]
    return TransferRequest(
        call_id=call_id,
        queue=queue,
        reason=reason,
        emergent=emergent,
        caller_number=report["caller"],
        patient=patient,
        intent=intent or (intents[-1] if intents else None),
        triage=TriageContext(
            level=report["triage_level"],
            flags=tuple(report["flags"]),
            trigger_words=tuple(dict.fromkeys(matched)),
            flagged_at=flagged_at,
        ),
        transcript=tuple(
            TranscriptLine(t["speaker"], t["text"], datetime.fromisoformat(t["start"]))
            for t in report["turns"]
        ),
        slots=dict(slots or {}),
        call_started=datetime.fromisoformat(report["started"]),
    )
