"""Click-to-call: an agent calls a patient back from a callback task.

Real server, real desk phone for the agent and a real patient's phone (the simulated patients'
bank behind `outbound_trunk`), each its own pjsua2 process, transcribing what it heard. The
agent works through the console's HTTP API: she claims the task and presses Call back; the
server rings her, then the patient, and connects them. The patient mentions chest pain: her
words are screened and the flag pops on the agent's console. Rasa is off: nothing here uses it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clinicline.harness import (
    CalleeBank,
    ServerProcess,
    free_port,
    start_callee_bank,
    start_demo_clinic,
    stop_process,
    wait_for_record,
)
from integrations.services import calls, tasks
from integrations.store import Database
from tests.callflow.console_agent import sign_in_at_console
from tests.staff_lines import STAFF_PORT, always_open_hours, answer_log, staff_phone

pytestmark = pytest.mark.slow

PATIENT = "+15550107777"
BANK_PORT = free_port(socket.SOCK_DGRAM)
AGENT_SAYS = "Hello, this is Alex from the clinic, returning your call."
PATIENT_SAYS = "Thank you. I have had chest pain since this morning."


@pytest.fixture(scope="module")
def clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    server = start_demo_clinic(
        tmp_path_factory.mktemp("click-to-call"),
        staff_port=STAFF_PORT,
        data_dir=speech_data_dir,
        env={
            "CLINICLINE_HOURS_FILE": str(always_open_hours()),
            "CLINICLINE_OUTBOUND_TRUNK": f"sip:{{number}}@127.0.0.1:{BANK_PORT}",
        },
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()[-3000:]


async def _callback_task(server: ServerProcess, number: str | None) -> int:
    """A front-desk callback task for a call from `number` (None: a caller with no number)."""
    call_id = f"asked-{time.monotonic_ns()}"
    db = await Database.connect(server.db_url)
    try:
        async with db.session() as s:
            now = datetime.now(UTC)
            await calls.open_call(s, call_id=call_id, caller_number=number, started=now)
            await calls.close_call(s, call_id=call_id, ended=now, disposition=None)
            return await tasks.create_task(
                s, kind="callback", queue="front_desk", patient_id=None, call_id=call_id,
                note="Callback requested: a question about her prescription",
            )  # fmt: skip
    finally:
        await db.dispose()


def _patient_bank(tmp: Path) -> CalleeBank:
    plan = tmp / "plan.yaml"
    plan.write_text(
        f'numbers:\n  "{PATIENT}":\n    kind: human\n'
        f'    lines: ["Hello?", "{PATIENT_SAYS}"]\n    hangup_after: 45\n'
    )
    callees = start_callee_bank(
        plan, BANK_PORT, tmp, "--voice", "piper", "--calls", "1", "--timeout", "150"
    )
    callees.wait_ready()
    return callees


async def test_an_agent_calls_a_patient_back_and_the_patient_s_red_flag_reaches_her(
    clinic: ServerProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{clinic.http_port}"
    agent = await sign_in_at_console(base, "front1", presence="away")
    other = await sign_in_at_console(base, "sched1", presence="away")
    task_id = await _callback_task(clinic, PATIENT)
    no_number = await _callback_task(clinic, None)
    callees = await asyncio.to_thread(_patient_bank, tmp_path)
    bank, bank_log = callees.process, callees.log
    desk = staff_phone(
        clinic.env, "front1", "--answer-after", "1", "--stay", "40", "--say", AGENT_SAYS,
        "--accept-key", "none", "--timeout", "150",
    )  # fmt: skip
    try:
        url = f"{base}/console/tasks/{task_id}/call"
        async with agent.http.post(url, json={}) as r:
            assert r.status == 403, await r.text()  # not claimed: not hers to call
        async with agent.http.post(f"{base}/console/tasks/{task_id}/claim", json={}) as r:
            assert r.status == 200, await r.text()
        async with other.http.post(url, json={}) as r:
            assert r.status == 403, await r.text()  # a colleague's claimed task
        async with agent.http.post(f"{base}/console/tasks/{no_number}/claim", json={}) as r:
            assert r.status == 200
        async with agent.http.post(f"{base}/console/tasks/{no_number}/call", json={}) as r:
            assert r.status == 409, await r.text()  # nobody to call back
        async with agent.http.post(url, json={}) as r:
            assert r.status == 202, await r.text()
            call_id = (await r.json())["call_id"]
        heard_by_agent = await asyncio.to_thread(answer_log, desk, 200)
        bank.wait(180)
    finally:
        await agent.close()
        await other.close()
        stop_process(bank)
        if desk.poll() is None:
            desk.kill()
    record = await asyncio.to_thread(wait_for_record, clinic, call_id, 30)
    kinds = [e["kind"] for e in record["events"]]
    assert kinds[:2] == ["callback_placed", "callback_connected"], kinds
    assert record["direction"] == "outbound" and record["ended"], record
    flagged = [e["data"] for e in record["events"] if e["kind"] == "flag_on_call"]
    # Emergent when "chest" is heard; a CI run under load heard only the pain (urgent): either
    # way the flag reaches her, which is what this call is about.
    assert flagged and flagged[0]["level"] in ("emergent", "urgent"), record["events"]
    assert any(m.get("type") == "flag" and m.get("call_id") == call_id for m in agent.messages)
    said = {t["speaker"]: t["text"].lower() for t in record["turns"]}
    assert "chest" in said.get("caller", ""), record["turns"]
    assert "clinic" in said.get("agent", ""), record["turns"]
    she = heard_by_agent["calls"][0]
    # Her phone's recogniser once wrote "Jess Payne": her hearing the patient is the point.
    assert she["answered"] and "since this morning" in she["heard"].lower(), she
    (patient,) = json.loads(bank_log.read_text())["calls"]
    assert patient["number"] == PATIENT and "clinic" in patient["heard"].lower(), patient
