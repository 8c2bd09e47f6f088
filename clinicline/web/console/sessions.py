"""Console sign-in sessions: server-side records behind an HMAC-signed, HttpOnly cookie.

The cookie holds only a random session id and its signature; who the agent is stays on the
server, so logging out (or a restart) ends the session for good. A session also ends after
`idle_seconds` without a request, and one opened with a password the agent did not choose is
good for nothing but choosing their own. Failed sign-ins are throttled in the store
(`integrations.services.throttle`), where every app process sees them.
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
IDLE_SECONDS = 30 * 60


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
    last_seen: float
    must_change_password: bool = False

    def ended(self, now: float, idle_seconds: float) -> bool:
        return now >= self.expires or now - self.last_seen >= idle_seconds


@dataclass(frozen=True)
class SignedIn:
    staff: Staff
    must_change_password: bool


@dataclass
class SessionStore:
    secret: bytes
    clock: Callable[[], float] = time.monotonic
    idle_seconds: float = IDLE_SECONDS
    _sessions: dict[str, _Session] = field(default_factory=dict)

    def _sign(self, sid: str) -> str:
        return hmac.new(self.secret, sid.encode(), hashlib.sha256).hexdigest()

    def open(self, staff: Staff, *, must_change_password: bool = False) -> str:
        """Start a session; returns the cookie value."""
        sid = secrets.token_urlsafe(24)
        now = self.clock()
        self._sessions[sid] = _Session(staff, now + SESSION_SECONDS, now, must_change_password)
        self._drop_expired(now)
        return f"{sid}.{self._sign(sid)}"

    def session_for(self, cookie: str | None) -> SignedIn | None:
        """The session behind a cookie, counting this request as activity."""
        if not cookie or len(cookie) > 200:
            return None
        sid, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(sid).encode()):
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = self.clock()
        if session.ended(now, self.idle_seconds):
            del self._sessions[sid]
            return None
        session.last_seen = now
        return SignedIn(session.staff, session.must_change_password)

    def alive(self, cookie: str | None) -> bool:
        """Whether the session still stands, without counting this as activity (the live
        feed asks this; an open socket is not a person at the desk)."""
        session = self._sessions.get((cookie or "").partition(".")[0])
        return session is not None and not session.ended(self.clock(), self.idle_seconds)

    def staff_for(self, cookie: str | None) -> Staff | None:
        signed = self.session_for(cookie)
        return None if signed is None or signed.must_change_password else signed.staff

    def password_changed(self, cookie: str | None) -> None:
        session = self._sessions.get((cookie or "").partition(".")[0])
        if session is not None:
            session.must_change_password = False

    def _drop_expired(self, now: float) -> None:
        gone = [sid for sid, x in self._sessions.items() if x.ended(now, self.idle_seconds)]
        for sid in gone:
            del self._sessions[sid]

    def close(self, cookie: str | None) -> None:
        if cookie:
            self._sessions.pop(cookie.partition(".")[0], None)
