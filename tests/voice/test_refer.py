"""Attended transfer by REFER with Replaces, between real pjsua2 processes with real RTP audio.

Three processes: a voice worker (tests/voice/refer_worker.py: hold prompt, consult leg,
whisper, `VoiceWorker.refer_replaces`, bridge on failure), the patient phone
(`clinicline call`) and the agent's phone (`clinicline answer`). After the REFER the worker
drops out: caller and agent talk directly, and each transcribes what it heard from the other.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clinicline.harness import CLI, ROOT, free_port

pytestmark = pytest.mark.slow

AGENT_SAYS = "Hello, this is the nurse. How can I help you today?"
CALLER_SAYS = "I have had a bad headache since this morning."


@dataclass
class ReferWorker:
    process: subprocess.Popen[str]
    sip_port: int
    agent_port: int
    db_url: str
    env: dict[str, str]
    log_path: Path
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"sip:clinic@127.0.0.1:{self.sip_port}"

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self.events.append(json.loads(line))

    def wait_for(self, event: str, after: int = 0, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.events[after:]:
                if item["event"] == event:
                    return item
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {event!r} from the worker: {self.events}\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ReferWorker]:
    tmp = tmp_path_factory.mktemp("refer")
    sip_port, agent_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    db_url = f"sqlite+aiosqlite:///{tmp / 'clinic.db'}"
    env = {
        **os.environ,
        "CLINICLINE_DATA_DIR": str(speech_data_dir),
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp / "worker.log"
    with log_path.open("w") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.voice.refer_worker",
                "--sip",
                f"127.0.0.1:{sip_port}",
                "--agent",
                f"sip:nurse1@127.0.0.1:{agent_port}",
                "--db",
                db_url,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    proc = ReferWorker(process, sip_port, agent_port, db_url, env, log_path)
    reader = threading.Thread(target=proc.read, daemon=True)
    reader.start()
    try:
        proc.wait_for("ready", timeout=180)
        yield proc
    finally:
        process.terminate()
        code = process.wait(60)
        assert code == 0, f"worker did not stop cleanly ({code}):\n{proc.log()}"
        problems = [x for x in ("Traceback", "ERROR") if x in log_path.read_text()]
        assert not problems, proc.log()


def _agent_phone(worker: ReferWorker, *extra: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            *CLI,
            "answer",
            *extra,
            "--listen",
            f"127.0.0.1:{worker.agent_port}",
            "--user",
            "nurse1",
            "--answer-after",
            "1",
            # This test worker REFERs right after the whisper and asks for no key.
            "--accept-key",
            "none",
            "--say",
            AGENT_SAYS,
            "--stay",
            "24",
            "--timeout",
            "90",
        ],
        cwd=ROOT,
        env=worker.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    assert "agent phone ready" in process.stdout.readline()
    return process


def _caller_phone(worker: ReferWorker, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *CLI,
            "call",
            "--to",
            worker.uri,
            "--db",
            worker.db_url,
            *extra,
            "--wait",
            "8",
            "--say",
            CALLER_SAYS,
            "--listen",
            "25",
        ],
        cwd=ROOT,
        env=worker.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _json(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=180)
    result: dict[str, Any] = json.loads(out[out.index("{") :])
    return result


def _record(worker: ReferWorker, call_id: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(
            [*CLI, "calls", "show", call_id, "--db", worker.db_url, "--json"],
            cwd=ROOT,
            env=worker.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        record: dict[str, Any] = json.loads(done.stdout) if done.returncode == 0 else {}
        if record.get("ended") or time.monotonic() > deadline:
            return record
        time.sleep(0.5)


def test_refer_with_replaces_hands_the_caller_to_the_agent(worker: ReferWorker) -> None:
    mark = len(worker.events)
    agent = _agent_phone(worker)
    caller = _caller_phone(worker)
    result, answered = _json(caller), _json(agent)
    print(json.dumps({"caller": result, "agent": answered, "worker": worker.events[mark:]}))

    whispered = worker.wait_for("whispered", mark)
    assert whispered["sip_calls"] == 2, whispered  # caller leg + consult leg
    refer = worker.wait_for("refer", mark)
    assert refer["ok"], (refer, worker.log())
    idle = worker.wait_for("idle", mark)
    assert idle["sip_calls"] == 0 and idle["active_calls"] == 0
    # Both dialogs are down when it returns; pjsua frees the slots a moment later.
    assert idle["at"] - refer["at"] < 1.0, (refer, idle)

    # The caller's phone followed the REFER, kept its media, and heard the agent directly.
    assert result["connected"] and result["refer"] == "accepted", result
    assert result["transferred"], result
    assert "nurse" in result["after_transfer"].lower(), result
    # The agent's phone took the INVITE with Replaces over the consult leg.
    call = answered["calls"][0]
    assert call["answered"] and call["replaced"], answered
    assert "headache" in call["heard_after_replace"].lower(), call
    # They were still talking well after the worker let go of every call.
    assert call["ended_at"] - idle["at"] > 5, (call, idle)
    assert call["replaced_at"] <= refer["at"] + 0.5

    finished = worker.wait_for("session_finished", mark)
    assert finished["hung_up_by"] == "referred", finished
    record = _record(worker, result["call_id"])
    assert record["ended"] and record["disposition"] == "transferred", record
    referred = [e["data"] for e in record["events"] if e["kind"] == "referred"]
    assert referred == [{"status": 200, "replaces": True}], record["events"]


@pytest.mark.parametrize(
    "caller_flags, agent_flags, refer_seen",
    [
        (("--refuse-refer",), (), "refused"),  # the caller's phone answers the REFER 603
        ((), ("--refuse-replaces",), "accepted"),  # the agent's phone rejects the Replaces
    ],
    ids=["caller-refuses-refer", "agent-refuses-replaces"],
)
def test_a_failed_refer_leaves_both_legs_up_for_a_bridge(
    worker: ReferWorker,
    caller_flags: tuple[str, ...],
    agent_flags: tuple[str, ...],
    refer_seen: str,
) -> None:
    mark = len(worker.events)
    agent = _agent_phone(worker, *agent_flags)
    caller = _caller_phone(worker, *caller_flags)
    result, answered = _json(caller), _json(agent)

    refer = worker.wait_for("refer", mark)
    assert refer["ok"] is False, refer
    assert refer["sip_calls"] == 2 and refer["active_calls"] == 1, refer
    bridged = worker.wait_for("bridged", mark)
    assert bridged["ok"] and bridged["sip_calls"] == 2, bridged

    assert result["connected"] and result["refer"] == refer_seen, result
    assert not result["transferred"], result
    call = answered["calls"][0]
    assert call["answered"] and not call["replaced"], answered
    # Through the worker's bridge the agent still hears the caller.
    assert "headache" in call["heard"].lower(), call
    record = _record(worker, result["call_id"])
    assert record["ended"] and not [e for e in record["events"] if e["kind"] == "referred"]
