"""Choose the agent for a queue: available, holding the queue's skills, longest idle first."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import NotFound
from integrations.services import presence as presence_store
from integrations.services.agents import AgentInfo, agents_for_queue
from routing.presence import RESERVATION_LEASE, as_utc


def rank_longest_idle(
    candidates: list[AgentInfo], idle: dict[int, datetime], now: datetime
) -> list[AgentInfo]:
    """Longest idle first; agents with no idle record count as idle since forever, by id."""

    now = as_utc(now)

    def key(agent: AgentInfo) -> tuple[float, int]:
        since = idle.get(agent.agent_id)
        waited = float("inf") if since is None else (now - as_utc(since)).total_seconds()
        return (-waited, agent.agent_id)

    return sorted(candidates, key=key)


async def pick_agent(
    s: AsyncSession,
    queue: str,
    *,
    exclude: set[int],
    now: datetime,
    reserve_for: str | None = None,
    lease: timedelta = RESERVATION_LEASE,
    prefer: int | None = None,
) -> AgentInfo | None:
    """The best free agent for `queue`, or None (also None for a queue the store lacks).

    `prefer`: that agent first, if she serves the queue and is free (else the best other).
    With `reserve_for`, the agent is also reserved for that call id, in the store: when
    another process (or another transfer here) takes the best agent first, the next best is
    tried, so racing transfers never share an agent.
    """
    now = as_utc(now)
    try:
        candidates = await agents_for_queue(s, queue, available_only=True)
    except NotFound:
        return None
    candidates = [a for a in candidates if a.agent_id not in exclude and a.sip_uri]
    idle = await presence_store.idle_since(s, (a.agent_id for a in candidates))
    ranked = rank_longest_idle(candidates, idle, now)
    # A colleague asked for by the agent passing the call on goes first, when she is free.
    ranked.sort(key=lambda a: a.agent_id != prefer)
    if reserve_for is None:
        held = await presence_store.reserved_agents(s, now=now)
        return next((a for a in ranked if a.agent_id not in held), None)
    for agent in ranked:
        if await presence_store.reserve(s, agent.agent_id, reserve_for, now=now, lease=lease):
            return agent
    return None
