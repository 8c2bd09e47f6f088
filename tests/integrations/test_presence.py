"""Reservations, idle times and the hold line in the shared store: what two processes see."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from integrations.services import hold_line, presence
from integrations.services.agents import add_agent, list_agents, set_presence
from integrations.store import Database
from tests.integrations.conftest import same_store

T0 = datetime(2031, 3, 3, 9, tzinfo=UTC)
LEASE = timedelta(seconds=120)


async def a_nurse(db: Database, username: str = "nurse9") -> int:
    async with db.session() as s:
        agent = await add_agent(
            s, username=username, name="Nurse Nine", role="nurse", password_hash="x",
            skills=("nurse",), sip_uri="sip:nurse9@127.0.0.1:5079",
        )  # fmt: skip
    return agent.agent_id


async def reserve(db: Database, agent_id: int, call_id: str, at: datetime = T0) -> bool:
    async with db.session() as s:
        return await presence.reserve(s, agent_id, call_id, now=at, lease=LEASE)


async def test_two_processes_racing_for_one_nurse_never_both_win(
    db: Database, data_key: bytes
) -> None:
    nurse = await a_nurse(db)
    async with same_store(db, data_key) as other:
        tries = [reserve(db if i % 2 else other, nurse, f"call-{i}") for i in range(16)]
        won = await asyncio.gather(*tries)
        assert sum(won) == 1
        winner = f"call-{won.index(True)}"
        async with other.session() as s:
            assert await presence.reserved_for(s, nurse, now=T0) == winner


async def test_a_hold_is_the_callers_own_until_released_by_that_call(db: Database) -> None:
    nurse = await a_nurse(db)
    assert await reserve(db, nurse, "call-a")
    assert await reserve(db, nurse, "call-a", T0 + timedelta(seconds=5))  # renewal
    assert not await reserve(db, nurse, "call-b")
    async with db.session() as s:
        await presence.release(s, nurse, "call-b")  # another call cannot free it
        assert await presence.reserved_for(s, nurse, now=T0) == "call-a"
        await presence.release(s, nurse, "call-a")
    assert await reserve(db, nurse, "call-b")


async def test_a_hold_left_by_a_dead_process_lapses_after_its_lease(db: Database) -> None:
    nurse = await a_nurse(db)
    assert await reserve(db, nurse, "call-of-a-dead-worker")
    assert not await reserve(db, nurse, "call-b", T0 + LEASE - timedelta(seconds=1))
    async with db.session() as s:
        assert await presence.reserved_agents(s, now=T0 + LEASE) == set()
    assert await reserve(db, nurse, "call-b", T0 + LEASE)


async def test_idle_times_and_their_ends_are_shared(db: Database, data_key: bytes) -> None:
    nurse = await a_nurse(db)
    async with db.session() as s:
        await presence.became_available(s, nurse, T0)
        await presence.became_available(s, nurse, T0 + timedelta(minutes=5))  # keeps the first
    async with same_store(db, data_key) as other:
        async with other.session() as s:
            assert await presence.idle_since(s, [nurse]) == {nurse: T0}
        assert await reserve(other, nurse, "call-a")
        async with other.session() as s:
            await presence.call_ended(s, nurse, T0 + timedelta(minutes=9))
    async with db.session() as s:
        assert await presence.idle_since(s, [nurse]) == {nurse: T0 + timedelta(minutes=9)}
        assert await presence.reserved_for(s, nurse, now=T0) is None
        await presence.signed_out(s, nurse)
        assert await presence.idle_since(s, [nurse]) == {}


async def test_the_hold_line_is_one_line_across_workers(db: Database, data_key: bytes) -> None:
    async with db.session() as s:
        await hold_line.join(s, "call-a", "billing", now=T0)
    async with same_store(db, data_key) as other, other.session() as s:
        await hold_line.join(s, "call-b", "billing", now=T0 + timedelta(seconds=5))
        await hold_line.join(s, "call-n", "nurse", now=T0 + timedelta(seconds=9))
        assert await hold_line.place(s, "call-b", now=T0 + timedelta(seconds=10)) == 2
        assert await hold_line.place(s, "call-n", now=T0 + timedelta(seconds=10)) == 1
    async with db.session() as s:
        # Coming back to the line keeps the place first taken.
        await hold_line.join(s, "call-a", "billing", now=T0 + timedelta(seconds=30))
        assert await hold_line.place(s, "call-a", now=T0 + timedelta(seconds=30)) == 1
        await hold_line.leave(s, "call-a")
        assert await hold_line.place(s, "call-b", now=T0 + timedelta(seconds=31)) == 1
        assert await hold_line.place(s, "call-a", now=T0 + timedelta(seconds=31)) is None


async def test_a_caller_whose_worker_died_keeps_no_place(db: Database) -> None:
    async with db.session() as s:
        await hold_line.join(s, "call-of-a-dead-worker", "billing", now=T0)
        await hold_line.join(s, "call-b", "billing", now=T0 + timedelta(seconds=1))
        # call-b's worker keeps asking; the dead worker's caller is never refreshed.
        later = T0 + hold_line.STALE + timedelta(seconds=2)
        assert await hold_line.place(s, "call-b", now=T0 + timedelta(seconds=6)) == 2
        assert await hold_line.place(s, "call-b", now=later) == 1


async def test_a_console_another_process_still_sees_is_not_lapsed(
    db: Database, data_key: bytes
) -> None:
    """Attendance across processes: one process holds her console socket and beats; another
    process's sweep must not set her away, and sets her away once no one has seen it."""
    nurse = await a_nurse(db)
    grace = timedelta(seconds=30)
    async with db.session() as s:
        await set_presence(s, nurse, "available")
        await presence.became_available(s, nurse, T0)
        await presence.console_seen(s, [nurse], T0)
    assert await reserve(db, nurse, "call-offered")
    async with same_store(db, data_key) as other:
        async with db.session() as s:  # the process holding her socket beats
            await presence.console_seen(s, [nurse], T0 + timedelta(seconds=25))
        async with other.session() as s:
            assert (
                await presence.lapse_absent_consoles(
                    s, now=T0 + grace + timedelta(seconds=5), grace=grace
                )
                == []
            )
            lapsed = await presence.lapse_absent_consoles(
                s, now=T0 + timedelta(seconds=56), grace=grace
            )
        assert lapsed == [nurse]
    async with db.session() as s:
        assert {a.agent_id: a.presence for a in await list_agents(s)}[nurse] == "away"
        assert await presence.idle_since(s, [nurse]) == {}
        assert await presence.reserved_for(s, nurse, now=T0) is None
