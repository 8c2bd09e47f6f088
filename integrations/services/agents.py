"""Staff who take transferred calls and tasks: sign-in, presence and who can serve a queue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import InvalidField, NotFound
from integrations.passwords import verify_password
from integrations.services.transaction import atomic
from integrations.store.models import Agent, CallQueue

PRESENCES = frozenset({"offline", "available", "busy", "away", "wrap_up"})


@dataclass(frozen=True)
class AgentInfo:
    agent_id: int
    name: str
    username: str
    role: str
    sip_uri: str
    skills: tuple[str, ...]
    presence: str


@dataclass(frozen=True)
class QueueInfo:
    name: str
    skills: tuple[str, ...]


def _info(a: Agent) -> AgentInfo:
    return AgentInfo(a.id, a.name, a.username, a.role, a.sip_uri, tuple(a.skills), a.presence)


async def authenticate(s: AsyncSession, username: str, password: str) -> AgentInfo | None:
    """The agent when the password is right, else None (same answer for unknown usernames)."""
    async with atomic(s):
        agent = await s.scalar(select(Agent).where(Agent.username == username))
        if agent is None or not verify_password(password, agent.password_hash):
            return None
        return _info(agent)


async def list_agents(s: AsyncSession) -> list[AgentInfo]:
    async with atomic(s):
        return [_info(a) for a in await s.scalars(select(Agent).order_by(Agent.id))]


async def list_queues(s: AsyncSession) -> list[QueueInfo]:
    async with atomic(s):
        rows = await s.scalars(select(CallQueue).order_by(CallQueue.name))
        return [QueueInfo(q.name, tuple(q.skills)) for q in rows]


async def set_presence(s: AsyncSession, agent_id: int, presence: str) -> None:
    if presence not in PRESENCES:
        raise InvalidField(f"presence must be one of {sorted(PRESENCES)}")
    async with atomic(s):
        agent = await s.get(Agent, agent_id)
        if agent is None:
            raise NotFound(f"no agent with id {agent_id}")
        agent.presence = presence


async def agents_for_queue(
    s: AsyncSession, queue: str, *, available_only: bool = True
) -> list[AgentInfo]:
    """Agents holding every skill the queue asks for (JSON skills are matched in Python)."""
    async with atomic(s):
        q = await s.scalar(select(CallQueue).where(CallQueue.name == queue))
        if q is None:
            raise NotFound(f"no queue named {queue!r}")
        needed = set(q.skills)
        agents = await s.scalars(select(Agent).order_by(Agent.id))
        return [
            _info(a)
            for a in agents
            if needed <= set(a.skills) and (not available_only or a.presence == "available")
        ]
