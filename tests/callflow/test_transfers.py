"""Warm transfers when people don't pick up: a nurse who declines, a phone nobody answers.

Real server, real patient phone, real agent phones (each its own pjsua2 process); the nurses
sign in to the console over its HTTP API. Rasa is off: the red-flag path does not need it.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinicline.harness import (
    ServerProcess,
    phone_call,
    start_demo_clinic,
    wait_for_record,
    when_logged,
)
from tests.callflow.console_agent import ConsoleAgent, sign_in_at_console
from tests.staff_lines import (
    ON_CALL,
    STAFF_PORT,
    always_open_hours,
    answer_log,
    desk,
    staff_phone,
)

pytestmark = pytest.mark.slow

NURSES = {"nurse1": desk("nurse1"), "nurse2": desk("nurse2")}


@pytest.fixture(scope="module")
def clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    server = start_demo_clinic(
        tmp_path_factory.mktemp("transfers"),
        staff_port=STAFF_PORT,
        data_dir=speech_data_dir,
        env={"CLINICLINE_HOURS_FILE": str(always_open_hours()), "CLINICLINE_RING_TIMEOUT": "6"},
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()[-3000:]


async def _sign_in(base: str, username: str, presence: str = "available") -> ConsoleAgent:
    return await sign_in_at_console(base, username, presence)


def _agent_phone(
    server: ServerProcess, where: str, user: str, mode: str, *, stay: float = 10
) -> subprocess.Popen[str]:
    return staff_phone(
        server.env, user, "--mode", mode, "--answer-after", "1", "--stay", str(stay),
        "--say", "Nurse speaking.", "--no-transcribe", "--timeout", "90", where=where,
    )  # fmt: skip


async def test_a_declining_nurse_passes_the_call_to_the_next_nurse(clinic: ServerProcess) -> None:
    base = f"http://127.0.0.1:{clinic.http_port}"
    first = await _sign_in(base, "nurse1")  # idle longest: offered first
    second = await _sign_in(base, "nurse2")
    decliner = _agent_phone(clinic, NURSES["nurse1"], "nurse1", "decline")
    taker = _agent_phone(clinic, NURSES["nurse2"], "nurse2", "answer")
    try:
        await asyncio.sleep(3)
        result = await asyncio.to_thread(
            phone_call,
            clinic,
            "--say",
            "my chest hurts and I can't catch my breath",
            "--wait",
            "6",
            "--listen",
            "20",
            "--no-transcribe",
        )
        declined, answered = (
            await asyncio.to_thread(answer_log, decliner),
            await asyncio.to_thread(answer_log, taker),
        )
    finally:
        await first.close()
        await second.close()
    assert declined["calls"] and not declined["calls"][0]["answered"]
    assert answered["calls"] and answered["calls"][0]["answered"]
    record = await asyncio.to_thread(wait_for_record, clinic, result["call_id"])
    kinds = [e["kind"] for e in record["events"]]
    assert kinds.index("transfer_declined") < kinds.index("transfer_answered"), kinds
    assert record["transferred"] and record["transfer_queue"] == "nurse"


async def test_a_nurse_phone_nobody_answers_rings_out_to_the_on_call_line(
    clinic: ServerProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{clinic.http_port}"
    nurse = await _sign_in(base, "nurse1")
    off = await _sign_in(base, "nurse2", presence="offline")
    silent = _agent_phone(clinic, NURSES["nurse1"], "nurse1", "ignore")
    # The on-call nurse hears the call's summary before the bridge; the caller stays on until
    # the server has bridged them (a loaded machine once took longer than a fixed wait).
    on_call = _agent_phone(clinic, ON_CALL, "oncall", "answer", stay=30)
    bridged = tmp_path / "bridged"
    watch = asyncio.create_task(when_logged(clinic, ": bridged to", bridged))
    try:
        await asyncio.sleep(3)
        result = await asyncio.to_thread(
            phone_call,
            clinic,
            "--say",
            "my husband collapsed and he is not breathing",
            "--wait",
            "30",
            "--listen",
            "20",
            "--no-transcribe",
        )
        silent.terminate()
        answered = await asyncio.to_thread(answer_log, on_call)
    finally:
        watch.cancel()
        await nurse.close()
        await off.close()
        silent.kill()
    record = await asyncio.to_thread(wait_for_record, clinic, result["call_id"])
    kinds = [e["kind"] for e in record["events"]]
    assert answered["calls"] and answered["calls"][0]["answered"], (
        answered,
        record["turns"],
        kinds,
    )
    assert "transfer_no_answer" in kinds and "bridged" in kinds, (record["events"], answered)
    assert record["disposition"] == "emergency_transferred"
