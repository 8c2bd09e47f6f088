"""Site-wide turns in the shared store: work that must not run on every process at once.

A worker loading a newly published dialog model starts a second Rasa beside its first for a
minute or more (twice the memory, both cores busy with TensorFlow): on six workers at once that
would starve every live call on the machine. Each process asks for the turn; one holds it at a
time, renews it while it works, and gives it back when done. A holder that dies stops renewing,
and its turn lapses at `expires_at` for the next.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services import leases
from integrations.services.transaction import atomic
from integrations.store.models import SiteTurn


async def take(
    s: AsyncSession, name: str, holder: str, *, now: datetime, lease: timedelta
) -> str | None:
    """Ask for the turn `name` for `holder` until `now + lease`; whose turn it is afterwards:
    `holder` when it is theirs (newly taken, or renewed), another holder's name while theirs
    has not lapsed.

    The ask is one lease upsert (`leases.hold`; a renewal keeps when the turn was taken). When
    the turn is not ours, the standing holder is read; a turn given back between the two is
    asked for again, so a waiter never reports a holder that has already gone."""
    holder = holder[:120]
    row = {"name": name, "holder": holder, "taken_at": now, "expires_at": now + lease}
    for _ in range(3):
        taken = await leases.hold(
            s, SiteTurn, row, key=SiteTurn.name, holder=SiteTurn.holder,
            expires=SiteTurn.expires_at, now=now, kept_on_renewal=("taken_at",),
        )  # fmt: skip
        if taken == holder:
            return holder
        other = await holder_of(s, name, now=now)
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
