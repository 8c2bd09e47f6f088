"""Leases in the store: a row that one holder owns until it expires, renewed by that holder.

Agents held for a call (`presence.reserve`) and site-wide turns (`site_turns.take`) are both
one upsert: insert the lease, or take over the row where it is the same holder's (a renewal)
or has lapsed. The database serialises racing writers on the primary key, and RETURNING says
whose row stands, so two processes can never both believe they hold it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from integrations.services.transaction import atomic
from integrations.store.database import insert_for


async def hold(
    s: AsyncSession,
    table: type[Any],
    values: Mapping[str, Any],
    *,
    key: InstrumentedAttribute[Any],
    holder: InstrumentedAttribute[Any],
    expires: InstrumentedAttribute[Any],
    now: datetime,
    kept_on_renewal: Sequence[str] = (),
) -> Any:
    """Insert or take over `table`'s row `values` (its `key`, `holder` and `expires` columns
    among them) unless another holder's lease has not expired at `now`: this row's holder
    when it is theirs now (taken or renewed), None when another's lease stands.

    `kept_on_renewal`: columns a renewal by the same holder leaves as they were (when the
    lease was first taken)."""
    insert = insert_for(s.get_bind().dialect.name)
    stmt = insert(table).values(**values)
    excluded_holder = stmt.excluded[holder.key]
    updates: dict[str, Any] = {}
    for name in values:
        if name == key.key:
            continue
        fresh = stmt.excluded[name]
        updates[name] = (
            case((holder == excluded_holder, getattr(table, name)), else_=fresh)
            if name in kept_on_renewal
            else fresh
        )
    upsert = stmt.on_conflict_do_update(
        index_elements=[key],
        set_=updates,
        where=or_(holder == excluded_holder, expires <= now),
    ).returning(holder)
    async with atomic(s):
        return await s.scalar(upsert)
