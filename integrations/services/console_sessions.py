"""Console sign-in sessions as rows, so that any app process can serve any signed-in agent.

A row is found by the SHA-256 of the session id the cookie carries (256 random bits): the
table alone signs nobody in. Who the agent is, their role and skills are read from `agents`
on every look-up, so a role taken away takes effect at the agent's next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.agents import AgentInfo, agent_info
from integrations.services.transaction import atomic
from integrations.store.crypto import secret_digest
from integrations.store.models import Agent, ConsoleSession

# A request refreshes `last_seen` only when the stored one is older than this: the idle
# timeout is half an hour, and a write on every request would be waste.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class SessionRow:
    agent: AgentInfo
    must_change_password: bool


async def open_session(
    s: AsyncSession,
    session_id: str,
    agent_id: int,
    *,
    now: datetime,
    lifetime: timedelta,
    must_change_password: bool,
) -> None:
    """Record a new session; sessions that have ended are pruned on the way."""
    async with atomic(s):
        await s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
        s.add(
            ConsoleSession(
                id_hash=secret_digest(session_id), agent_id=agent_id, created_at=now,
                expires_at=now + lifetime, last_seen=now,
                must_change_password=must_change_password,
            )
        )  # fmt: skip


async def find_session(
    s: AsyncSession, session_id: str, *, now: datetime, idle: timedelta, touch: bool
) -> SessionRow | None:
    """The live session behind `session_id`; with `touch`, this counts as activity. A
    session past its lifetime or idle timeout is deleted and None returned."""
    key = secret_digest(session_id)
    async with atomic(s):
        row = (
            await s.execute(
                select(ConsoleSession, Agent)
                .join(Agent, Agent.id == ConsoleSession.agent_id)
                .where(ConsoleSession.id_hash == key)
            )
        ).first()
        if row is None:
            return None
        session, agent = row
        if now >= session.expires_at or now - session.last_seen >= idle:
            await s.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == key))
            return None
        if touch and now - session.last_seen >= TOUCH_EVERY:
            await s.execute(
                update(ConsoleSession).where(ConsoleSession.id_hash == key).values(last_seen=now)
            )
        return SessionRow(agent_info(agent), session.must_change_password)


async def password_changed(s: AsyncSession, session_id: str) -> None:
    async with atomic(s):
        await s.execute(
            update(ConsoleSession)
            .where(ConsoleSession.id_hash == secret_digest(session_id))
            .values(must_change_password=False)
        )


async def close_session(s: AsyncSession, session_id: str) -> None:
    async with atomic(s):
        key = secret_digest(session_id)
        await s.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == key))
