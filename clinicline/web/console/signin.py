"""Checking a console sign-in or a password change: throttle first, hash off the loop, decide.

Every attempt is charged to the store's throttle before its password is looked at (see
`integrations.services.throttle`); the hash is compared in `PasswordWorkers`' threads, never
on the event loop that also carries the calls; an unknown username costs the same hash as a
known one. A successful sign-in clears the account's throttle, upgrades an old hash, and
reports whether the agent must first choose a password of their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from integrations.passwords import HashingBusy, PasswordWorkers, needs_rehash
from integrations.services.agents import AgentInfo, set_password_hash, sign_in_record
from integrations.services.store_mode import store_mode
from integrations.services.throttle import charge, forgive, keys_for, prune
from integrations.store import Database
from integrations.store.types import utcnow

MIN_PASSWORD = 12
MAX_PASSWORD = 256
PRUNE_EVERY = 60.0  # seconds between sweeps of idle throttle keys, per process


@dataclass(frozen=True)
class Outcome:
    """`agent` when the password was right; otherwise the HTTP status and why."""

    agent: AgentInfo | None = None
    must_change_password: bool = False
    status: int = 200
    message: str = ""
    retry_after: float | None = None


WRONG = Outcome(status=401, message="wrong username or password")


class SignIn:
    def __init__(
        self, db: Database, passwords: PasswordWorkers, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.clock = clock
        self._pruned = 0.0

    async def check(self, address: str, username: str, password: str) -> Outcome:
        keys = keys_for(address, username)
        now = self.clock()
        async with self.db.session() as s:
            refused = await charge(s, keys, now)
            if refused is not None:
                return Outcome(status=429, message="too many failed sign-ins; try again later",
                               retry_after=refused.retry_after)
            record = await sign_in_record(s, username)
        try:
            ok = await self.passwords.verify(password, record.password_hash if record else None)
        except HashingBusy:
            return Outcome(status=503, message="busy; try again in a moment", retry_after=1.0)
        await self._prune(now)
        if not ok or record is None:
            return WRONG
        async with self.db.session() as s:
            if password == f"{username}-demo" and await store_mode(s) != "demo":
                return Outcome(status=403, message="demo passwords do not work in a clinic's "
                               "store; ask an administrator to reset yours")
            await forgive(s, keys)
        if needs_rehash(record.password_hash):
            fresh = await self.passwords.hash(password)
            async with self.db.session() as s:
                await set_password_hash(s, record.agent.agent_id, fresh,
                                        must_change=record.must_change_password)
        return Outcome(agent=record.agent, must_change_password=record.must_change_password)

    async def change_password(self, address: str, username: str, current: str, new: str) -> Outcome:
        """The agent's own new password, after proving the current one (throttled alike)."""
        problem = weak_password(username, current, new)
        if problem:
            return Outcome(status=400, message=problem)
        checked = await self.check(address, username, current)
        if checked.agent is None:
            return checked
        try:
            fresh = await self.passwords.hash(new)
        except HashingBusy:
            return Outcome(status=503, message="busy; try again in a moment", retry_after=1.0)
        async with self.db.session() as s:
            await set_password_hash(s, checked.agent.agent_id, fresh, must_change=False)
        return Outcome(agent=checked.agent)

    async def _prune(self, now: datetime) -> None:
        if time.monotonic() - self._pruned < PRUNE_EVERY:
            return
        self._pruned = time.monotonic()
        async with self.db.session() as s:
            await prune(s, now)


def weak_password(username: str, current: str, new: str) -> str | None:
    """Why `new` will not do, or None (length and the obvious; NIST SP 800-63B's advice)."""
    if not MIN_PASSWORD <= len(new) <= MAX_PASSWORD:
        return f"choose a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters"
    if new == current:
        return "choose a password different from the current one"
    if username.casefold() in new.casefold() or new.endswith("-demo"):
        return "choose a password that does not contain your username"
    return None
