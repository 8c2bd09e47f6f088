"""The PHI access log: who viewed or changed which patient's record, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.models import AuditEvent


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    patient_id: int | None
    call_id: str | None
    detail: dict[str, Any]


def add_audit(
    s: AsyncSession,
    *,
    actor: str,
    action: str,
    patient_id: int | None,
    call_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Stage an audit row inside the caller's transaction (so it lands with the access itself)."""
    s.add(
        AuditEvent(
            actor=actor, action=action, patient_id=patient_id, call_id=call_id, detail=detail or {}
        )
    )


async def record_access(
    s: AsyncSession,
    *,
    actor: str,
    action: str,
    patient_id: int | None,
    call_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Log one access on its own, e.g. an agent opening a patient's screen-pop."""
    async with atomic(s):
        add_audit(
            s, actor=actor, action=action, patient_id=patient_id, call_id=call_id, detail=detail
        )


async def audit_trail(s: AsyncSession, patient_id: int, limit: int = 100) -> list[AuditEntry]:
    """The newest accesses to one patient's record, newest first."""
    async with atomic(s):
        rows = await s.scalars(
            select(AuditEvent)
            .where(AuditEvent.patient_id == patient_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
        return [
            AuditEntry(r.at, r.actor, r.action, r.patient_id, r.call_id, dict(r.detail))
            for r in rows
        ]
