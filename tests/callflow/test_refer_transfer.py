"""transfer_mode = "refer": the red-flag caller is handed to the nurse's phone by REFER with
Replaces after she heard the summary, and the worker lets go of both legs.

Real server (Rasa off: the red-flag path does not need it), a real patient phone that follows
the REFER, and a real nurse phone that accepts the INVITE with Replaces.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from clinicline.harness import ROOT, ServerProcess, phone_call, start_demo_clinic, wait_for_record
from tests.callflow.console_agent import open_console
from tests.staff_lines import STAFF_PORT, always_open_hours, desk

pytestmark = pytest.mark.slow

NURSE = desk("nurse1")


@pytest.fixture(scope="module")
def clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    server = start_demo_clinic(
        tmp_path_factory.mktemp("refer"),
        staff_port=STAFF_PORT,
        data_dir=speech_data_dir,
        env={
            "CLINICLINE_HOURS_FILE": str(always_open_hours()),
            "CLINICLINE_RING_TIMEOUT": "10",
            "CLINICLINE_TRANSFER_MODE": "refer",
        },
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()[-3000:]


async def _worker_calls(base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/health") as r:
        workers: dict[str, Any] = (await r.json())["components"]["workers"]
        return workers


async def test_the_nurse_takes_over_the_caller_by_refer_and_the_worker_lets_go(
    clinic: ServerProcess,
) -> None:
    base = f"http://127.0.0.1:{clinic.http_port}"
    http = aiohttp.ClientSession(
        headers={"Origin": base}, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    nurse = subprocess.Popen(
        [
            sys.executable, "-m", "clinicline.cli", "answer", "--listen", NURSE,
            "--user", "nurse1", "--answer-after", "1", "--stay", "60",
            "--say", "This is nurse Nora, tell me what happened.", "--timeout", "200",
        ],
        cwd=ROOT, env=clinic.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        async with http.post(
            f"{base}/console/login", json={"username": "nurse1", "password": "nurse1-demo"}
        ) as r:
            assert r.status == 200, await r.text()
        # Her console is open, as an agent's is: presence follows it.
        _console = await open_console(http, base)  # read until http closes
        async with http.post(f"{base}/console/presence", json={"presence": "available"}) as r:
            assert r.status == 200, await r.text()
        caller = asyncio.create_task(
            asyncio.to_thread(
                phone_call, clinic, "--say", "my chest hurts and my left arm is numb",
                "--wait", "12", "--say", "he is sweating and very pale", "--listen", "8",
            )
        )  # fmt: skip
        # While caller and nurse talk phone to phone, the worker holds no call at all.
        idle_while_talking = None
        deadline = time.monotonic() + 150
        while not caller.done() and time.monotonic() < deadline:
            workers = await _worker_calls(base)
            if workers["calls_answered"] and workers["sip_calls"] == 0:
                idle_while_talking = workers
                break
            await asyncio.sleep(0.5)
        result = await caller
        out, _ = await asyncio.to_thread(nurse.communicate, timeout=200)
    finally:
        await http.close()
        if nurse.poll() is None:
            nurse.kill()
            nurse.wait()
    assert idle_while_talking is not None, "the worker never let go of the legs"
    assert result["refer"] == "accepted" and result["transferred"], result
    assert "nora" in result["after_transfer"].lower() or "what happened" in (
        result["after_transfer"].lower()
    ), result["after_transfer"]
    nurse_call = json.loads(out[out.index("{") :])["calls"][0]
    assert nurse_call["answered"] and nurse_call["replaced"], nurse_call
    assert "pale" in nurse_call["heard_after_replace"].lower(), nurse_call
    record = wait_for_record(clinic, result["call_id"])
    kinds = [e["kind"] for e in record["events"]]
    assert "transfer_answered" in kinds and "referred" in kinds, kinds
    assert record["transferred"] and record["disposition"] == "emergency_transferred"
    assert record["ended"], record
