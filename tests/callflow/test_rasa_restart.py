"""A Rasa server killed mid-conversation: the caller gets the keypad menu while it is down, and
once the supervisor has it back the conversation goes on where it stopped, because Rasa keeps
its trackers (encrypted) in the store, not in its own memory.

Its own server: the Rasa process is killed, and the caller stays quiet for as long as a
restart takes (the silence timeout is long here, so the quiet is not taken for a hang-up).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from clinicline.harness import ROOT, ServerProcess, free_port, start_demo_clinic, wait_for_record
from tests.staff_lines import STAFF_PORT, always_open_hours

pytestmark = pytest.mark.slow

AISHA = "+15550100003"  # the demo clinic's Aisha Khan


@pytest.fixture(scope="module")
def patient_clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    server = start_demo_clinic(
        tmp_path_factory.mktemp("rasa-restart"),
        staff_port=STAFF_PORT,
        data_dir=speech_data_dir,
        env={"CLINICLINE_HOURS_FILE": str(always_open_hours()), "CLINICLINE_SILENCE_TIMEOUT": "60"},
        extra_args=["--rasa-port", str(free_port())],
        ready_timeout=900,
        want=("ready",),
    )
    try:
        yield server
    finally:
        server.stop()


def _rasa_pid(server: ServerProcess) -> int:
    out = subprocess.run(
        ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(server.process.pid)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = [int(line.split()[0]) for line in out.splitlines() if "dialogs.inside_rasa" in line]
    assert len(found) == 1, out
    return found[0]


def _dialogs(server: ServerProcess) -> dict[str, object]:
    try:
        component: dict[str, object] = server.health()["components"]["dialogs"]
        return component
    except (OSError, ValueError, KeyError):
        return {}


def _answered_conversations(trackers: Path, key: bytes) -> int:
    """Callers' conversations whose stored tracker already holds a bot reply. (Rasa stores a
    tracker as soon as a message arrives, before it answers: a kill then would lose the turn
    itself, not what the store kept.)"""
    if not trackers.exists():
        return 0
    try:
        with sqlite3.connect(trackers) as db:
            # Not the supervisor's own warm-up conversations ("warm-up-…").
            rows = db.execute(
                "SELECT data FROM dialog_trackers WHERE sender_id NOT LIKE 'warm-up-%'"
            ).fetchall()
    except sqlite3.Error:
        return 0  # the table is being created
    events = [json.loads(Fernet(key).decrypt(bytes(r[0])))["events"] for r in rows]
    return sum(any(e.get("event") == "bot" for e in conversation) for conversation in events)


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_rasa_killed_mid_conversation_keypad_meanwhile_then_the_conversation_resumes(
    patient_clinic: ServerProcess, tmp_path: Path
) -> None:
    server = patient_clinic
    rasa_back = tmp_path / "rasa-is-back"
    trackers = Path(server.db_url.split("///", 1)[1]).with_name("clinic-trackers.db")
    phone = subprocess.Popen(
        [sys.executable, "-m", "clinicline.cli", "call", "--to", server.uri, "--db",
         server.db_url, "--caller", AISHA, "--no-transcribe",
         "--say", "I'd like to make an appointment",  # the dialog asks for her full name
         # Rasa is killed as her first turn is stored; this comes seconds later: keypad menu.
         "--say", "hello is anybody there",
         # Quiet while a restarted Rasa loads its model (~40 s idle, more when busy).
         "--wait-for", f"150:{rasa_back}",
         "--say", "Aisha Khan",  # back: the name goes to the form that asked for it
         "--listen", "8"],
        cwd=ROOT, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        # Her first turn and its answer are in the store: the conversation exists outside
        # Rasa now.
        key = Path(server.db_url.split("///", 1)[1] + ".key").read_bytes().strip()
        _wait(lambda: _answered_conversations(trackers, key) > 0, 90, "the first answer")
        os.kill(_rasa_pid(server), signal.SIGKILL)
        _wait(lambda: _dialogs(server).get("state") != "up", 30, "the gate to close")
        _wait(lambda: _dialogs(server).get("state") == "up", 150, "Rasa to be back")
        rasa_back.touch()
        out, _ = phone.communicate(timeout=300)
    finally:
        if phone.poll() is None:
            phone.kill()
            phone.wait()
    call_id = out[out.index("{") :].split('"call_id": "', 1)[1].split('"', 1)[0]
    record = wait_for_record(server, call_id)
    kinds = [e["kind"] for e in record["events"]]
    assert "dialogs_unavailable" in kinds and "dialogs_back" in kinds, kinds
    assert kinds.index("dialogs_unavailable") < kinds.index("dialogs_back")
    bot = [t["text"].lower() for t in record["turns"] if t["speaker"] == "bot"]
    caller = [t["text"] for t in record["turns"] if t["speaker"] == "caller"]
    assert any("press" in said for said in bot), bot  # the keypad menu meanwhile
    # The restarted Rasa knew the form had asked for her name: next, her date of birth.
    assert "birth" in bot[-1], (caller, bot)
    assert _dialogs(server).get("restarts", 0) >= 1
    # What she said is in the store only encrypted.
    stored = trackers.read_bytes()
    assert b"Aisha" not in stored and b"appointment" not in stored
