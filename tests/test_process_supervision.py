"""The server's children, its call slots, and what /health says of them, with the real Rasa.

A real `clinicline serve` with the product dialog and its supervised Rasa server. The attacks
a review ran by hand: something else holding Rasa's port (as an orphaned Rasa did), Rasa
killed, the worker full, and the server itself killed with SIGKILL, after which no process
it started may live on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clinicline.harness import ServerProcess, free_port, phone_call, start_demo_clinic
from tests.staff_lines import STAFF_PORT

pytestmark = pytest.mark.slow

RASA_LOAD = 300.0  # ~45 s alone; several minutes when both cores are busy


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def turned_away(server: ServerProcess) -> int:
    """Callers the store counts as turned away (no caller is recorded, only how many)."""
    path = server.db_url.split("///", 1)[1]
    with contextlib.closing(sqlite3.connect(path)) as store:
        (total,) = store.execute("SELECT COALESCE(SUM(callers), 0) FROM turned_away").fetchone()
    return int(total)


def rasa_pids(server: ServerProcess) -> set[int]:
    found = set()
    for pid in descendants(server.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"rasa" in cmdline:
            found.add(pid)
    return found


def rasa_leader(server: ServerProcess) -> int:
    """The Rasa process the server started (its own children, if any, are in its group)."""
    (leader,) = rasa_pids(server) & set(_children().get(server.process.pid, []))
    return leader


def dialogs(server: ServerProcess) -> dict[str, Any]:
    component: dict[str, Any] = server.health()["components"]["dialogs"]
    return component


@pytest.fixture(scope="module")
def squatter() -> Iterator[socket.socket]:
    """A process-like stranger on Rasa's port: listens, never answers."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", free_port()))
    sock.listen()
    yield sock
    sock.close()


@pytest.fixture(scope="module")
def clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path, squatter: socket.socket
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("supervision")
    rasa_port = squatter.getsockname()[1]
    server = start_demo_clinic(
        tmp,
        data_dir=speech_data_dir,
        env={},
        extra_args=("--rasa-port", str(rasa_port)),
        staff_port=STAFF_PORT,
    )
    try:
        yield server
    finally:
        server.stop()
        for pid in descendants(server.process.pid) if server.process.poll() is None else ():
            os.kill(pid, signal.SIGKILL)


def test_a_stranger_on_rasas_port_never_passes_for_the_dialogs(
    clinic: ServerProcess, squatter: socket.socket
) -> None:
    seen = []
    for _ in range(8):  # four polls of the supervisor
        seen.append(dialogs(clinic))
        time.sleep(1.0)
    assert all(d["state"] == "down" for d in seen), seen
    assert "held by another process" in seen[-1]["detail"], seen[-1]
    assert clinic.health()["status"] == "degraded"
    assert not rasa_pids(clinic)

    squatter.close()  # the port frees: our own Rasa starts, loads, and only then is up
    deadline = time.monotonic() + RASA_LOAD
    while dialogs(clinic)["state"] != "up":
        assert time.monotonic() < deadline, (dialogs(clinic), clinic.log()[-2000:])
        time.sleep(1.0)
    assert rasa_pids(clinic)


def test_full_worker_is_degraded_keeps_a_slot_for_transfers_and_recovers(
    clinic: ServerProcess,
) -> None:
    callers = [
        subprocess.Popen(
            [sys.executable, "-m", "clinicline.cli", "call", "--to", clinic.uri,
             "--db", clinic.db_url, "--hangup-after", "20", "--listen", "25", "--no-transcribe"],
            env=clinic.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(3)
    ]
    try:
        deadline = time.monotonic() + 40
        while (workers := clinic.health()["components"]["workers"])["state"] != "degraded":
            assert time.monotonic() < deadline, workers
            time.sleep(0.3)
        assert workers["slots_in_use"] == 3 and workers["transfer_reserve"] == 1, workers
        assert "kept for transfers" in workers["detail"]
        fourth = phone_call(clinic, "--listen", "1", "--no-transcribe")
        assert not fourth["connected"] and fourth["status"] == 486, fourth
        # The lone worker is its own front door: it counts the caller it turned away for the
        # supervisors' figures (written every few seconds).
        deadline = time.monotonic() + 20
        while (counted := turned_away(clinic)) < 1:
            assert time.monotonic() < deadline, clinic.log()[-2000:]
            time.sleep(0.5)
        assert counted == 1
    finally:
        for caller in callers:
            caller.wait(90)
    deadline = time.monotonic() + 20
    while clinic.health()["components"]["workers"]["state"] != "up":
        assert time.monotonic() < deadline, clinic.health()
        time.sleep(0.3)
    assert all(caller.returncode == 0 for caller in callers)


def test_killed_rasa_shows_as_down_and_restarting(clinic: ServerProcess) -> None:
    os.killpg(rasa_leader(clinic), signal.SIGKILL)
    # /health is refreshed every 2 s. It may first show "not running (restarts: 0)": the
    # exit is seen a moment before the supervisor counts it and starts another Rasa.
    deadline = time.monotonic() + 10
    while (state := dialogs(clinic))["state"] != "down" or state["restarts"] < 1:
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert "restart" in state["detail"], state
    deadline = time.monotonic() + 30
    while not rasa_pids(clinic):  # a new Rasa of ours is loading
        assert time.monotonic() < deadline, clinic.log()[-2000:]
        time.sleep(0.5)
    assert dialogs(clinic)["state"] != "up"


def test_sigkilled_server_leaves_no_process_behind(clinic: ServerProcess) -> None:
    children = descendants(clinic.process.pid)
    assert rasa_pids(clinic), "Rasa should be running (restarted by the previous test)"
    clinic.process.send_signal(signal.SIGKILL)
    clinic.process.wait(10)
    deadline = time.monotonic() + 10
    while survivors := {pid for pid in children if alive(pid)}:
        assert time.monotonic() < deadline, {
            pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:200] for pid in survivors
        }
        time.sleep(0.2)
