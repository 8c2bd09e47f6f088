"""Sign-in throttling in the store, on SQLite and PostgreSQL: atomic, backing off, never wiped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from integrations.services.throttle import (
    ADDRESS,
    ADDRESS_AND_USER,
    USER,
    Policy,
    charge,
    forgive,
    keys_for,
    prune,
)
from integrations.store import Database
from integrations.store.models import SignInThrottle

T0 = datetime(2031, 3, 3, 9, tzinfo=UTC)
ONE_KEY = [("pair:test", ADDRESS_AND_USER)]


async def attempt(db: Database, keys: list, at: datetime) -> float | None:
    """None when the attempt may go on to the password check, else the wait."""
    async with db.session() as s:
        refused = await charge(s, keys, at)
    return None if refused is None else refused.retry_after


async def test_waits_double_after_the_free_failures_up_to_the_cap(db: Database) -> None:
    for _ in range(ADDRESS_AND_USER.free):
        assert await attempt(db, ONE_KEY, T0) is None
    assert await attempt(db, ONE_KEY, T0) == 1.0
    waits, at = [], T0
    for _ in range(12):
        wait = await attempt(db, ONE_KEY, at)
        if wait is not None:
            at += timedelta(seconds=wait)
            assert await attempt(db, ONE_KEY, at) is None
        waits.append(wait)
    charged = [w for w in waits if w is not None]
    assert charged[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(charged) == ADDRESS_AND_USER.cap


async def test_two_hundred_guesses_at_once_get_only_the_free_checks(db: Database) -> None:
    # The attack that worked before: every one of 200 concurrent guesses was checked.
    results = await asyncio.gather(*(attempt(db, ONE_KEY, T0) for _ in range(200)))
    assert sum(r is None for r in results) == ADDRESS_AND_USER.free


async def test_old_failures_are_forgotten(db: Database) -> None:
    for _ in range(ADDRESS_AND_USER.free):
        await attempt(db, ONE_KEY, T0)
    assert await attempt(db, ONE_KEY, T0) is not None
    later = T0 + ADDRESS_AND_USER.forget + timedelta(seconds=1)
    for _ in range(ADDRESS_AND_USER.free):
        assert await attempt(db, ONE_KEY, later) is None


async def test_a_success_clears_the_account_but_not_the_address(db: Database) -> None:
    keys = keys_for("10.0.0.5", "nurse1")
    for _ in range(ADDRESS_AND_USER.free):
        await attempt(db, keys, T0)
    assert await attempt(db, keys, T0) is not None
    async with db.session() as s:
        await forgive(s, keys)
        remaining = await s.scalar(select(SignInThrottle.failures).where(
            SignInThrottle.key == "addr:10.0.0.5"))
    assert await attempt(db, keys, T0) is None
    assert remaining == ADDRESS_AND_USER.free + 1  # the refused guess still cost the address


async def test_a_refused_attempt_charges_nothing_further(db: Database) -> None:
    keys = keys_for("10.0.0.6", "nurse1")
    for _ in range(ADDRESS_AND_USER.free + 20):
        await attempt(db, keys, T0)
    async with db.session() as s:
        rows = dict((await s.execute(select(SignInThrottle.key, SignInThrottle.failures))).all())
    user_key = keys[2][0]
    assert rows[user_key] == ADDRESS_AND_USER.free  # the 20 refused guesses cost the user nothing


async def test_ten_thousand_invented_usernames_wipe_nothing(db: Database) -> None:
    # Before: past 10,000 entries the in-memory failure map was cleared, lockouts and all.
    nurse = keys_for("10.0.0.7", "nurse1")
    for _ in range(ADDRESS_AND_USER.free):
        await attempt(db, nurse, T0)
    assert await attempt(db, nurse, T0) is not None
    flood = [{"key": f"user:invented-{i}", "failures": 1, "blocked_until": None,
              "last_failure": T0} for i in range(10_002)]
    async with db.session() as s:
        await s.execute(insert(SignInThrottle), flood)
        await s.commit()
        assert await prune(s, T0 + timedelta(minutes=5)) == 0
    assert await attempt(db, nurse, T0 + timedelta(milliseconds=500)) is not None
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(SignInThrottle)) > 10_002


async def test_prune_drops_only_keys_idle_past_every_policy(db: Database) -> None:
    await attempt(db, [("addr:old", ADDRESS)], T0)
    await attempt(db, [("addr:new", ADDRESS)], T0 + timedelta(hours=2))
    async with db.session() as s:
        dropped = await prune(s, T0 + timedelta(hours=2))
        left = set(await s.scalars(select(SignInThrottle.key)))
    assert dropped == 1 and left == {"addr:new"}


def test_the_user_wide_wait_is_short_and_the_waits_are_capped() -> None:
    assert USER.cap <= 60 < ADDRESS_AND_USER.cap
    assert Policy(free=1, base=1.0, cap=5.0).waits() == [1.0, 2.0, 4.0, 5.0]
