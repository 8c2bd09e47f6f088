"""Wording published in the console reaches the next real call, without a restart and without
dropping the call under way; a rollback brings the earlier wording back.

Real server (`serve` on a seeded demo clinic), its console over HTTP as a supervisor with the
publish right uses it, real patient phones whose recogniser writes down what they heard.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from clinicline.harness import (
    ServerProcess,
    heard_phrase,
    phone_call,
    start_demo_clinic,
    wait_for_record,
)
from tests.staff_lines import STAFF_PORT, always_open_hours

pytestmark = pytest.mark.slow

FIRST = (
    "Welcome to the Riverside test line. If this is a medical emergency, hang up and dial "
    "911. How can I help you today?"
)
SECOND = (
    "Good day, this is the clinic robot. If this is a medical emergency, hang up and dial "
    "911. What do you need?"
)


@pytest.fixture(scope="module")
def clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    server = start_demo_clinic(
        tmp_path_factory.mktemp("flows"),
        staff_port=STAFF_PORT,
        data_dir=speech_data_dir,
        env={"CLINICLINE_HOURS_FILE": str(always_open_hours())},
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()[-3000:]


@pytest.fixture
async def admin(clinic: ServerProcess) -> AsyncIterator[aiohttp.ClientSession]:
    base = f"http://127.0.0.1:{clinic.http_port}"
    async with aiohttp.ClientSession(
        base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": base}
    ) as session:
        async with session.post(
            "/console/login", json={"username": "super1", "password": "super1-demo"}
        ) as response:
            assert response.status == 200
        yield session


async def _post(client: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with client.post(path, json=body) as response:
        data: dict[str, Any] = await response.json()
        assert response.status in (200, 201), data
        return data


async def _publish_greeting(client: aiohttp.ClientSession, text: str) -> int:
    async with client.get("/console/api/flows/prompts") as response:
        newest = (await response.json())["newest"]
    saved = await _post(
        client, "/console/api/flows/prompts/greeting", {"text": text, "base": newest}
    )
    await _post(client, f"/console/api/flows/versions/{saved['id']}/publish", {})
    return int(saved["id"])


async def _playing(
    clinic: ServerProcess,
    version: int,
    timeout: float = 60.0,
    what: str = "prompts: now playing version",
) -> None:
    """Until the worker's log says it plays VERSION (it asks the store every few seconds)."""
    deadline = time.monotonic() + timeout
    while f"{what} {version}" not in clinic.log():
        assert time.monotonic() < deadline, clinic.log()[-3000:]
        await asyncio.sleep(0.5)


def _greeting_heard(result: dict[str, Any]) -> str:
    return re.sub(r"[^a-z ]", " ", str(result["greeting"]).lower())


async def test_published_wording_reaches_the_next_call_and_spares_the_call_under_way(
    clinic: ServerProcess, admin: aiohttp.ClientSession
) -> None:
    # A call is under way (the built-in greeting, then a patient who listens for a while).
    under_way = asyncio.create_task(
        asyncio.to_thread(phone_call, clinic, "--listen", "25", timeout=120)
    )
    await asyncio.sleep(6)
    first = await _publish_greeting(admin, FIRST)
    await _playing(clinic, first)
    # The dialogs' replies follow the same published version (the action endpoint's wording).
    await _playing(clinic, first, what="dialog replies: now speaking version")
    ongoing = await under_way
    # The built-in greeting to its end ("Thank you for calling" is at times heard as "Thanks").
    built_in = _greeting_heard(ongoing)
    assert heard_phrase(built_in, "for calling Riverside Family Clinic"), ongoing
    assert "welcome" not in built_in, ongoing
    record = wait_for_record(clinic, ongoing["call_id"])
    # The patient hung up after listening 25 s, well past the publication: not dropped by us.
    assert ongoing["hung_up_by"] == "caller" and ongoing["duration_s"] > 25, ongoing
    assert record["disposition"] == "caller_hung_up", record

    after = phone_call(clinic, "--listen", "12", timeout=120)
    heard = _greeting_heard(after)
    assert "welcome" in heard and "test line" in heard, heard

    # Another wording is published, then the first is published again (a rollback).
    second = await _publish_greeting(admin, SECOND)
    await _playing(clinic, second)
    back = await _post(admin, f"/console/api/flows/versions/{first}/rollback", {})
    await _playing(clinic, int(back["id"]))
    again = phone_call(clinic, "--listen", "12", timeout=120)
    heard = _greeting_heard(again)
    assert "welcome" in heard and "robot" not in heard, heard
