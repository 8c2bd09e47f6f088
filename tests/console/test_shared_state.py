"""Two app processes on one store: a sign-in, a context token and a sign-out made on one are
honoured by the other, because none of them lives in a process's memory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest

from clinicline.harness import ROOT
from tests.console.conftest import Server
from tests.console.test_console_api import planned_call
from tests.demo_store import DATA_KEY


@pytest.fixture
async def other_app(server: Server) -> AsyncIterator[str]:
    """The console in a process of its own over the same store file; its base URL."""
    url = server.db.engine.url.render_as_string(hide_password=False)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.console.app_process", url,
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


async def test_a_session_and_a_token_are_honoured_by_another_app_process(
    server: Server, other_app: str
) -> None:
    token = await planned_call(server, "call-shared")
    jar = aiohttp.CookieJar(unsafe=True)
    async with browser_at(server.url, jar) as here, browser_at(other_app, jar) as there:
        async with here.post(
            "/console/login", json={"username": "nurse2", "password": "nurse2-demo"}
        ) as response:
            assert response.status == 200
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
    async with aiohttp.ClientSession(base_url=server.url) as stale:
        headers = {"Cookie": f"clinicline_console={cookie}"}
        async with stale.get("/console/me", headers=headers) as response:
            assert response.status == 401

