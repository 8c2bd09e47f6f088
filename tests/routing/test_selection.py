"""Agent selection: skills, presence, longest idle first, and reservations under races."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from integrations.services.agents import list_agents, set_presence
from integrations.store import Database
from routing.presence import Presence
from routing.selection import pick_agent
from tests.routing.conftest import OPEN_NOW


async def agent_ids(db: Database) -> dict[str, int]:
    async with db.session() as s:
        return {a.username: a.agent_id for a in await list_agents(s)}


async def make_available(db: Database, *usernames: str) -> dict[str, int]:
    ids = await agent_ids(db)
    async with db.session() as s:
        for name in usernames:
            await set_presence(s, ids[name], "available")
    return ids


async def test_nobody_available_means_no_agent(clinic_db: Database) -> None:
    async with clinic_db.session() as s:
        agent = await pick_agent(s, "nurse", exclude=set(), now=OPEN_NOW)
    assert agent is None


async def test_only_agents_with_the_queue_skill_are_picked(clinic_db: Database) -> None:
    await make_available(clinic_db, "billing1", "nurse2")
    async with clinic_db.session() as s:
        agent = await pick_agent(s, "nurse", exclude=set(), now=OPEN_NOW)
    assert agent is not None and agent.username == "nurse2"


async def test_longest_idle_agent_is_picked_first(clinic_db: Database) -> None:
    ids = await make_available(clinic_db, "nurse1", "nurse2")
    presence = Presence(clinic_db)
    await presence.call_ended(ids["nurse1"], OPEN_NOW - timedelta(minutes=2))
    await presence.call_ended(ids["nurse2"], OPEN_NOW - timedelta(minutes=9))
    async with clinic_db.session() as s:
        agent = await pick_agent(s, "nurse", exclude=set(), now=OPEN_NOW)
    assert agent is not None and agent.username == "nurse2"
    # nurse2 just finished a call: now nurse1 has waited longest.
    await presence.call_ended(ids["nurse2"], OPEN_NOW)
    async with clinic_db.session() as s:
        agent = await pick_agent(s, "nurse", exclude=set(), now=OPEN_NOW)
    assert agent is not None and agent.username == "nurse1"


async def test_excluded_agents_are_skipped(clinic_db: Database) -> None:
    ids = await make_available(clinic_db, "nurse1", "nurse2")
    async with clinic_db.session() as s:
        agent = await pick_agent(
            s, "nurse", exclude={ids["nurse1"]}, now=OPEN_NOW
        )
    assert agent is not None and agent.username == "nurse2"


async def test_unknown_queue_yields_no_agent(clinic_db: Database) -> None:
    async with clinic_db.session() as s:
        agent = await pick_agent(s, "astrology", exclude=set(), now=OPEN_NOW)
    assert agent is None


async def test_a_reserved_agent_is_not_offered_to_another_call(clinic_db: Database) -> None:
    ids = await make_available(clinic_db, "nurse1", "nurse2")
    presence = Presence(clinic_db)
    assert await presence.reserve(ids["nurse1"], "call-a", OPEN_NOW)
    async with clinic_db.session() as s:
        free = await pick_agent(s, "nurse", exclude=set(), now=OPEN_NOW)
        taken = await pick_agent(s, "nurse", exclude=set(), now=OPEN_NOW, reserve_for="call-b")
    assert free is not None and free.username == "nurse2"
    assert taken is not None and taken.username == "nurse2"
    assert await presence.reserved_for(ids["nurse2"], OPEN_NOW) == "call-b"


async def test_racing_transfers_never_share_the_one_free_agent(clinic_db: Database) -> None:
    await make_available(clinic_db, "nurse2")

    async def one(call_id: str) -> int | None:
        async with clinic_db.session() as s:
            agent = await pick_agent(
                s, "nurse", exclude=set(), now=OPEN_NOW, reserve_for=call_id
            )
        return None if agent is None else agent.agent_id

    winners = await asyncio.gather(*(one(f"race-{i}") for i in range(8)))
    assert sum(w is not None for w in winners) == 1


async def test_racing_transfers_spread_over_two_free_agents(clinic_db: Database) -> None:
    await make_available(clinic_db, "nurse1", "nurse2")

    async def one(call_id: str) -> int | None:
        async with clinic_db.session() as s:
            agent = await pick_agent(
                s, "nurse", exclude=set(), now=OPEN_NOW, reserve_for=call_id
            )
        return None if agent is None else agent.agent_id

    winners = [w for w in await asyncio.gather(one("a"), one("b"), one("c")) if w is not None]
    assert len(winners) == 2 and len(set(winners)) == 2


async def test_a_colleague_asked_for_goes_first_when_she_is_free(clinic_db: Database) -> None:
    ids = await make_available(clinic_db, "nurse1", "nurse2")
    presence = Presence(clinic_db)
    await presence.call_ended(ids["nurse1"], OPEN_NOW - timedelta(minutes=1))
    await presence.call_ended(ids["nurse2"], OPEN_NOW - timedelta(minutes=9))  # idle longest
    async with clinic_db.session() as s:
        asked = await pick_agent(s, "nurse", exclude=set(), now=OPEN_NOW, prefer=ids["nurse1"])
        outside = await pick_agent(s, "nurse", exclude=set(), now=OPEN_NOW, prefer=ids["billing1"])
        await set_presence(s, ids["nurse1"], "away")
        away = await pick_agent(s, "nurse", exclude=set(), now=OPEN_NOW, prefer=ids["nurse1"])
    assert asked is not None and asked.username == "nurse1"
    assert outside is not None and outside.username == "nurse2"  # not in the queue: as usual
    assert away is not None and away.username == "nurse2"  # not free: the queue's best
