"""Warm transfers when people don't pick up (a nurse who declines, a phone nobody answers),
and when the person who took the call passes it on from her console.

Real server, real patient phone, real agent phones (each its own pjsua2 process); the nurses
sign in to the console over its HTTP API. Rasa is off: the red-flag path does not need it.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinicline.callflow.prompts import EMERGENCY_CRISIS_MESSAGE, EMERGENCY_MESSAGE
from clinicline.harness import (
    ServerProcess,
    bridged_calls,
    next_bridged_call,
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


@pytest.mark.parametrize(
    ("said", "advice"),
    [
        ("my husband collapsed and he is not breathing", EMERGENCY_MESSAGE),
        # Said again before the on-call line rings, the message keeps the crisis line: on a
        # `make run` call the repeat was the general one, without 988.
        ("I want to kill myself and I have the pills right here", EMERGENCY_CRISIS_MESSAGE),
    ],
)
async def test_a_nurse_phone_nobody_answers_rings_out_to_the_on_call_line(
    clinic: ServerProcess, tmp_path: Path, said: str, advice: str
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
            said,
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
    # Once at the flag, once more before the on-call line rings: the same words both times.
    either = (EMERGENCY_MESSAGE, EMERGENCY_CRISIS_MESSAGE)
    messages = [t["text"] for t in record["turns"] if t["text"].startswith(either)]
    assert messages == [advice, advice], messages
    assert [p["outcome"] for p in record["emergency_messages"]] == ["completed", "completed"]


async def test_the_nurse_on_the_line_passes_the_call_on_and_the_next_person_takes_it(
    clinic: ServerProcess, tmp_path: Path
) -> None:
    """Nurse1 takes a red-flag call, then passes it to billing from her console: her leg
    ends, the caller is held, billing1 is offered it with her note and takes it, and the
    caller's next words reach billing1. Nurse1 wraps up; the record shows both bridges."""
    base = f"http://127.0.0.1:{clinic.http_port}"
    nurse = await _sign_in(base, "nurse1")
    away = await _sign_in(base, "nurse2", presence="away")
    billing = await _sign_in(base, "billing1")
    nurse_phone = _agent_phone(clinic, NURSES["nurse1"], "nurse1", "answer", stay=90)
    billing_phone = staff_phone(
        clinic.env, "billing1", "--answer-after", "1", "--stay", "30",
        "--say", "Billing office.", "--timeout", "200",
    )  # fmt: skip
    second_bridge = tmp_path / "second-bridge"
    bridges = len(bridged_calls(clinic))
    caller = asyncio.create_task(
        asyncio.to_thread(
            phone_call, clinic,
            "--say", "my chest hurts and I can't catch my breath",
            "--wait-for", f"150:{second_bridge}",
            "--say", "I am still here and my chest still hurts",
            "--wait", "12", "--listen", "4", "--no-transcribe", timeout=300,
        )  # fmt: skip
    )
    try:
        call_id = await asyncio.wait_for(next_bridged_call(clinic, bridges), 150)
        async with billing.http.post(f"{base}/console/calls/{call_id}/transfer",
                                     json={"queue": "billing"}) as r:  # fmt: skip
            assert r.status == 409, await r.text()  # not hers: she is not on the line
        async with nurse.http.post(
            f"{base}/console/calls/{call_id}/transfer",
            json={"queue": "billing", "agent": "billing1",
                  "note": "question about the hospital bill"},
        ) as r:
            assert r.status == 202, await r.text()
        assert await asyncio.wait_for(next_bridged_call(clinic, bridges + 1), 120) == call_id
        second_bridge.touch()
        result = await caller
        nurse_heard = await asyncio.to_thread(answer_log, nurse_phone)
        billing_heard = await asyncio.to_thread(answer_log, billing_phone)
        async with nurse.http.post(
            f"{base}/console/calls/{call_id}/wrapup", json={"disposition": "transferred"}
        ) as r:
            assert r.status == 200, await r.text()  # she answered it: hers to wrap up
    finally:
        for agent in (nurse, away, billing):
            await agent.close()
        for phone in (nurse_phone, billing_phone):
            if phone.poll() is None:
                phone.kill()
    record = await asyncio.to_thread(wait_for_record, clinic, call_id)
    kinds = [e["kind"] for e in record["events"]]
    assert kinds.count("bridged") == 2, kinds
    passed = kinds.index("agent_transferred")
    assert kinds.index("bridged") < passed < len(kinds) - 1 - kinds[::-1].index("bridged"), kinds
    assert record["events"][passed]["data"]["queue"] == "billing"
    offers = [m["pop"] for m in billing.messages if m.get("type") == "offer"]
    assert offers and "passed on by Nora Bell" in offers[-1]["payload"]["reason"], offers
    assert "hospital bill" in offers[-1]["payload"]["reason"]
    assert any(m.get("type") == "ended" and m.get("call_id") == call_id for m in nurse.messages)
    she = nurse_heard["calls"][0]
    assert she["answered"] and she["ended_by"] == "remote", she  # the server let her go
    taker = billing_heard["calls"][0]
    assert taker["answered"], billing_heard
    assert "still here" in taker["heard"].lower() or "chest" in taker["heard"].lower(), taker
    assert result["call_id"] == call_id
