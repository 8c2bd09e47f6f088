"""Presence as routing sees it: idle times and agent reservations, kept in the shared store.

`Presence` binds the store's presence service (`integrations.services.presence`) to one
database, so routing and the console say `await presence.call_ended(agent, at)` without
opening sessions. Nothing is kept in this process: any app process may offer any call, and
a process that dies leaves nothing behind but reservations that lapse within `lease`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations.services import presence as store
from integrations.store import Database

# How long a reservation holds an agent if its holder never frees it (a process died):
# longer than an offer can last (ringing 20 s, the whisper, 15 s to press 1), short enough
# that a lost holder keeps no nurse from callers for long. Once she answers she is `busy`.
RESERVATION_LEASE = timedelta(seconds=120)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive instant is taken as UTC, as the store's UTCDateTime columns do.

    Idle times come from the console (aware) and from SIP callbacks (either), and Python
    refuses to compare the two kinds.
    """
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Presence:
    """Idle tracking and reservations for one store; every call is one short transaction."""

    def __init__(self, db: Database, *, lease: timedelta = RESERVATION_LEASE) -> None:
        self.db = db
        self.lease = lease

    async def idle_since(self, agent_id: int) -> datetime | None:
        """When the agent last finished a call or became available; None = not idle."""
        async with self.db.session() as s:
            since = (await store.idle_since(s, [agent_id])).get(agent_id)
        return None if since is None else as_utc(since)

    async def became_available(self, agent_id: int, at: datetime) -> None:
        async with self.db.session() as s:
            await store.became_available(s, agent_id, as_utc(at))

    async def call_ended(self, agent_id: int, at: datetime) -> None:
        async with self.db.session() as s:
            await store.call_ended(s, agent_id, as_utc(at))

    async def signed_out(self, agent_id: int) -> None:
        async with self.db.session() as s:
            await store.signed_out(s, agent_id)

    async def reserve(self, agent_id: int, call_id: str, at: datetime) -> bool:
        async with self.db.session() as s:
            return await store.reserve(s, agent_id, call_id, now=as_utc(at), lease=self.lease)

    async def release(self, agent_id: int, call_id: str) -> None:
        async with self.db.session() as s:
            await store.release(s, agent_id, call_id)

    async def reserved_for(self, agent_id: int, at: datetime | None = None) -> str | None:
        async with self.db.session() as s:
            return await store.reserved_for(s, agent_id, now=as_utc(at or datetime.now(UTC)))
