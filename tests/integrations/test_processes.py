"""The site's process list in the shared store: each process's own beat, the supervisor's
word about a dead one, and silence noticed (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations.services import processes
from integrations.store import Database
from tests.integrations.conftest import same_store

T0 = datetime(2031, 3, 3, 9, tzinfo=UTC)


async def test_every_process_sees_the_others_as_they_last_reported(
    db: Database, data_key: bytes
) -> None:
    async with same_store(db, data_key) as other:
        async with db.session() as s:
            await processes.beat(s, "host/127.0.0.1:5061", "worker", "ready", now=T0,
                                 started_at=T0, active_calls=2)
        async with other.session() as s:
            await processes.beat(s, "host/front 127.0.0.1:5060", "front", "up", now=T0,
                                 started_at=T0, detail="Kamailio")
            await processes.beat(s, "host/127.0.0.1:5062", "worker", "ready", now=T0,
                                 started_at=T0)
            # The same process beats again: one row, its latest word.
            await processes.beat(s, "host/127.0.0.1:5062", "worker", "degraded",
                                 now=T0 + timedelta(seconds=5), started_at=T0, active_calls=3)
        async with db.session() as s:
            seen = await processes.site(s, now=T0 + timedelta(seconds=6))
    assert [(p.role, p.name, p.state, p.active_calls) for p in seen] == [
        ("front", "host/front 127.0.0.1:5060", "up", 0),
        ("worker", "host/127.0.0.1:5061", "ready", 2),
        ("worker", "host/127.0.0.1:5062", "degraded", 3),
    ]
    assert seen[0].to_json()["detail"] == "Kamailio"


async def test_a_dead_worker_is_marked_then_silent_then_back(db: Database) -> None:
    name = "host/127.0.0.1:5061"
    async with db.session() as s:
        await processes.beat(s, name, "worker", "ready", now=T0, started_at=T0, active_calls=1)
        await processes.mark(s, name, "restarting", "exited with -9; restart 1",
                             now=T0 + timedelta(seconds=1))
        marked = await processes.site(s, now=T0 + timedelta(seconds=2))
        silent = await processes.site(s, now=T0 + timedelta(seconds=30))
        await processes.beat(s, name, "worker", "ready", now=T0 + timedelta(seconds=31),
                             started_at=T0 + timedelta(seconds=25))
        back = await processes.site(s, now=T0 + timedelta(seconds=32))
        await processes.mark(s, "host/never-beat", "restarting", "", now=T0)  # no row: no-op
        later = await processes.site(s, now=T0 + timedelta(days=2))
    assert (marked[0].state, marked[0].detail) == ("restarting", "exited with -9; restart 1")
    assert silent[0].state == "silent" and silent[0].seconds_since_seen == 29.0
    assert back[0].state == "ready" and len(back) == 1
    assert later == []  # a process gone for a day is no longer listed


async def test_a_front_sends_callers_to_the_workers_that_announce_themselves_and_beat(
    db: Database,
) -> None:
    """What a front on another machine reads: workers with a SIP address, still beating, not
    being restarted; never a worker that announced none, nor the front itself."""
    async with db.session() as s:
        for name, address in [("b/127.0.0.3:5060", "127.0.0.3:5060"),
                              ("a/127.0.0.2:5060", "127.0.0.2:5060"),
                              ("a/127.0.0.2:5061", "127.0.0.2:5061"),
                              ("c/127.0.0.4:5060", "127.0.0.4:5060"),
                              ("lone/127.0.0.1:5060", None)]:  # fmt: skip
            await processes.beat(s, name, "worker", "ready", now=T0, started_at=T0,
                                 sip_address=address)
        await processes.beat(s, "f/front 127.0.0.1:5060", "front", "up", now=T0, started_at=T0)
        await processes.mark(s, "a/127.0.0.2:5061", "restarting", "exited with -9",
                             now=T0 + timedelta(seconds=1))
        # c stopped beating: silent after three missed beats.
        for name, address in [("b/127.0.0.3:5060", "127.0.0.3:5060"),
                              ("a/127.0.0.2:5060", "127.0.0.2:5060")]:  # fmt: skip
            await processes.beat(s, name, "worker", "ready", now=T0 + timedelta(seconds=14),
                                 started_at=T0, sip_address=address)
        announced = await processes.announced_workers(s, now=T0 + timedelta(seconds=20))
        seen = await processes.site(s, now=T0 + timedelta(seconds=20))
    assert announced == ["127.0.0.2:5060", "127.0.0.3:5060"]
    assert {p.name: p.sip_address for p in seen}["b/127.0.0.3:5060"] == "127.0.0.3:5060"
