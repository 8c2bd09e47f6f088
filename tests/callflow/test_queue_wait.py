"""A routine caller and nobody free at the front desk: hold for the next person, or a callback.

Real server (Rasa off: the keypad menu sends "0" to the front desk), real patient phone and,
for the caller who holds, a real front-desk phone whose agent signs in while the caller waits.
The callback task is written before the caller chooses, so no choice and no hang-up loses it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from clinicline.harness import (
    ROOT,
    ServerProcess,
    heard_911,
    phone_call,
    start_demo_clinic,
    wait_for_record,
)
from tests.callflow.console_agent import open_console
from tests.staff_lines import STAFF_PORT, always_open_hours, desk

pytestmark = pytest.mark.slow

FRONT_DESK = desk("front1")


@pytest.fixture(scope="module")
def clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    server = start_demo_clinic(
        tmp_path_factory.mktemp("queue-wait"),
        staff_port=STAFF_PORT,
        data_dir=speech_data_dir,
        env={
            "CLINICLINE_HOURS_FILE": str(always_open_hours()),
            "CLINICLINE_RING_TIMEOUT": "8",
            "CLINICLINE_MAX_HOLD_SECONDS": "90",
        },
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()[-3000:]


def _db(server: ServerProcess) -> sqlite3.Connection:
    return sqlite3.connect(server.db_url.removeprefix("sqlite+aiosqlite:///"))


def _tasks(server: ServerProcess, call_id: str) -> list[tuple[str, str]]:
    with _db(server) as db:
        rows = db.execute(
            "SELECT kind, status FROM staff_tasks WHERE call_id = ? ORDER BY id", (call_id,)
        )
        return [(str(kind), str(status)) for kind, status in rows]


def _calls_with_event(server: ServerProcess, kind: str) -> set[str]:
    with _db(server) as db:
        rows = db.execute("SELECT DISTINCT call_id FROM call_events WHERE kind = ?", (kind,))
        return {str(call_id) for (call_id,) in rows}


def _heard(result: dict[str, Any]) -> str:
    return " ".join(t["heard"] for t in result["turns"]).lower()


def test_a_caller_who_chooses_a_callback_keeps_an_open_callback_task(
    clinic: ServerProcess,
) -> None:
    result = phone_call(clinic, "--dtmf", "0", "--wait", "9", "--dtmf", "2", "--listen", "14")
    heard = _heard(result)
    assert "hold" in heard and "call you back" in heard, heard
    record = wait_for_record(clinic, result["call_id"])
    assert not record["transferred"]
    choices = [e["data"] for e in record["events"] if e["kind"] == "queue_choice"]
    assert choices == [{"choice": "callback"}], record["events"]
    assert _tasks(clinic, result["call_id"]) == [("callback", "open")]


def test_a_red_flag_on_hold_goes_to_the_nurse_path_and_a_hang_up_keeps_the_callback(
    clinic: ServerProcess,
) -> None:
    result = phone_call(
        clinic, "--dtmf", "0", "--say", "I would like to hold please", "--wait", "3",
        "--say", "my husband just collapsed and he is not breathing", "--listen", "2",
    )  # fmt: skip
    record = wait_for_record(clinic, result["call_id"])
    events = record["events"]
    assert {"choice": "hold"} in [e["data"] for e in events], events
    # Screening heard the caller on hold: the emergency message, then the emergent transfer.
    assert heard_911(_heard(result).split("hold", 1)[-1]), _heard(result)
    transfers = [e["data"] for e in events if e["kind"] == "transfer"]
    assert transfers[0]["emergent"] is False and transfers[-1]["emergent"] is True, transfers
    # They hung up while the on-call line rang: abandoned, the callback task stands, and a
    # nurse is asked to call this red-flag caller back now.
    kinds = [e["kind"] for e in events]
    assert "transfer_abandoned" in kinds and record["disposition"] == "abandoned", kinds
    assert _tasks(clinic, result["call_id"]) == [("callback", "open"), ("nurse_callback", "open")]


async def test_a_caller_who_holds_reaches_the_agent_who_becomes_free(
    clinic: ServerProcess,
) -> None:
    base = f"http://127.0.0.1:{clinic.http_port}"
    agent = subprocess.Popen(
        [
            sys.executable, "-m", "clinicline.cli", "answer", "--listen", FRONT_DESK,
            "--user", "front1", "--answer-after", "1", "--stay", "20",
            "--say", "Good morning, this is the front desk.", "--no-transcribe", "--timeout", "240",
        ],
        cwd=ROOT, env=clinic.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    http = aiohttp.ClientSession(
        headers={"Origin": base}, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    try:
        already = _calls_with_event(clinic, "queue_choice")
        caller = asyncio.create_task(
            asyncio.to_thread(
                phone_call, clinic, "--dtmf", "0", "--dtmf", "1",
                "--listen", "60",
            )
        )  # fmt: skip
        # The front desk signs in only once this caller has chosen to hold.
        deadline = time.monotonic() + 150
        while not (_calls_with_event(clinic, "queue_choice") - already):
            assert time.monotonic() < deadline, "the caller was never offered hold or callback"
            await asyncio.sleep(0.5)
        async with http.post(
            f"{base}/console/login", json={"username": "front1", "password": "front1-demo"}
        ) as r:
            assert r.status == 200, await r.text()
        # Her console is open, as an agent's is: presence follows it.
        _console = await open_console(http, base)  # read until http closes
        async with http.post(f"{base}/console/presence", json={"presence": "available"}) as r:
            assert r.status == 200, await r.text()
        result = await caller
        out, _ = await asyncio.to_thread(agent.communicate, timeout=240)
    finally:
        await http.close()
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    answered = json.loads(out[out.index("{") :])["calls"]
    assert answered and answered[0]["answered"], answered
    assert "good morning" in _heard(result), _heard(result)  # the agent, after the bridge
    record = wait_for_record(clinic, result["call_id"])
    assert record["transferred"] and record["transfer_queue"] == "front_desk"
    kinds = [e["kind"] for e in record["events"]]
    assert kinds.index("queue_choice") < kinds.index("transfer_answered"), kinds
    # Reached a person: the callback task written when nobody was free is closed.
    assert _tasks(clinic, result["call_id"]) == [("callback", "done")]
