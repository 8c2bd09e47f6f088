"""Sign-in throttling kept in the store, so that every app process sees the same counts.

Each attempt is charged *before* the password is checked, in one conditional UPDATE per key:
the counter goes up only while the key is not blocked, and the back-off it earns is written in
the same statement. Two hundred guesses arriving at once are serialised by the database: the
first few are checked, the rest find the key blocked and are refused without a hash.

Three keys share the work (`Policy` below):
- the address: spraying many usernames from one place;
- the address and username: guessing one account from one place;
- the username from anywhere: guessing one account from many places, with a short cap so
  that the real nurse, signing in from her own desk, is slowed but never locked out.
After `free` failures a key waits `base` seconds, then twice as long after each further
failure, up to `cap`; a key's failures are forgotten `forget` after its last one. A success
clears the username's keys. Nothing is ever wiped wholesale: only keys idle past `forget` are
pruned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Insert, case, delete, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.database import insert_for
from integrations.store.models import SignInThrottle
from integrations.store.types import UTCDateTime


@dataclass(frozen=True)
class Policy:
    free: int  # failures allowed before any wait
    base: float  # seconds of the first wait
    cap: float  # longest wait
    forget: timedelta = timedelta(hours=1)

    def waits(self) -> list[float]:
        """The doubling waits up to the cap, as a table the SQL can index."""
        out, wait = [], self.base
        while wait < self.cap:
            out.append(wait)
            wait *= 2
        return [*out, self.cap]


ADDRESS = Policy(free=20, base=1.0, cap=900.0)
ADDRESS_AND_USER = Policy(free=5, base=1.0, cap=300.0)
USER = Policy(free=30, base=1.0, cap=60.0)


@dataclass(frozen=True)
class Refusal:
    retry_after: float  # seconds until the blocking key opens again


def keys_for(address: str, username: str) -> list[tuple[str, Policy]]:
    """The keys one attempt is charged to, broadest first. Usernames are folded (a case
    variant is the same account to a guesser) and hashed (no raw usernames in the table)."""
    user = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
    return [
        (f"addr:{address}", ADDRESS),
        (f"pair:{address}|{user}", ADDRESS_AND_USER),
        (f"user:{user}", USER),
    ]


def _insert_new(dialect: str, key: str, now: datetime) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING: the key's row exists afterwards, whoever made it."""
    row = {"key": key, "failures": 0, "blocked_until": None, "last_failure": now}
    insert = insert_for(dialect)(SignInThrottle).values(row)
    statement: Insert = insert.on_conflict_do_nothing(index_elements=["key"])
    return statement


def _charged_failures(policy: Policy, now: datetime) -> ColumnElement[int]:
    stale = SignInThrottle.last_failure < now - policy.forget
    return case((stale, 1), else_=SignInThrottle.failures + 1)


def _blocked_until(
    policy: Policy, failures: ColumnElement[int], now: datetime
) -> ColumnElement[datetime | None]:
    def at(seconds: float) -> ColumnElement[datetime]:
        return literal(now + timedelta(seconds=seconds), UTCDateTime())

    # The attempt that uses up the last free failure already earns the first wait.
    waits = policy.waits()
    steps = [(failures == policy.free + i, at(w)) for i, w in enumerate(waits)]
    return case((failures < policy.free, literal(None, UTCDateTime())), *steps,
                else_=at(waits[-1]))


async def charge(s: AsyncSession, keys: list[tuple[str, Policy]], now: datetime) -> Refusal | None:
    """Count this attempt against every key, broadest first; a Refusal when one is blocked
    (the keys after it are not charged: a refused attempt costs the guesser, not the user).

    One transaction for all the keys (one commit, not three, on the store the calls also
    write to); every attempt takes the keys in the same order, so PostgreSQL's row locks
    cannot deadlock."""
    dialect = s.get_bind().dialect.name
    async with atomic(s):
        for key, policy in keys:
            await s.execute(_insert_new(dialect, key, now))
            failures = _charged_failures(policy, now)
            result = await s.execute(
                update(SignInThrottle)
                .where(
                    SignInThrottle.key == key,
                    or_(SignInThrottle.blocked_until.is_(None),
                        SignInThrottle.blocked_until <= now),
                )
                .values(failures=failures, blocked_until=_blocked_until(policy, failures, now),
                        last_failure=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                until = await s.scalar(
                    select(SignInThrottle.blocked_until).where(SignInThrottle.key == key)
                )
                wait = (until - now).total_seconds() if until is not None else 1.0
                return Refusal(retry_after=max(1.0, wait))
    return None


async def forgive(s: AsyncSession, keys: list[tuple[str, Policy]]) -> None:
    """A successful sign-in: the account's keys start afresh (the address keeps its count)."""
    names = [key for key, policy in keys if policy is not ADDRESS]
    async with atomic(s):
        await s.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(names)))


async def prune(s: AsyncSession, now: datetime) -> int:
    """Drop keys idle for longer than any policy remembers and no longer blocked."""
    horizon = max(p.forget for p in (ADDRESS, ADDRESS_AND_USER, USER))
    async with atomic(s):
        result = await s.execute(
            delete(SignInThrottle).where(
                SignInThrottle.last_failure < now - horizon,
                or_(SignInThrottle.blocked_until.is_(None), SignInThrottle.blocked_until < now),
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
