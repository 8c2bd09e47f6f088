"""Callers turned away because every line was busy: written by whichever door refused them.

A lone worker answers 486 itself and writes what it refused every few seconds (one row per
batch, `callers` = how many). Behind the SIP front the workers' own 486s only tell Kamailio
to try the next worker; the front writes a row for each caller it could place nowhere
(deploy/kamailio/clinicline.cfg, `route[COUNT_TURNED_AWAY]`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.models import TurnedAway

ALL_LINES_BUSY = "all_lines_busy"


async def record(
    s: AsyncSession, callers: int, door: str, at: datetime, reason: str = ALL_LINES_BUSY
) -> None:
    """Count `callers` refused by `door` (a worker's name, or "front")."""
    if callers < 1:
        return
    async with atomic(s):
        s.add(TurnedAway(at=at, callers=callers, reason=reason, door=door[:80]))


async def count(s: AsyncSession, start: datetime, end: datetime) -> int:
    """Callers turned away in [start, end) (a read inside the caller's transaction)."""
    total = await s.scalar(
        select(func.coalesce(func.sum(TurnedAway.callers), 0)).where(
            TurnedAway.at >= start, TurnedAway.at < end
        )
    )
    return int(total or 0)
