"""Staff tasks: created by calls, claimed by exactly one agent, closed with a note."""

from __future__ import annotations

import asyncio

import pytest

from integrations.errors import InvalidField
from integrations.passwords import hash_password
from integrations.services import tasks
from integrations.store import Database
from integrations.store.models import Agent


async def _agent(db: Database, username: str) -> int:
    async with db.session() as s:
        a = Agent(name=username, username=username, password_hash=hash_password("x"))
        s.add(a)
        await s.commit()
        return a.id


async def test_a_task_waits_in_its_queue_until_done(db: Database) -> None:
    async with db.session() as s:
        tid = await tasks.create_task(
            s,
            kind="prior_auth",
            queue="nurse",
            patient_id=None,
            call_id="c1",
            note="MRI prior auth",
        )
        assert [t.task_id for t in await tasks.open_tasks(s, "nurse")] == [tid]
        assert await tasks.open_tasks(s, "billing") == []
        await tasks.complete_task(s, tid, note="faxed to insurer")
        assert await tasks.open_tasks(s) == []


async def test_two_agents_claiming_one_task_only_one_wins(db: Database) -> None:
    a, b = await _agent(db, "a1"), await _agent(db, "b1")
    async with db.session() as s:
        tid = await tasks.create_task(
            s, kind="callback", queue="front_desk", patient_id=None, call_id=None, note=""
        )

    async def claim(agent_id: int) -> bool:
        async with db.session() as s:
            return await tasks.claim_task(s, tid, agent_id)

    assert sorted(await asyncio.gather(claim(a), claim(b))) == [False, True]


async def test_an_unknown_task_kind_is_refused(db: Database) -> None:
    async with db.session() as s:
        with pytest.raises(InvalidField, match="task kind"):
            await tasks.create_task(
                s, kind="gossip", queue="front_desk", patient_id=None, call_id=None, note=""
            )
