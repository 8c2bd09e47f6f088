"""The console's browser-phone relay while its gateway is down, then back.

The console runs in-process on a seeded store; the gateway is a stand-in (an aiohttp WebSocket
that answers every REGISTER with a 200): Kamailio itself is in test_softphone_browser.py,
where these timings are too short to catch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from clinicline.config import HostPort
from clinicline.softphone.directory import GatewayDirectory
from clinicline.softphone.gateway import SoftphoneLine
from clinicline.web.console.softphone_views import SOCKET_PATH as SOCKET
from dialogs.server import free_loopback_port
from integrations.services.agents import list_agents
from tests.console.conftest import Server, serving
from tests.softphone_sip import register_request, response_to


@asynccontextmanager
async def stand_in_gateway(port: int) -> AsyncIterator[None]:
    """A WebSocket on `port` that registers whoever asks (no credentials checked)."""

    async def answer(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("sip",))
        await ws.prepare(request)
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT and message.data.startswith("REGISTER"):
                contact = next(
                    h for h in message.data.split("\r\n") if h.lower().startswith("contact:")
                )
                ok = response_to(message.data, "200 OK").replace(
                    "Content-Length: 0", f"{contact}\r\nContent-Length: 0"
                )
                await ws.send_str(ok)
        return ws

    app = web.Application()
    app.router.add_get("/", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def _rings_her_browser(server: Server) -> str:
    """Where nurse1's calls ring, if that is her browser phone ("" for her desk phone)."""
    async with server.db.session() as s:
        nurse = next(a for a in await list_agents(s) if a.username == "nurse1")
    return nurse.sip_uri if nurse.on_browser_phone else ""


async def _rings_her_browser_once(server: Server, expected: str) -> str:
    """`_rings_her_browser` once it reads `expected`, or after 5 s whatever it reads."""
    for _ in range(50):
        now = await _rings_her_browser(server)
        if now == expected:
            return now
        await asyncio.sleep(0.1)
    return await _rings_her_browser(server)


async def test_while_a_stand_in_gateway_is_down_her_page_s_socket_is_refused_not_accepted(
    tmp_path: Path, seeded_template: Path
) -> None:
    port = free_loopback_port()  # nothing listens there yet
    line = SoftphoneLine(HostPort("127.0.0.1", 5064), f"ws://127.0.0.1:{port}/", "not-a-secret")
    async with (
        serving(
            tmp_path, seeded_template, softphone=lambda db: GatewayDirectory(db, local=line)
        ) as server,
        aiohttp.ClientSession(
            base_url=server.url,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Origin": server.url},
        ) as nurse,
    ):
        async with nurse.post(
            "/console/login", json={"username": "nurse1", "password": "nurse1-demo"}
        ) as r:
            assert r.status == 200
        # Down: the upgrade itself is refused, so SIP.js waits its reconnection delay
        # (accepted and ended at once, a page reconnected ~75 times a second).
        try:
            async with nurse.ws_connect(SOCKET, protocols=("sip",)):
                raise AssertionError("the socket was accepted with no gateway behind it")
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 503
        # Back: accepted, her REGISTER reaches the gateway, and its 200 rings her browser.
        aor = line.uri("nurse1")
        async with stand_in_gateway(port), nurse.ws_connect(SOCKET, protocols=("sip",)) as ws:
            await ws.send_str(register_request(aor, "nurse1", "c1", 1))
            answer = await ws.receive(timeout=10)
            assert str(answer.data).startswith("SIP/2.0 200"), answer
            assert await _rings_her_browser_once(server, aor) == aor
        # Her socket ended: calls ring her desk phone again.
        assert await _rings_her_browser_once(server, "") == ""
