"""The hold line: routine callers waiting for the next free person, in the shared store.

Every worker's callers stand in one line per queue, ordered by when they first joined (then
by call id), so the longest-holding caller is served first whichever worker holds them. Each
holder refreshes its row while it waits (`place` does); a row left unrefreshed for `STALE`
(its worker died) keeps no place and is pruned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.database import insert_for
from integrations.store.models import HoldLine

# Longer than a caller can be away from the line while an agent's phone rings for them.
STALE = timedelta(seconds=90)


async def join(s: AsyncSession, call_id: str, queue: str, *, now: datetime) -> None:
    """The caller holds in `queue`; one who comes back keeps the place first taken."""
    insert = insert_for(s.get_bind().dialect.name)
    stmt = insert(HoldLine).values(call_id=call_id, queue=queue, since=now, seen_at=now)
    async with atomic(s):
        await s.execute(
            stmt.on_conflict_do_update(index_elements=[HoldLine.call_id], set_={"seen_at": now})
        )


async def leave(s: AsyncSession, call_id: str) -> None:
    async with atomic(s):
        await s.execute(delete(HoldLine).where(HoldLine.call_id == call_id))


async def place(s: AsyncSession, call_id: str, *, now: datetime) -> int | None:
    """The caller's place in their line (1 = next), refreshing their row; None when they
    are not in a line."""
    async with atomic(s):
        await s.execute(delete(HoldLine).where(HoldLine.seen_at < now - STALE))
        mine = await s.get(HoldLine, call_id)
        if mine is None:
            return None
        await s.execute(update(HoldLine).where(HoldLine.call_id == call_id).values(seen_at=now))
        ahead = await s.scalar(
            select(func.count())
            .select_from(HoldLine)
            .where(
                HoldLine.queue == mine.queue,
                or_(
                    HoldLine.since < mine.since,
                    and_(HoldLine.since == mine.since, HoldLine.call_id < call_id),
                ),
            )
        )
        return (ahead or 0) + 1
