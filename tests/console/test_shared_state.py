"""Two app processes on one store: a sign-in, a context token and a sign-out made on one are
honoured by the other, and on PostgreSQL a screen-pop routed by one reaches a console open on
the other, because none of it lives in a single process's memory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from clinicline.harness import ROOT
from clinicline.web.console import WebSocketHub
from clinicline.web.console.bus import ConsoleBus
from integrations.seed.demo import seed_demo
from integrations.services import calls
from integrations.services.audit import audit_trail
from integrations.store.models import ConsoleMessage
from routing.cti import CtiPayload, TranscriptLine
from routing.hours import BusinessHours
from routing.hub import ScreenPop
from routing.transfer import TransferCoordinator, TransferPlan
from tests.console.conftest import Server, agent_ids, console_on_loopback
from tests.console.test_console_api import planned_call
from tests.console.test_console_browser import emergent_request, open_call
from tests.demo_store import DATA_KEY, MONDAY, OPEN_NOW
from tests.integrations.conftest import fresh_database


@asynccontextmanager
async def other_app_process(server: Server) -> AsyncIterator[str]:
    """The console in a process of its own over the same store; its base URL."""
    url = server.db.engine.url.render_as_string(hide_password=False)
    schema = [server.db.schema] if server.db.schema else []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.console.app_process", url, *schema,
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env={**os.environ, "CLINICLINE_DATA_KEY": DATA_KEY.decode()},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line.startswith("ready "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def browser_at(url: str, jar: aiohttp.CookieJar) -> aiohttp.ClientSession:
    # Cookies do not depend on the port: both apps on 127.0.0.1 get the same one, as a
    # browser would send it to two app hosts behind one name.
    return aiohttp.ClientSession(base_url=url, cookie_jar=jar, headers={"Origin": url})


async def sign_in(session: aiohttp.ClientSession, username: str) -> None:
    async with session.post(
        "/console/login", json={"username": username, "password": f"{username}-demo"}
    ) as response:
        assert response.status == 200


async def test_a_session_and_a_token_are_honoured_by_another_app_process(server: Server) -> None:
    token = await planned_call(server, "call-shared")
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        other_app_process(server) as other,
        browser_at(server.url, jar) as here,
        browser_at(other, jar) as there,
    ):
        await sign_in(here, "nurse2")
        async with there.get("/console/me") as response:
            assert response.status == 200
            assert (await response.json())["agent"]["username"] == "nurse2"
        # The token the first process issued is read once, by the second.
        async with there.get(f"/api/context/{token}") as response:
            assert response.status == 200
            assert (await response.json())["call_id"] == "call-shared"
        async with here.get(f"/api/context/{token}") as response:
            assert response.status == 404
        # Signing out on the second ends the session on the first. (The sign-out also
        # clears the jar's cookie, so the first is asked with the old cookie by hand.)
        cookie = {c.key: c.value for c in jar}["clinicline_console"]
        async with there.post("/console/logout") as response:
            assert response.status == 200
        headers = {"Cookie": f"clinicline_console={cookie}"}
        async with (
            aiohttp.ClientSession(base_url=server.url) as stale,
            stale.get("/console/me", headers=headers) as response,
        ):
            assert response.status == 401


@pytest.fixture
async def pg_server(tmp_path: Path) -> AsyncIterator[Server]:
    """The console in this process over a seeded PostgreSQL schema of its own, with the bus."""
    async with fresh_database("postgresql", tmp_path, DATA_KEY) as db:
        await seed_demo(db, MONDAY)
        hub = WebSocketHub(db, ConsoleBus.for_store(db))
        await hub.start()
        coordinator = TransferCoordinator(
            db, hub, hours=BusinessHours.default(), clock=lambda: OPEN_NOW
        )
        async with console_on_loopback(db, hub, coordinator) as (app, url):
            yield Server(url, db, hub, coordinator, await agent_ids(db), app)


async def test_a_screen_pop_reaches_a_console_open_on_another_app_process(
    pg_server: Server,
) -> None:
    server, nurse = pg_server, pg_server.agent_ids["nurse2"]
    jar = aiohttp.CookieJar(unsafe=True)
    async with other_app_process(server) as other, browser_at(other, jar) as there:
        await sign_in(there, "nurse2")
        async with there.ws_connect("/console/ws", headers={"Origin": other}) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            assert not server.hub.connected(nurse)  # her console is open on the other one
            await planned_call(server, "call-elsewhere")  # routed by this process
            offer = await ws.receive_json(timeout=10)
            assert offer["type"] == "offer" and offer["pop"]["call_id"] == "call-elsewhere"
            assert offer["pop"]["emergent"] is True
            line = TranscriptLine("caller", "it is getting worse", OPEN_NOW)
            await server.coordinator.transcript_line("call-elsewhere", line)
            heard = await ws.receive_json(timeout=10)
            assert heard["type"] == "transcript" and heard["line"]["text"] == line.text
    # The process that showed it audited the view, under the nurse's name.
    async with server.db.session() as s:
        trail = await audit_trail(s, 1)
        stored = (await s.scalars(select(ConsoleMessage.message_enc))).all()
    assert any(a.action == "screen_pop" and a.actor == "nurse2" for a in trail)
    assert stored and all(b"Maria" not in m for m in stored)  # PHI only encrypted


async def test_accept_on_another_processs_console_reaches_the_transfer(pg_server: Server) -> None:
    server = pg_server
    answers: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def listener(kind: str, plan: TransferPlan) -> None:
        await answers.put((kind, plan.call_id))

    server.coordinator.add_listener(listener)
    jar = aiohttp.CookieJar(unsafe=True)
    async with other_app_process(server) as other, browser_at(other, jar) as there:
        await sign_in(there, "nurse1")  # not offered anything: refused
        async with there.post("/console/calls/call-taken/accept") as response:
            assert response.status == 409
        await sign_in(there, "nurse2")
        async with there.ws_connect("/console/ws", headers={"Origin": other}) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            await planned_call(server, "call-taken")
            assert (await ws.receive_json(timeout=10))["type"] == "offer"
            async with there.post("/console/calls/call-taken/accept") as response:
                assert response.status == 202
                assert (await response.json())["forwarded"] is True
            assert await asyncio.wait_for(answers.get(), 10) == ("accepted", "call-taken")


async def test_a_supervisor_on_another_process_reaches_the_worker_bridging_the_call(
    pg_server: Server,
) -> None:
    """The supervisor's console is served by one process, the call's worker is another: her
    request crosses over the store's notifications to the worker's handler."""
    server = pg_server
    heard: asyncio.Queue[tuple[str, int, str]] = asyncio.Queue()

    async def worker(call_id: str, supervisor_id: int, mode: str) -> None:
        await heard.put((call_id, supervisor_id, mode))

    server.hub.on_monitor = worker  # this process holds the call
    await open_call(server, "call-joined")
    async with server.db.session() as s:
        await calls.add_event(s, call_id="call-joined", kind="bridged", data={"queue": "nurse"})
    jar = aiohttp.CookieJar(unsafe=True)
    async with other_app_process(server) as other, browser_at(other, jar) as there:
        await sign_in(there, "super1")
        async with there.post(
            "/console/calls/call-joined/monitor", json={"mode": "barge"}
        ) as response:
            assert response.status == 202, await response.text()
        supervisor = server.agent_ids["super1"]
        assert await asyncio.wait_for(heard.get(), 10) == ("call-joined", supervisor, "barge")


async def test_routing_knows_the_card_is_up_on_another_process_before_it_rings(
    pg_server: Server,
) -> None:
    """`offer` returns True only once a console showed the card: the worker rings her phone
    after it, so the card is ahead of the ring wherever her console is open."""
    server, nurse = pg_server, pg_server.agent_ids["nurse2"]
    pop = ScreenPop("call-ahead", await _payload(server, "call-ahead"), "Caller", "nurse", True)
    assert await server.hub.offer(nurse, pop) is False  # no console open anywhere
    jar = aiohttp.CookieJar(unsafe=True)
    async with other_app_process(server) as other, browser_at(other, jar) as there:
        await sign_in(there, "nurse2")
        async with there.ws_connect("/console/ws", headers={"Origin": other}) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            assert await server.hub.offer(nurse, pop) is True
            shown = await ws.receive_json(timeout=1)  # already on her screen
            assert shown["type"] == "offer" and shown["pop"]["call_id"] == "call-ahead"


async def _payload(server: Server, call_id: str) -> CtiPayload:
    await open_call(server, call_id)
    plan = await server.coordinator.plan(emergent_request(call_id))
    return plan.payload
