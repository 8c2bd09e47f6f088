"""What an agent sees about the verified patient on a call: upcoming appointments, active
medications, open tasks and recent calls. The caller of this module decides who may see it and
audits the view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import NotFound
from integrations.services import scheduling
from integrations.services.transaction import atomic
from integrations.store.models import Call, Medication, Patient, StaffTask

RECENT_CALLS = 5
UPCOMING = 5


async def patient_panel(s: AsyncSession, patient_id: int, *, now: datetime) -> dict[str, Any]:
    """`now` is clinic-local wall-clock time (appointments are stored that way)."""
    async with atomic(s):
        patient = await s.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"no patient {patient_id}")
        booked = (await scheduling.upcoming(s, patient_id, now=now))[:UPCOMING]
        medications = await s.scalars(
            select(Medication)
            .where(Medication.patient_id == patient_id, Medication.active.is_(True))
            .order_by(Medication.id)
        )
        tasks = await s.scalars(
            select(StaffTask)
            .where(StaffTask.patient_id == patient_id, StaffTask.status != "done")
            .order_by(StaffTask.created_at)
        )
        calls = await s.scalars(
            select(Call)
            .where(Call.verified_patient_id == patient_id)
            .order_by(Call.started.desc())
            .limit(RECENT_CALLS)
        )
        return {
            "patient_id": patient.id,
            "name": patient.full_name,
            "dob": patient.dob.isoformat(),
            "appointments": [
                {"start": a.start.isoformat(), "provider": a.provider, "location": a.location}
                for a in booked
            ],
            "medications": [
                {
                    "name": m.name,
                    "strength": m.strength,
                    "refills_left": m.refills_left,
                    "controlled": m.controlled,
                }
                for m in medications
            ],
            "tasks": [{"kind": t.kind, "queue": t.queue, "status": t.status} for t in tasks],
            "recent_calls": [
                {"started": c.started.isoformat(), "disposition": c.disposition}
                for c in calls
            ],
        }
