"""Console sign-in sessions: server-side records behind an HMAC-signed, HttpOnly cookie.

The cookie holds only a random session id and its signature; who the agent is stays on the
server, so logging out (or a restart) ends the session for good. Repeated wrong passwords
for one username lock that username out for a while.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from integrations.services.agents import AgentInfo

COOKIE_NAME = "clinicline_console"
SESSION_SECONDS = 8 * 3600
MAX_FAILURES = 5
LOCKOUT_SECONDS = 60.0


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


@dataclass
class _Session:
    staff: Staff
    expires: float


@dataclass
class SessionStore:
    secret: bytes
    clock: Callable[[], float] = time.monotonic
    _sessions: dict[str, _Session] = field(default_factory=dict)
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def _sign(self, sid: str) -> str:
        return hmac.new(self.secret, sid.encode(), hashlib.sha256).hexdigest()

    def open(self, staff: Staff) -> str:
        """Start a session; returns the cookie value."""
        sid = secrets.token_urlsafe(24)
        self._sessions[sid] = _Session(staff, self.clock() + SESSION_SECONDS)
        return f"{sid}.{self._sign(sid)}"

    def staff_for(self, cookie: str | None) -> Staff | None:
        if not cookie or len(cookie) > 200:
            return None
        sid, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(sid).encode()):
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        if self.clock() >= session.expires:
            del self._sessions[sid]
            return None
        return session.staff

    def close(self, cookie: str | None) -> None:
        if cookie:
            self._sessions.pop(cookie.partition(".")[0], None)

    def locked_out(self, username: str) -> bool:
        now = self.clock()
        recent = [t for t in self._failures.get(username, []) if now - t < LOCKOUT_SECONDS]
        self._failures[username] = recent
        return len(recent) >= MAX_FAILURES

    def failed(self, username: str) -> None:
        # Bounded: a flood of invented usernames must not grow this map without end.
        if len(self._failures) > 10_000:
            self._failures.clear()
        self._failures.setdefault(username, []).append(self.clock())

    def succeeded(self, username: str) -> None:
        self._failures.pop(username, None)
