"""Who routing may offer a call to, shared by every process: idle times and reservations.

`agents.presence` says whether an agent takes calls at all; this module adds what picking
one needs. Idle times order the available agents (longest idle first). A reservation holds an
agent for one call's offer: it is one row per agent, written by one conditional upsert, so of
any number of processes racing for the same nurse exactly one wins, on SQLite and PostgreSQL
alike. A reservation lapses at its `expires_at` (a process that died holding it cannot keep
the agent from callers); the holder frees it as soon as the offer ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services import leases
from integrations.services.transaction import atomic
from integrations.store.models import Agent, AgentReservation


async def idle_since(s: AsyncSession, agent_ids: Iterable[int]) -> dict[int, datetime]:
    """When each of these agents became idle; agents never seen idle are left out."""
    ids = list(agent_ids)
    if not ids:
        return {}
    async with atomic(s):
        rows = await s.execute(
            select(Agent.id, Agent.idle_since).where(
                Agent.id.in_(ids), Agent.idle_since.is_not(None)
            )
        )
        return {agent_id: since for agent_id, since in rows if since is not None}


async def became_available(s: AsyncSession, agent_id: int, at: datetime) -> None:
    """The agent signed in or finished wrap-up; an earlier idle start is kept."""
    async with atomic(s):
        await s.execute(
            update(Agent).where(Agent.id == agent_id, Agent.idle_since.is_(None))
            .values(idle_since=at)
        )  # fmt: skip


async def call_ended(s: AsyncSession, agent_id: int, at: datetime) -> None:
    """The agent's call ended: their idle clock restarts at `at`, any reservation is freed."""
    async with atomic(s):
        await s.execute(update(Agent).where(Agent.id == agent_id).values(idle_since=at))
        await s.execute(delete(AgentReservation).where(AgentReservation.agent_id == agent_id))


async def console_seen(s: AsyncSession, agent_ids: Iterable[int], at: datetime) -> None:
    """These agents have a console open (on the calling process) at `at`."""
    ids = list(agent_ids)
    if not ids:
        return
    async with atomic(s):
        await s.execute(update(Agent).where(Agent.id.in_(ids)).values(console_seen_at=at))


async def lapse_absent_consoles(s: AsyncSession, *, now: datetime, grace: timedelta) -> list[int]:
    """Set `away` every agent marked available whose console no process has seen since
    `now - grace`; their idle clock stops and any reservation is freed. Agents who never
    opened a console are left as they are. Returns the agents set away."""
    absent = (
        Agent.presence == "available",
        Agent.console_seen_at.is_not(None),
        Agent.console_seen_at < now - grace,
    )
    async with atomic(s):
        # One statement decides and changes: a console that came back meanwhile is not lapsed.
        lapsed = await s.execute(
            update(Agent).where(*absent)
            .values(presence="away", presence_reason="console_closed", presence_since=now,
                    idle_since=None)
            .returning(Agent.id)
        )  # fmt: skip
        ids = sorted(lapsed.scalars())
        if ids:
            await s.execute(delete(AgentReservation).where(AgentReservation.agent_id.in_(ids)))
        return ids


async def signed_out(s: AsyncSession, agent_id: int) -> None:
    async with atomic(s):
        await s.execute(update(Agent).where(Agent.id == agent_id).values(idle_since=None))
        await s.execute(delete(AgentReservation).where(AgentReservation.agent_id == agent_id))


async def reserve(
    s: AsyncSession, agent_id: int, call_id: str, *, now: datetime, lease: timedelta
) -> bool:
    """Hold the agent for `call_id` until `now + lease` (a lease: `leases.hold`, renewed by
    the same call); False when another call holds them."""
    values = {"agent_id": agent_id, "call_id": call_id, "reserved_at": now,
              "expires_at": now + lease}  # fmt: skip
    held_by = await leases.hold(
        s, AgentReservation, values, key=AgentReservation.agent_id,
        holder=AgentReservation.call_id, expires=AgentReservation.expires_at, now=now,
    )  # fmt: skip
    return bool(held_by == call_id)


async def release(s: AsyncSession, agent_id: int, call_id: str) -> None:
    """Free the agent if (and only if) `call_id` holds them."""
    async with atomic(s):
        await s.execute(
            delete(AgentReservation).where(
                AgentReservation.agent_id == agent_id, AgentReservation.call_id == call_id
            )
        )


async def reserved_for(s: AsyncSession, agent_id: int, *, now: datetime) -> str | None:
    """The call holding the agent now, or None."""
    async with atomic(s):
        return await s.scalar(
            select(AgentReservation.call_id).where(
                AgentReservation.agent_id == agent_id, AgentReservation.expires_at > now
            )
        )


async def reserved_agents(s: AsyncSession, *, now: datetime) -> set[int]:
    """Every agent a live reservation holds."""
    async with atomic(s):
        rows = await s.scalars(
            select(AgentReservation.agent_id).where(AgentReservation.expires_at > now)
        )
        return set(rows)
