"""The JSON-ready report of one call, for the agent console, supervisors and tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import NotFound
from integrations.services.audit import add_audit
from integrations.services.transaction import atomic
from integrations.store.crypto import Cipher, cipher_of
from integrations.store.models import (
    Appointment,
    Call,
    CallEvent,
    CallTurn,
    Patient,
    RefillRequest,
    StaffTask,
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def call_report(
    s: AsyncSession, call_id: str, *, viewer: str | None = None
) -> dict[str, Any]:
    """Everything recorded about a call; `viewer`, when given, is written to the audit log."""
    async with atomic(s):
        call = await s.get(Call, call_id)
        if call is None:
            raise NotFound(f"no call {call_id!r}")
        cipher = cipher_of(s)
        events = [
            (e.kind, cipher.decrypt_json(e.data_enc))
            for e in await s.scalars(
                select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.id)
            )
        ]
        report: dict[str, Any] = {
            "call_id": call.id,
            "caller": call.caller_number,
            "direction": call.direction,
            "started": _iso(call.started),
            "ended": _iso(call.ended),
            **await _identity(s, call),
            "intents": [d.get("name", d.get("intent")) for k, d in events if k == "intent"],
            "triage_level": call.triage_level,
            "flags": list(call.flags),
            "emergency_message_played": call.emergency_message_played,
            # Each time the emergency message played: started, ended, seconds, outcome
            # ("completed", "caller_hung_up" or "interrupted").
            "emergency_messages": [d for k, d in events if k == "emergency_message"],
            "transferred": call.transferred,
            "transfer_queue": call.transfer_queue,
            "screen_pop": None
            if call.screen_pop_enc is None
            else cipher.decrypt_json(call.screen_pop_enc),
            "disposition": call.disposition,
            "has_recording": call.recording_enc is not None,  # played through its own route
            **await _outcomes(s, call_id),
            "turns": await _turns(s, call_id, cipher),
            "dtmf": "".join(
                str(d.get("digits", d.get("digit", ""))) for k, d in events if k == "dtmf"
            ),
            "events": [{"kind": k, "data": d} for k, d in events],
        }
        if viewer is not None:
            add_audit(
                s,
                actor=viewer,
                action="view_call",
                patient_id=call.verified_patient_id,
                call_id=call_id,
            )
        return report


async def _identity(s: AsyncSession, call: Call) -> dict[str, Any]:
    patient = None
    if call.verified_patient_id is not None:
        p = await s.get(Patient, call.verified_patient_id)
        if p is not None:
            patient = {"id": p.id, "name": p.full_name}
    return {"verified": patient is not None, "patient": patient}


async def _outcomes(s: AsyncSession, call_id: str) -> dict[str, Any]:
    refills = await s.scalars(
        select(RefillRequest).where(RefillRequest.call_id == call_id).order_by(RefillRequest.id)
    )
    booked = await s.scalars(select(Appointment.id).where(Appointment.booked_by_call_id == call_id))
    changed = await s.scalars(
        select(Appointment.id).where(
            Appointment.changed_by_call_id == call_id,
            or_(Appointment.status == "cancelled", Appointment.status == "rescheduled"),
        )
    )
    tasks = await s.scalars(
        select(StaffTask).where(StaffTask.call_id == call_id).order_by(StaffTask.id)
    )
    return {
        "refill_requests": [r.medication.name for r in refills],
        "appointments_booked": len(booked.all()),
        "appointments_changed": len(changed.all()),
        "tasks": [
            {"id": t.id, "kind": t.kind, "queue": t.queue, "status": t.status} for t in tasks
        ],
    }


async def _turns(s: AsyncSession, call_id: str, cipher: Cipher) -> list[dict[str, Any]]:
    rows = await s.scalars(
        select(CallTurn).where(CallTurn.call_id == call_id).order_by(CallTurn.start, CallTurn.id)
    )
    return [
        {
            "speaker": t.speaker,
            "text": cipher.decrypt_text(t.text_enc),
            "start": _iso(t.start),
            "end": _iso(t.end),
        }
        for t in rows
    ]
