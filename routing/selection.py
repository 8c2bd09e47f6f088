"""Choose the agent for a queue: available, holding the queue's skills, longest idle first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import NotFound
from integrations.services.agents import AgentInfo, agents_for_queue
from routing.presence import Presence, as_utc


def rank_longest_idle(
    candidates: list[AgentInfo], presence: Presence, now: datetime
) -> list[AgentInfo]:
    """Longest idle first; agents with no idle record count as idle since forever, by id."""

    now = as_utc(now)

    def key(agent: AgentInfo) -> tuple[float, int]:
        since = presence.idle_since(agent.agent_id)
        idle = float("inf") if since is None else (now - since).total_seconds()
        return (-idle, agent.agent_id)

    return sorted(candidates, key=key)


async def pick_agent(
    s: AsyncSession,
    queue: str,
    *,
    exclude: set[int],
    now: datetime,
    presence: Presence,
    reserve_for: str | None = None,
) -> AgentInfo | None:
    """The best free agent for `queue`, or None (also None for a queue the store lacks).

    With `reserve_for`, the agent is also reserved for that call id. Ranking and reserving
    run without an await in between, so on one event loop no other transfer can slip in.
    """
    try:
        candidates = await agents_for_queue(s, queue, available_only=True)
    except NotFound:
        return None
    ranked = rank_longest_idle(
        [a for a in candidates if a.agent_id not in exclude and a.sip_uri], presence, now
    )
    for agent in ranked:
        if reserve_for is None:
            if presence.reserved_for(agent.agent_id) is None:
                return agent
        elif presence.reserve(agent.agent_id, reserve_for, now):
            return agent
    return None
