"""The site's processes as each last reported itself: what any `/health` shows of the others.

Each voice worker writes its own row every few seconds (state, active calls); the cluster's
supervisor writes the SIP front's row and marks a worker it is restarting. A row not refreshed
for `SILENT_AFTER` belongs to a process that is gone or hung, whatever its last word was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.database import insert_for
from integrations.store.models import ProcessBeat

SILENT_AFTER = timedelta(seconds=15)  # three missed beats


@dataclass(frozen=True)
class ProcessView:
    name: str
    role: str
    state: str  # as reported, or "silent" when its beats stopped
    detail: str
    active_calls: int
    seconds_since_seen: float
    sip_address: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "state": self.state,
            "detail": self.detail,
            "active_calls": self.active_calls,
            "seconds_since_seen": round(self.seconds_since_seen, 1),
            "sip_address": self.sip_address,
        }


async def beat(
    s: AsyncSession,
    name: str,
    role: str,
    state: str,
    *,
    now: datetime,
    started_at: datetime,
    detail: str = "",
    active_calls: int = 0,
    sip_address: str | None = None,
) -> None:
    """Record how the process `name` is now (one upsert). A worker behind a SIP front gives
    the `sip_address` the front reaches it at."""
    values = {
        "role": role, "state": state, "detail": detail[:200], "active_calls": active_calls,
        "started_at": started_at, "seen_at": now, "sip_address": sip_address,
    }  # fmt: skip
    insert = insert_for(s.get_bind().dialect.name)
    stmt = insert(ProcessBeat).values(name=name[:120], **values)
    async with atomic(s):
        await s.execute(stmt.on_conflict_do_update(index_elements=[ProcessBeat.name], set_=values))


async def mark(s: AsyncSession, name: str, state: str, detail: str, *, now: datetime) -> None:
    """Another process's word about `name` (the supervisor restarting a dead worker)."""
    async with atomic(s):
        await s.execute(
            update(ProcessBeat)
            .where(ProcessBeat.name == name)
            .values(state=state, detail=detail[:200], seen_at=now)
        )


async def site(s: AsyncSession, *, now: datetime) -> list[ProcessView]:
    """Every process that reported in the last day, silent ones marked so."""
    async with atomic(s):
        rows = (
            await s.scalars(
                select(ProcessBeat)
                .where(ProcessBeat.seen_at >= now - timedelta(days=1))
                .order_by(ProcessBeat.role, ProcessBeat.name)
            )
        ).all()
    return [
        ProcessView(
            row.name,
            row.role,
            "silent" if now - row.seen_at > SILENT_AFTER else row.state,
            row.detail,
            row.active_calls,
            (now - row.seen_at).total_seconds(),
            row.sip_address,
        )
        for row in rows
    ]


async def announced_workers(s: AsyncSession, *, now: datetime) -> list[str]:
    """The SIP addresses of the workers that announce one and still beat, sorted: where a
    front sends callers (its OPTIONS probes then take out any that stop answering)."""
    async with atomic(s):
        rows = await s.scalars(
            select(ProcessBeat.sip_address)
            .where(
                ProcessBeat.role == "worker",
                ProcessBeat.sip_address.is_not(None),
                ProcessBeat.seen_at >= now - SILENT_AFTER,
                ProcessBeat.state != "restarting",
            )
            .order_by(ProcessBeat.sip_address)
        )
        return [address for address in rows.all() if address]
