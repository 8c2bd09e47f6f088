"""The HL7 messages the interface engine never took (dead letters), for supervisors: what they
were about and why they died, and sending one again once the cause is fixed.

Ids, triggers and reasons only: the message text is built from the appointment when sent, so
nothing here is a copy of PHI. A message sent again goes back to the head of the line (the
oldest first), so the engine still sees a booking before its later changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.audit import add_audit
from integrations.services.transaction import atomic
from integrations.store.models import Hl7Message

MAX_LISTED = 200


async def dead_letters(s: AsyncSession, limit: int = 100) -> list[dict[str, Any]]:
    """The newest dead letters first."""
    rows = await s.scalars(
        select(Hl7Message)
        .where(Hl7Message.status == "dead")
        .order_by(Hl7Message.id.desc())
        .limit(min(limit, MAX_LISTED))
    )
    return [
        {
            "id": m.id,
            "trigger": m.trigger,
            "appointment_id": m.appointment_id,
            "attempts": m.attempts,
            "reason": m.last_error,
            "created_at": m.created_at.isoformat(),
        }
        for m in rows
    ]


async def send_again(s: AsyncSession, message_id: int, *, actor: str, now: datetime) -> bool:
    """Put a dead letter back in the outbox with its attempts reset; False when there is no
    such dead letter (sent meanwhile, or never dead)."""
    async with atomic(s):
        changed = await s.execute(
            update(Hl7Message)
            .where(Hl7Message.id == message_id, Hl7Message.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now, claimed_until=None)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        add_audit(
            s, actor=actor, action="hl7_send_again", patient_id=None,
            detail={"message_id": message_id},
        )  # fmt: skip
        return True
