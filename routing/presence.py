"""In-process presence registry: who is idle since when, and which agent is reserved for a call.

The store's `agents.presence` column is the persisted state; this registry adds what routing
needs at call speed and the store does not hold: the end of each agent's last call (for
longest-idle-first) and reservations, so two transfers racing for one agent cannot both win.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive instant is taken as UTC, as the store's UTCDateTime columns do.

    Idle times come from the console (aware) and from SIP callbacks (either), and Python
    refuses to compare the two kinds.
    """
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Reservation:
    agent_id: int
    call_id: str
    at: datetime | None


class Presence:
    """Idle tracking and agent reservations; every method is atomic (a lock guards the maps).

    The lock matters because pjsua2 callbacks may report call ends from another thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle_since: dict[int, datetime] = {}
        self._reserved: dict[int, Reservation] = {}

    def idle_since(self, agent_id: int) -> datetime | None:
        """When the agent last finished a call or became available; None = never seen."""
        with self._lock:
            return self._idle_since.get(agent_id)

    def became_available(self, agent_id: int, at: datetime) -> None:
        """The agent signed in or finished wrap-up; keeps an earlier idle start if known."""
        with self._lock:
            self._idle_since.setdefault(agent_id, as_utc(at))

    def call_ended(self, agent_id: int, at: datetime) -> None:
        """The agent's call ended: the idle clock restarts now and any reservation is freed."""
        with self._lock:
            self._idle_since[agent_id] = as_utc(at)
            self._reserved.pop(agent_id, None)

    def signed_out(self, agent_id: int) -> None:
        with self._lock:
            self._idle_since.pop(agent_id, None)
            self._reserved.pop(agent_id, None)

    def reserve(self, agent_id: int, call_id: str, at: datetime | None = None) -> bool:
        """Hold the agent for `call_id`; False when another call holds them already."""
        with self._lock:
            held = self._reserved.get(agent_id)
            if held is not None and held.call_id != call_id:
                return False
            self._reserved[agent_id] = Reservation(agent_id, call_id, at)
            return True

    def release(self, agent_id: int, call_id: str) -> None:
        """Free the agent if (and only if) `call_id` holds them."""
        with self._lock:
            held = self._reserved.get(agent_id)
            if held is not None and held.call_id == call_id:
                del self._reserved[agent_id]

    def reserved_for(self, agent_id: int) -> str | None:
        with self._lock:
            held = self._reserved.get(agent_id)
            return None if held is None else held.call_id
