"""Site-wide turns in the shared store: work that must not run on every process at once.

A worker loading a newly published dialog model starts a second Rasa beside its first for a
minute or more (twice the memory, both cores busy with TensorFlow): on six workers at once that
would starve every live call on the machine. Each process asks for the turn; one holds it at a
time, renews it while it works, and gives it back when done. A holder that dies stops renewing,
and its turn lapses at `expires_at` for the next.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.database import insert_for
from integrations.store.models import SiteTurn


async def take(
    s: AsyncSession, name: str, holder: str, *, now: datetime, lease: timedelta
) -> str | None:
    """Ask for the turn `name` for `holder` until `now + lease`; whose turn it is afterwards:
    `holder` when it is theirs (newly taken, or renewed), another holder's name while theirs
    has not lapsed.

    The upsert is one statement: the database serialises racing processes on the primary key,
    and RETURNING says whose row stands. When it is not ours, the standing holder is read; a
    turn given back between the two is asked for again, so a waiter never reports a holder
    that has already gone."""
    holder = holder[:120]
    insert = insert_for(s.get_bind().dialect.name)
    stmt = insert(SiteTurn).values(name=name, holder=holder, taken_at=now, expires_at=now + lease)
    upsert = stmt.on_conflict_do_update(
        index_elements=[SiteTurn.name],
        set_={
            "holder": stmt.excluded.holder,
            # A renewal keeps when the turn was taken; a lapsed one is taken afresh.
            "taken_at": case(
                (SiteTurn.holder == stmt.excluded.holder, SiteTurn.taken_at),
                else_=stmt.excluded.taken_at,
            ),
            "expires_at": stmt.excluded.expires_at,
        },
        where=or_(SiteTurn.holder == stmt.excluded.holder, SiteTurn.expires_at <= now),
    ).returning(SiteTurn.holder)
    standing = select(SiteTurn.holder).where(SiteTurn.name == name, SiteTurn.expires_at > now)
    for _ in range(3):
        async with atomic(s):
            if await s.scalar(upsert) == holder:
                return holder
            other = await s.scalar(standing)
        if other is not None:
            return other
    return None  # given back and taken again under us each time: asked again next poll


async def give_back(s: AsyncSession, name: str, holder: str) -> None:
    """End `holder`'s turn `name` now (nothing, when the turn is not theirs)."""
    async with atomic(s):
        await s.execute(
            delete(SiteTurn).where(SiteTurn.name == name, SiteTurn.holder == holder[:120])
        )


async def holder_of(s: AsyncSession, name: str, *, now: datetime) -> str | None:
    """Who holds the turn `name` now, or None."""
    async with atomic(s):
        return await s.scalar(
            select(SiteTurn.holder).where(SiteTurn.name == name, SiteTurn.expires_at > now)
        )
