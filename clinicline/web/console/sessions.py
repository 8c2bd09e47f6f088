"""Console sign-in sessions: rows in the shared store behind a random, HttpOnly cookie.

The cookie holds only a random session id (256 bits); who the agent is stays on the server,
in the store (`integrations.services.console_sessions`), so any app process serves any
signed-in agent, a restart signs nobody out, and logging out ends the session everywhere. A
session also ends after `idle_seconds` without a request, and one opened with a password the
agent did not choose is good for nothing but choosing their own. Failed sign-ins are
throttled in the store too (`integrations.services.throttle`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from integrations.services import console_sessions as rows
from integrations.services.agents import AgentInfo
from integrations.store import Database

COOKIE_NAME = "clinicline_console"
SESSION_SECONDS = 8 * 3600
IDLE_SECONDS = 30 * 60
MAX_COOKIE_CHARS = 100


@dataclass(frozen=True)
class Staff:
    """The signed-in agent as the console knows them."""

    agent_id: int
    username: str
    name: str
    role: str
    skills: tuple[str, ...]

    @classmethod
    def of(cls, agent: AgentInfo) -> Staff:
        return cls(agent.agent_id, agent.username, agent.name, agent.role, agent.skills)

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def to_json(self) -> dict[str, object]:
        return {
            "agent_id": self.agent_id,
            "username": self.username,
            "name": self.name,
            "role": self.role,
            "skills": list(self.skills),
        }


@dataclass(frozen=True)
class SignedIn:
    staff: Staff
    must_change_password: bool


def _session_id(cookie: str | None) -> str | None:
    """The cookie's value when it could be a session id at all (bounded, plain ASCII)."""
    if not cookie or len(cookie) > MAX_COOKIE_CHARS or not cookie.isascii():
        return None
    return cookie


@dataclass
class SessionStore:
    db: Database
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    idle_seconds: float = IDLE_SECONDS

    @property
    def _idle(self) -> timedelta:
        return timedelta(seconds=self.idle_seconds)

    async def open(self, staff: Staff, *, must_change_password: bool = False) -> str:
        """Start a session; returns the cookie value."""
        session_id = secrets.token_urlsafe(32)
        async with self.db.session() as s:
            await rows.open_session(
                s, session_id, staff.agent_id, now=self.clock(),
                lifetime=timedelta(seconds=SESSION_SECONDS),
                must_change_password=must_change_password,
            )  # fmt: skip
        return session_id

    async def session_for(self, cookie: str | None) -> SignedIn | None:
        """The session behind a cookie, counting this request as activity."""
        return await self._find(cookie, touch=True)

    async def alive(self, cookie: str | None) -> bool:
        """Whether the session still stands, without counting this as activity (the live
        feed asks this; an open socket is not a person at the desk)."""
        return await self._find(cookie, touch=False) is not None

    async def staff_for(self, cookie: str | None) -> Staff | None:
        signed = await self.session_for(cookie)
        return None if signed is None or signed.must_change_password else signed.staff

    async def password_changed(self, cookie: str | None) -> None:
        session_id = _session_id(cookie)
        if session_id is not None:
            async with self.db.session() as s:
                await rows.password_changed(s, session_id)

    async def close(self, cookie: str | None) -> None:
        session_id = _session_id(cookie)
        if session_id is not None:
            async with self.db.session() as s:
                await rows.close_session(s, session_id)

    async def _find(self, cookie: str | None, *, touch: bool) -> SignedIn | None:
        session_id = _session_id(cookie)
        if session_id is None:
            return None
        async with self.db.session() as s:
            row = await rows.find_session(
                s, session_id, now=self.clock(), idle=self._idle, touch=touch
            )
        if row is None:
            return None
        return SignedIn(Staff.of(row.agent), row.must_change_password)
