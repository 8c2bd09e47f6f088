"""Sign-in under attack, over real HTTP: brute force, lockout of a real nurse, sessions, input.

Figures before this work (same attacks against the old console): 200 concurrent guesses
were all checked; 10,002 invented usernames wiped every lockout; five wrong guesses by
anyone locked a nurse out for a minute, again and again; hashing ran on the event loop.
Other addresses are simulated with X-Forwarded-For: the test app trusts loopback as its
TLS proxy, as a deployment behind one would.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

import integrations.passwords as passwords
from clinicline.web.console.guards import CONSOLE
from integrations.passwords import hash_password
from integrations.services.agents import add_agent
from integrations.services.throttle import ADDRESS_AND_USER, USER
from tests.console.conftest import Server

T0 = datetime(2031, 3, 3, 9, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(server: Server) -> Clock:
    clock = Clock()
    server.app[CONSOLE].signin.clock = clock
    return clock


@pytest.fixture
async def http(server: Server) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=server.url, cookie_jar=aiohttp.CookieJar(unsafe=True),
        headers={"Origin": server.url},
    ) as session:
        yield session


async def login(
    http: aiohttp.ClientSession, username: str, password: str, address: str = "10.1.0.1",
    **headers: str,
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    async with http.post(
        "/console/login", json={"username": username, "password": password},
        headers={"X-Forwarded-For": address, **headers},
    ) as response:
        return response.status, await response.json(), response


def hashes(server: Server) -> int:
    return server.app[CONSOLE].signin.passwords.computed


async def test_two_hundred_concurrent_guesses_are_not_all_checked(
    server: Server, http: aiohttp.ClientSession, clock: Clock
) -> None:
    before = hashes(server)
    results = await asyncio.gather(*(login(http, "nurse1", f"guess-{i}") for i in range(200)))
    statuses = [status for status, _, _ in results]
    assert statuses.count(401) == ADDRESS_AND_USER.free
    assert statuses.count(429) == 200 - ADDRESS_AND_USER.free
    assert hashes(server) - before == ADDRESS_AND_USER.free
    refused = next(r for s, _, r in results if s == 429)
    assert int(refused.headers["Retry-After"]) >= 1


async def test_an_attacker_elsewhere_cannot_lock_the_real_nurse_out(
    http: aiohttp.ClientSession, clock: Clock
) -> None:
    for i in range(50):  # one attacker, one address: refused after five
        await login(http, "nurse1", f"guess-{i}", address="10.66.0.1")
    status, _, _ = await login(http, "nurse1", "nurse1-demo", address="10.1.0.20")
    assert status == 200


async def test_a_distributed_attacker_slows_the_nurse_for_a_minute_at_most(
    http: aiohttp.ClientSession, clock: Clock
) -> None:
    for address in range(USER.free // ADDRESS_AND_USER.free + 2):
        for i in range(ADDRESS_AND_USER.free):
            await login(http, "nurse1", f"guess-{i}", address=f"10.66.{address}.1")
    status, body, response = await login(http, "nurse1", "nurse1-demo", address="10.1.0.20")
    assert status == 429, body
    assert int(response.headers["Retry-After"]) <= USER.cap
    clock.now += timedelta(seconds=USER.cap)
    status, _, _ = await login(http, "nurse1", "nurse1-demo", address="10.1.0.20")
    assert status == 200


async def test_invented_usernames_from_one_address_are_cut_off(
    server: Server, http: aiohttp.ClientSession, clock: Clock
) -> None:
    for i in range(ADDRESS_AND_USER.free):
        await login(http, "nurse1", f"guess-{i}", address="10.66.0.2")
    before = hashes(server)
    statuses = [(await login(http, f"nobody{i}", "x", address="10.66.0.2"))[0]
                for i in range(60)]
    assert statuses.count(429) >= 60 - 20
    assert hashes(server) - before <= 20
    status, _, _ = await login(http, "nurse1", "nurse1-demo", address="10.66.0.2")
    assert status == 429  # the flood wiped nothing: nurse1 from there is still held back


async def test_unknown_and_known_usernames_cost_the_same_hash(
    server: Server, http: aiohttp.ClientSession, clock: Clock
) -> None:
    before = hashes(server)
    unknown, _, _ = await login(http, "no-such-user", "whatever", address="10.1.0.3")
    known, _, _ = await login(http, "nurse1", "whatever", address="10.1.0.4")
    assert unknown == known == 401
    assert hashes(server) - before == 2


async def test_hashing_runs_off_the_event_loop(
    http: aiohttp.ClientSession, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[tuple[str, int]] = []
    real = passwords.verify_password

    def spy(pw: str, stored: str | None) -> bool:
        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        threads.append((threading.current_thread().name, nice))
        return real(pw, stored)

    monkeypatch.setattr(passwords, "verify_password", spy)
    status, _, _ = await login(http, "nurse1", "nurse1-demo")
    assert status == 200
    # In the hashing pool, at a lower CPU priority than the calls' threads.
    assert threads and all(name.startswith("pwhash") and nice > 0 for name, nice in threads)


async def test_an_old_scrypt_hash_signs_in_and_is_upgraded(
    server: Server, http: aiohttp.ClientSession, clock: Clock
) -> None:
    import base64
    import hashlib

    from sqlalchemy import select, update

    from integrations.store.models import Agent

    salt = b"fedcba9876543210"
    digest = hashlib.scrypt(b"nurse2-demo", salt=salt, n=2**14, r=8, p=1, dklen=32)
    old = f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    async with server.db.session() as s:
        await s.execute(update(Agent).where(Agent.username == "nurse2").values(password_hash=old))
        await s.commit()
    status, _, _ = await login(http, "nurse2", "nurse2-demo")
    assert status == 200
    async with server.db.session() as s:
        stored = await s.scalar(select(Agent.password_hash).where(Agent.username == "nurse2"))
    assert stored is not None and stored.startswith("$argon2id$")


# -- sessions ------------------------------------------------------------------------------


async def test_an_idle_session_ends(server: Server, http: aiohttp.ClientSession, clock: Clock):
    sessions = server.app[CONSOLE].sessions
    now = [datetime(2031, 3, 3, 9, tzinfo=UTC)]
    sessions.clock = lambda: now[0]
    assert (await login(http, "nurse1", "nurse1-demo"))[0] == 200
    async with http.get("/console/me") as response:
        assert response.status == 200
    now[0] += timedelta(seconds=sessions.idle_seconds - 1)
    async with http.get("/console/me") as response:
        assert response.status == 200  # activity keeps it alive
    now[0] += timedelta(seconds=sessions.idle_seconds)
    async with http.get("/console/me") as response:
        assert response.status == 401


async def test_the_live_feed_closes_when_the_session_idles_out(
    server: Server, http: aiohttp.ClientSession, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clinicline.web.console import call_views

    monkeypatch.setattr(call_views, "SESSION_CHECK_SECONDS", 0.05)
    sessions = server.app[CONSOLE].sessions
    now = [datetime(2031, 3, 3, 9, tzinfo=UTC)]
    sessions.clock = lambda: now[0]
    assert (await login(http, "nurse1", "nurse1-demo"))[0] == 200
    async with http.ws_connect("/console/ws", headers={"Origin": server.url}) as ws:
        assert (await ws.receive_json())["type"] == "hello"
        now[0] += timedelta(seconds=sessions.idle_seconds + 1)
        message = await asyncio.wait_for(ws.receive(), 5)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_the_cookie_is_secure_behind_a_tls_proxy_and_only_then(
    http: aiohttp.ClientSession, server: Server, clock: Clock
) -> None:
    https = server.url.replace("http://", "https://")
    status, _, response = await login(http, "nurse1", "nurse1-demo",
                                      **{"X-Forwarded-Proto": "https", "Origin": https})
    assert status == 200
    assert "Secure" in response.headers["Set-Cookie"]
    status, _, response = await login(http, "nurse2", "nurse2-demo")
    assert status == 200
    assert "Secure" not in response.headers["Set-Cookie"]


# -- first sign-in with a one-time password; demo passwords outside the demo ---------------


async def test_a_one_time_password_opens_only_the_password_form(
    server: Server, http: aiohttp.ClientSession, clock: Clock
) -> None:
    async with server.db.session() as s:
        await add_agent(s, username="admin", name="First Admin", role="supervisor",
                        password_hash=hash_password("one-time-pw-123"))
    status, body, _ = await login(http, "admin", "one-time-pw-123")
    assert status == 200 and body["must_change_password"] is True
    async with http.get("/console/tasks") as response:
        assert response.status == 403
        assert (await response.json())["must_change_password"] is True
    async with http.get("/console/api/metrics") as response:
        assert response.status == 403
    for weak in ("short", "one-time-pw-123", "admin-is-my-password"):
        async with http.post("/console/password",
                             json={"current": "one-time-pw-123", "new": weak}) as response:
            assert response.status == 400, weak
    async with http.post("/console/password", json={"current": "one-time-pw-123",
                                                    "new": "a long phrase of my own"}) as r:
        assert r.status == 200
    async with http.get("/console/tasks") as response:
        assert response.status == 200
    await http.post("/console/logout")
    assert (await login(http, "admin", "one-time-pw-123"))[0] == 401
    status, body, _ = await login(http, "admin", "a long phrase of my own")
    assert status == 200 and body["must_change_password"] is False


async def test_demo_passwords_are_refused_outside_a_demo_store(
    server: Server, http: aiohttp.ClientSession, clock: Clock
) -> None:
    from sqlalchemy import update

    from integrations.store.models import StoreMeta

    async with server.db.session() as s:
        await s.execute(update(StoreMeta).where(StoreMeta.name == "mode").values(value="clinic"))
        await s.commit()
    status, body, _ = await login(http, "nurse1", "nurse1-demo")
    assert status == 403 and "demo" in body["error"]


# -- bad input gets 400s, not 500s ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "expected"),
    [
        ("POST", "/console/login", "[" * 15_000, {"Content-Type": "application/json"}, 400),
        ("POST", "/console/login", "username=a&password=b",
         {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ("POST", "/console/login", '{"username": "a", "password": "b"}',
         {"Content-Type": "text/plain"}, 415),
        ("POST", "/console/login", "x" * (300 * 1024), {"Content-Type": "application/json"}, 413),
    ],
    ids=["15000 brackets", "a form post", "cross-site text/plain", "huge body"],
)
async def test_hostile_login_bodies_get_4xx(
    http: aiohttp.ClientSession, method: str, path: str, body: str, headers: dict[str, str],
    expected: int,
) -> None:
    async with http.request(method, path, data=body, headers=headers) as response:
        assert response.status == expected


@pytest.mark.parametrize("task_id", ["１", "١", "1٠", "99999999999999999999", "-1"])
async def test_non_ascii_digits_are_not_task_numbers(
    http: aiohttp.ClientSession, clock: Clock, task_id: str
) -> None:
    assert (await login(http, "nurse1", "nurse1-demo"))[0] == 200
    async with http.post(f"/console/tasks/{task_id}/claim") as response:
        assert response.status == 400
