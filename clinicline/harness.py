"""Harness for real calls (tests and `clinicline bench`): a `clinicline serve` process and phones.

Everything here runs the real programs as separate processes over loopback: the server's
pjsua2 worker on one side, the patient phone's pjsua2 client on the other.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the repository
CLI = [sys.executable, "-m", "clinicline.cli"]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port free for both TCP and UDP (SIP uses UDP, the web app TCP)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue


def free_port_run(kind: int, count: int) -> int:
    """A loopback port P with P+1 … P+count-1 free too (a SIP front and its workers), each
    for TCP and UDP: the front takes TLS on TCP at P+1, and a CI run failed when another
    process held that TCP port."""
    for _ in range(50):
        base = free_port(kind)
        try:
            for offset in range(1, count):
                for either in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(socket.AF_INET, either) as probe:
                        probe.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports")


@dataclass
class ServerProcess:
    """A running `clinicline serve`; stop() sends SIGTERM like an operator would."""

    sip_port: int
    http_port: int
    db_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"sip:clinic@127.0.0.1:{self.sip_port}"

    def health(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.http_port}/health", timeout=3
            ) as r:
                body: dict[str, Any] = json.loads(r.read())
                return body
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
            return body

    def wait_ready(
        self, timeout: float = 120.0, want: Sequence[str] = ("ready", "degraded")
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}:\n{self.log()}")
            try:
                last = self.health()
                if last.get("status") in want:
                    return last
            except (OSError, ValueError):
                pass
            time.sleep(0.3)
        raise TimeoutError(f"server not {want} after {timeout}s: {last}\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_in_rotation(self, workers: int = 1, timeout: float = 60.0) -> None:
        """On PostgreSQL `serve` is a site with Kamailio in front: until Kamailio has probed
        at least `workers` of its workers and sends callers to them, a call reaches nobody."""
        deadline = time.monotonic() + timeout
        while in_rotation_now(self.log()) < workers:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise TimeoutError(f"not {workers} workers in rotation:\n{self.log()[-3000:]}")
            time.sleep(0.3)

    def stop(self, timeout: float = 30.0) -> int:
        return stop_process(self.process, timeout)


def in_rotation_now(log: str) -> int:
    """How many workers the front last said Kamailio sends callers to (0: not said yet)."""
    said = re.findall(r"workers in Kamailio's rotation: (\d+) ", log)
    return int(said[-1]) if said else 0


@dataclass
class CalleeBank:
    """`python -m voice.phone.callees` running: simulated patients' phones behind a trunk."""

    process: subprocess.Popen[bytes]
    log: Path  # its JSON log, written when it exits
    err: Path

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while "callee bank ready" not in self.err.read_text():
            assert self.process.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, self.err.read_text()
            time.sleep(0.2)


def start_callee_bank(plan: Path, port: int, folder: Path, *options: str) -> CalleeBank:
    """Start the bank on 127.0.0.1:`port` answering as `plan` says (`options`: --calls,
    --voice, --timeout...); its log and stderr go in `folder`. Not yet ready: `wait_ready`."""
    log, err = folder / "bank.json", folder / "bank.err"
    with err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "voice.phone.callees", "--listen", f"127.0.0.1:{port}",
             "--plan", str(plan), "--json", str(log), *options],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    return CalleeBank(process, log, err)


def stop_process(process: subprocess.Popen[Any], timeout: float = 30.0) -> int:
    """SIGTERM, as an operator would; SIGKILL if it has not ended after `timeout` s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def start_server(
    tmp: Path,
    *,
    data_dir: Path,
    dialog: str = "echo",
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    db_url: str | None = None,
) -> ServerProcess:
    sip_port, http_port = free_port(socket.SOCK_DGRAM), free_port()
    db_url = db_url or f"sqlite+aiosqlite:///{tmp / 'clinic.db'}"
    full_env = {
        **os.environ,
        "CLINICLINE_DATA_DIR": str(data_dir),
        "CLINICLINE_SILENCE_TIMEOUT": "3",
        # No browser-phone gateway unless a test asks for one (each is two more daemons).
        "CLINICLINE_SOFTPHONE_SIP": "",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    log_path = tmp / f"serve-{sip_port}.log"
    args = [
        *CLI,
        "serve",
        "--sip",
        f"127.0.0.1:{sip_port}",
        "--http",
        f"127.0.0.1:{http_port}",
        "--db",
        db_url,
        "--dialog",
        dialog,
        *extra_args,
    ]
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    return ServerProcess(sip_port, http_port, db_url, data_dir, process, log_path, full_env)


def start_demo_clinic(
    tmp: Path,
    *,
    data_dir: Path,
    env: dict[str, str],
    extra_args: Sequence[str] = ("--no-rasa",),
    ready_timeout: float = 120.0,
    want: Sequence[str] = ("ready", "degraded"),
    staff_port: int | None = None,
) -> ServerProcess:
    """`serve` with the product dialog on a freshly seeded demo clinic in `tmp`, ready (with
    Rasa, want ("ready",): the dialogs are up); its staff phones at `staff_port` and up."""
    db_url = f"sqlite+aiosqlite:///{tmp / 'clinic.db'}"
    seed_demo_clinic(db_url, staff_port, env=env)
    server = start_server(
        tmp, data_dir=data_dir, dialog="clinic", db_url=db_url, extra_args=extra_args, env=env
    )
    server.wait_ready(ready_timeout, want)
    return server


def seed_demo_clinic(
    db_url: str, staff_port: int | None = None, env: dict[str, str] | None = None
) -> None:
    """`clinicline seed --demo` into `db_url`, the staff phones at `staff_port` and up."""
    ports = ["--staff-port", str(staff_port)] if staff_port else []
    done = subprocess.run(
        [*CLI, "seed", "--demo", "--db", db_url, *ports], cwd=ROOT, capture_output=True,
        text=True, timeout=120, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"seeding the demo clinic failed:\n{done.stderr[-3000:]}")


def phone_call(server: ServerProcess, *args: str, timeout: float = 180.0) -> dict[str, Any]:
    """Run `clinicline call` against the server and return its JSON log."""
    answered = server.log().count(" answered (")
    done = _run_phone(server, args, timeout)
    if done.returncode < 0 and server.log().count(" answered (") == answered:
        # The phone process died from a signal before the server answered anything (seen
        # once in ~700 starts: "free(): invalid pointer" inside pjlib's start-up). Nothing
        # reached the server, so only the test's own phone is started again.
        print(f"test phone crashed before calling (exit {done.returncode}): starting it again")
        done = _run_phone(server, args, timeout)
    try:
        start = done.stdout.index("{")
        result: dict[str, Any] = json.loads(done.stdout[start:])
    except ValueError as exc:
        raise AssertionError(
            f"phone printed no JSON (exit {done.returncode}):\n{done.stderr[-3000:]}"
        ) from exc
    result["exit_code"] = done.returncode
    return result


def _run_phone(
    server: ServerProcess, args: Sequence[str], timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "call", "--to", server.uri, "--db", server.db_url, *args],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# What a crashed or aborted server leaves in its log (pjsip's assertions included).
CRASH_SIGNS = ("Assertion", "Segmentation fault", "core dumped", "Fatal Python error")


def crash_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if any(sign in line for sign in CRASH_SIGNS)]


# SIPp floods come from a loopback address of their own: one source for the flood, another
# (127.0.0.1) for the test phones, as an attacker and the clinic's callers would be.
FLOOD_SOURCE = "127.0.0.2"


def start_sipp(
    server: ServerProcess,
    workdir: Path,
    *,
    rate: float,
    calls: int,
    scenario: Path | None = None,
    source: str = FLOOD_SOURCE,
    timeout: float = 60.0,
    trace: bool = False,
) -> subprocess.Popen[str]:
    """SIPp against the server: its built-in `uac` (INVITE, ACK, BYE at once) unless
    `scenario`; `rate` new calls a second up to `calls`. Statistics go to workdir/stats.csv,
    and with `trace` every message sent and received to workdir/messages.log."""
    args = [
        "sipp", f"127.0.0.1:{server.sip_port}",
        *(["-sf", str(scenario)] if scenario else ["-sn", "uac"]),
        "-s", "clinic", "-r", str(rate), "-m", str(calls),
        "-i", source, "-p", str(free_port(socket.SOCK_DGRAM)),
        # A call nobody answers fails after 8 s (not pjsip-style 32 s); SIPp quits at `timeout`.
        "-recv_timeout", "8000", "-timeout", str(int(timeout)), "-nostdin",
        "-trace_stat", "-stf", str(workdir / "stats.csv"), "-fd", "1",
        *(["-trace_msg", "-message_file", str(workdir / "messages.log")] if trace else []),
    ]  # fmt: skip
    return subprocess.Popen(
        args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def final_answer_to_invite(sip_port: int, timeout: float = 10.0) -> str:
    """Send one INVITE from a socket of our own and return the first final response to it.

    No phone process to start, so the answer comes within milliseconds: what a test reads
    is the front's state at that moment, not after a phone's seconds of start-up."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        probe.settimeout(timeout)
        local = probe.getsockname()[1]
        invite = (
            f"INVITE sip:clinic@127.0.0.1:{sip_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-probe-{local};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=probe{local}\r\n"
            f"To: <sip:clinic@127.0.0.1:{sip_port}>\r\nCall-ID: probe-{local}\r\n"
            f"CSeq: 1 INVITE\r\nContact: <sip:probe@127.0.0.1:{local}>\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        probe.sendto(invite.encode(), ("127.0.0.1", sip_port))
        while True:
            reply = probe.recv(65535).decode(errors="replace")
            if not reply.startswith("SIP/2.0 1"):  # provisional answers are not the answer
                return reply


def sipp_counts(workdir: Path) -> dict[str, int]:
    """The cumulative counters of SIPp's last statistics line: calls created, completed,
    failed; of the failures, those answered with an error (an unexpected message to SIPp's
    `uac`, such as our 503 or 486) and those never answered."""
    lines = (workdir / "stats.csv").read_text().splitlines()
    values = dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))

    def count(*columns: str) -> int:
        return sum(int(values.get(column) or 0) for column in columns)

    return {
        "created": count("TotalCallCreated"),
        "successful": count("SuccessfulCall(C)"),
        "failed": count("FailedCall(C)"),
        "refused": count("FailedUnexpectedMessage(C)"),
        "unanswered": count("FailedTimeoutOnRecv(C)", "FailedMaxUDPRetrans(C)"),
    }


def call_record(server: ServerProcess, call_id: str) -> dict[str, Any]:
    """The server's record of a call, as `clinicline calls show --json` prints it.

    Read here, on a loop in a thread of its own (a caller's loop is left alone): a
    `calls show` process spends 1.5 s of CPU starting, and the tests read records often."""
    key = server.env.get("CLINICLINE_DATA_KEY")
    read = _read_record(server.db_url, key.encode() if key else None, call_id)
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, read).result(timeout=60)


async def _read_record(db_url: str, key: bytes | None, call_id: str) -> dict[str, Any]:
    from integrations.errors import NotFound
    from integrations.services.call_report import call_report
    from integrations.store import Database

    db = await Database.connect(db_url, key)
    try:
        async with db.session() as s:
            report = await call_report(s, call_id, viewer="cli")
    except NotFound as exc:
        raise AssertionError(f"no call {call_id!r} in {db_url}") from exc
    finally:
        await db.dispose()
    record: dict[str, Any] = json.loads(json.dumps(report, default=str))
    return record


async def when_logged(server: ServerProcess, line: str, signal: Path) -> None:
    """Create `signal` once the server's log holds one more `line` than it does now: a test
    phone waiting on it (`--wait-for`) goes on at the server's cue, not after a fixed delay."""
    before = server.log().count(line)
    while server.log().count(line) == before:
        await asyncio.sleep(0.3)
    signal.touch()


def bridged_calls(server: ServerProcess) -> list[str]:
    """The ids of the calls the server has bridged to a person, once per bridge, in order."""
    return re.findall(r"call (\S+): bridged to", server.log())


async def next_bridged_call(server: ServerProcess, before: int) -> str:
    """The id of the call bridged after the first `before` bridges in the server's log."""
    while True:
        found = bridged_calls(server)
        if len(found) > before:
            return found[before]
        await asyncio.sleep(0.3)


def wait_for_record(server: ServerProcess, call_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """The record once the server has closed the call."""
    deadline = time.monotonic() + timeout
    record = call_record(server, call_id)
    while not record.get("ended") and time.monotonic() < deadline:
        time.sleep(0.5)
        record = call_record(server, call_id)
    return record


# How the test phone's recogniser (whisper tiny.en) writes a spoken "nine one one": seen as
# "911", "9-1-1", "9 1 1" and, on a loaded machine, "900-11". What the server played is
# checked in its record; this only says the caller's phone heard the number.
# How the test phones' recogniser (whisper tiny) has written "nine-one-one" in their transcripts.
_SPOKEN_911 = ("911", "9-1-1", "9 1 1", "nine one one", "900-11", "900 11", "900 to 11")


def heard_911(heard: str) -> bool:
    """True when a phone's transcript contains the emergency number, however it was written."""
    text = heard.lower()
    return any(form in text for form in _SPOKEN_911)


def heard_phrase(heard: str, phrase: str) -> bool:
    """True when a phone's transcript contains ``phrase`` letter for letter, whatever it did
    with spaces and punctuation: a recogniser splits and joins words ("Riverside" came out
    "River's side" in CI66)."""
    return _letters(phrase) in _letters(heard)


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalpha())


def publish_trained(
    db_url: str,
    edits: dict[str, list[str]],
    model: str,
    evaluation: dict[str, Any],
    data_key: bytes | None = None,
) -> None:
    """Publish to a site's store (DB_URL, its DATA_KEY) a version of the training phrasings
    whose model MODEL was trained elsewhere (the bench's own store), as the Flows area would."""
    from clinicline.flows import training
    from integrations.store import Database
    from integrations.store.models import TrainingVersion

    async def publish() -> None:
        db = await Database.connect(db_url, data_key)
        try:
            async with db.session() as s:
                row = TrainingVersion(
                    edits=edits, state="ready", model=model, evaluation=evaluation,
                    progress={}, created_by="super1",
                )  # fmt: skip
                s.add(row)
                await s.commit()
                await training.publish_training(s, row.id, "super1", may_publish=True)
        finally:
            await db.dispose()

    asyncio.run(publish())
