"""Presence follows the console: an agent whose console closed is set away and offered nothing.

A real console app (aiohttp on loopback, a real SQLite store) and real WebSocket clients. The
attendance beat is called by the test (`ConsoleAttendance.beat`, what the app runs every few
seconds) with a short grace, so that no test waits on the app's own timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from clinicline.web.console.attendance import ConsoleAttendance
from integrations.services.agents import list_agents, presence_of, set_presence
from integrations.store import Database
from routing.selection import pick_agent
from tests.console.conftest import OPEN_NOW, Server

GRACE = 0.6


@pytest.fixture
def attendance(server: Server) -> ConsoleAttendance:
    return ConsoleAttendance(server.db, server.hub, grace=GRACE)


async def _console(
    server: Server, username: str
) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    """An agent's console page: signed in, socket open, presence set to available."""
    http = aiohttp.ClientSession(
        base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True),
        headers={"Origin": server.url},
    )  # fmt: skip
    login = {"username": username, "password": f"{username}-demo"}
    async with http.post("/console/login", json=login) as r:
        assert r.status == 200
    ws = await http.ws_connect("/console/ws")
    assert (await ws.receive_json())["type"] == "hello"
    async with http.post("/console/presence", json={"presence": "available"}) as r:
        assert r.status == 200
    return http, ws


async def _presence(server: Server) -> dict[str, str]:
    async with server.db.session() as s:
        return {a.username: a.presence for a in await list_agents(s)}


@pytest.fixture
async def consoles() -> AsyncIterator[list[aiohttp.ClientSession]]:
    opened: list[aiohttp.ClientSession] = []
    yield opened
    for http in opened:
        await http.close()


async def test_a_closed_console_sets_the_agent_away_and_routing_skips_her(
    server: Server, attendance: ConsoleAttendance, consoles: list[aiohttp.ClientSession]
) -> None:
    http, ws = await _console(server, "nurse2")
    consoles.append(http)
    assert await attendance.beat() == []
    await ws.close()  # she closed the tab
    await asyncio.sleep(GRACE + 0.2)
    assert await attendance.beat() == [server.agent_ids["nurse2"]]
    assert (await _presence(server))["nurse2"] == "away"
    async with server.db.session() as s:
        assert (await presence_of(s, server.agent_ids["nurse2"])).reason == "console_closed"
    async with server.db.session() as s:
        picked = await pick_agent(s, "nurse", exclude=set(), now=OPEN_NOW)
    assert picked is None or picked.username != "nurse2"


async def test_an_open_console_keeps_her_available_past_the_grace(
    server: Server, attendance: ConsoleAttendance, consoles: list[aiohttp.ClientSession]
) -> None:
    http, _ws = await _console(server, "nurse2")
    consoles.append(http)
    for _ in range(3):
        await asyncio.sleep(GRACE / 2)
        assert await attendance.beat() == []
    assert (await _presence(server))["nurse2"] == "available"


async def test_a_console_reopened_within_the_grace_keeps_her_presence(
    server: Server, attendance: ConsoleAttendance, consoles: list[aiohttp.ClientSession]
) -> None:
    http, ws = await _console(server, "nurse2")
    consoles.append(http)
    await ws.close()  # a reload: the page's socket closes and opens again
    reopened = await http.ws_connect("/console/ws")
    assert (await reopened.receive_json())["type"] == "hello"
    await asyncio.sleep(GRACE + 0.2)
    assert await attendance.beat() == []
    assert (await _presence(server))["nurse2"] == "available"


async def test_an_agent_who_never_opened_a_console_is_left_as_set(
    server: Server, attendance: ConsoleAttendance
) -> None:
    # A phone-only line a supervisor set available: no console to follow.
    async with server.db.session() as s:
        await set_presence(s, server.agent_ids["nurse2"], "available")
    await asyncio.sleep(GRACE + 0.2)
    assert await attendance.beat() == []
    assert (await _presence(server))["nurse2"] == "available"


async def test_a_store_that_is_down_is_logged_once_not_at_every_beat(
    server: Server, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The outage test's log had a traceback per beat (3,200 lines): one, then a line every
    `QUIET_EVERY` failed beats, and a line when the beats work again."""
    gone = await Database.connect(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/clinic.db")
    attendance = ConsoleAttendance(gone, server.hub, grace=GRACE, beat_seconds=0.005)
    caplog.set_level(logging.INFO, logger="clinicline.web.console.attendance")
    await attendance.start()
    try:
        for _ in range(400):  # until well past QUIET_EVERY failed beats
            await asyncio.sleep(0.01)
            if sum("still failing" in r.message for r in caplog.records) >= 2:
                break
        attendance.db = server.db  # the store is back
        for _ in range(200):
            await asyncio.sleep(0.01)
            if any("beats again" in r.message for r in caplog.records):
                break
    finally:
        await attendance.stop()
        await gone.dispose()
    failed = [r for r in caplog.records if r.message == "console attendance beat failed"]
    assert len(failed) == 1 and failed[0].exc_info is not None
    still = [r for r in caplog.records if "still failing" in r.message]
    assert len(still) >= 2 and all(r.exc_info is None for r in still)
    assert any("beats again" in r.message for r in caplog.records)
