"""Refill requests: list a patient's active medications and file one request per medication.

A request is idempotent: asking again (same call, a retry, or a later call) while one is still
open returns the open one. Controlled substances and prescriptions without refills left go to
people (a `refill_review` task) instead of straight to the pharmacy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import NotFound
from integrations.services.audit import add_audit
from integrations.services.tasks import stage_task
from integrations.services.transaction import atomic
from integrations.store.models import OPEN_REFILL_STATUSES, RefillRequest
from integrations.store.models import Medication as MedicationRow

log = logging.getLogger(__name__)

TURNAROUND_ROUTINE = "within two business days"
TURNAROUND_REVIEW = "within three business days, after the care team reviews it"
# Controlled substances need the prescriber's decision; a plain renewal goes to pharmacy staff.
REVIEW_QUEUE_CONTROLLED = "nurse"
REVIEW_QUEUE_NO_REFILLS = "pharmacy"

RefillStatus = Literal["created", "already_requested", "needs_review"]


@dataclass(frozen=True)
class Medication:
    """An active medication as the dialog sees it."""

    id: int
    name: str
    strength: str
    refills_left: int
    controlled: bool


@dataclass(frozen=True)
class RefillOutcome:
    status: RefillStatus
    request_id: int
    medication: str
    turnaround: str


async def active_medications(s: AsyncSession, patient_id: int) -> list[Medication]:
    """The patient's active medications, by name (also the ASR vocabulary once verified)."""
    async with atomic(s):
        rows = await s.scalars(
            select(MedicationRow)
            .where(MedicationRow.patient_id == patient_id, MedicationRow.active.is_(True))
            .order_by(MedicationRow.id)
        )
        add_audit(s, actor="bot", action="view_medications", patient_id=patient_id)
        meds = [Medication(m.id, m.name, m.strength, m.refills_left, m.controlled) for m in rows]
        # Names are encrypted at rest, so the alphabetical order is made here, not in SQL.
        return sorted(meds, key=lambda m: (m.name, m.id))


def _label(m: MedicationRow) -> str:
    return f"{m.name} {m.strength}".strip()


async def _open_request(s: AsyncSession, medication_id: int) -> RefillRequest | None:
    return await s.scalar(
        select(RefillRequest).where(
            RefillRequest.medication_id == medication_id,
            RefillRequest.status.in_(OPEN_REFILL_STATUSES),
        )
    )


def _already(req: RefillRequest, med: MedicationRow) -> RefillOutcome:
    turnaround = TURNAROUND_REVIEW if req.status == "needs_review" else TURNAROUND_ROUTINE
    return RefillOutcome("already_requested", req.id, _label(med), turnaround)


async def request_refill(
    s: AsyncSession, *, call_id: str, patient_id: int, medication_id: int
) -> RefillOutcome:
    """File a refill request (or return the one already open) for the patient's medication."""
    try:
        async with atomic(s):
            return await _request_refill(
                s, call_id=call_id, patient_id=patient_id, medication_id=medication_id
            )
    except IntegrityError:
        # A concurrent request for the same medication won the unique index: report theirs.
        async with atomic(s):
            med = await s.get(MedicationRow, medication_id)
            req = await _open_request(s, medication_id)
            if med is None or req is None:
                raise
            return _already(req, med)


async def _request_refill(
    s: AsyncSession, *, call_id: str, patient_id: int, medication_id: int
) -> RefillOutcome:
    med = await s.get(MedicationRow, medication_id)
    if med is None or med.patient_id != patient_id or not med.active:
        raise NotFound(f"medication {medication_id} is not an active medication of this patient")
    existing = await _open_request(s, medication_id)
    if existing is not None:
        return _already(existing, med)

    review_reason = None
    if med.controlled:
        review_reason, queue = "controlled substance", REVIEW_QUEUE_CONTROLLED
    elif med.refills_left <= 0:
        review_reason, queue = "no refills left", REVIEW_QUEUE_NO_REFILLS
    req = RefillRequest(
        patient_id=patient_id,
        medication_id=medication_id,
        call_id=call_id,
        status="needs_review" if review_reason else "open",
    )
    s.add(req)
    if review_reason:
        task = stage_task(
            s,
            kind="refill_review",
            queue=queue,
            patient_id=patient_id,
            call_id=call_id,
            note=f"Refill requested by phone for {_label(med)}: {review_reason}.",
        )
        await s.flush()
        req.task_id = task.id
    await s.flush()
    add_audit(
        s,
        actor="bot",
        action="request_refill",
        patient_id=patient_id,
        call_id=call_id,
        detail={"request_id": req.id, "status": req.status},
    )
    log.info("refill request filed", extra={"call_id": call_id, "status": req.status})
    if review_reason:
        return RefillOutcome("needs_review", req.id, _label(med), TURNAROUND_REVIEW)
    return RefillOutcome("created", req.id, _label(med), TURNAROUND_ROUTINE)
