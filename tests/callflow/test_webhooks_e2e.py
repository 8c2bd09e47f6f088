"""Transfer webhooks end to end: a real `clinicline serve`, a real red-flag call, real HTTP.

The server process is configured like an operator would (`CLINICLINE_WEBHOOK_URLS` and
`CLINICLINE_WEBHOOK_SECRET`); a patient phone process says a red flag, nobody is signed in, so
the call goes to the on-call line, whose phone (its own pjsua2 process) answers. A plain
`http.server` receiver in this process records every POST and checks it the way a CRM would:
HMAC-SHA256 over "<timestamp>.<body>" with the shared secret, and no PHI outside the body.
When every receiver fails, the call must transfer all the same and each delivery must end in
the dead-letter file after its retries. Every port is picked free: the fixed nurse and on-call
ports of the other transfer tests stay free for them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from clinicline.harness import (
    ROOT,
    ServerProcess,
    free_port,
    phone_call,
    seed_demo_clinic,
    start_server,
    wait_for_record,
)
from integrations.store.crypto import Cipher, resolve_keys
from routing.cti import SCHEMA_VERSION, load_schema
from routing.schema_check import schema_errors
from tests.staff_lines import STAFF_PORT, always_open_text

pytestmark = pytest.mark.slow

SECRET = "e2e-webhook-secret"
CALLER = "+15550142424"
RED_FLAG = "my husband has crushing chest pain"
HOOK_PATH = "/hooks/clinicline"
# What a sender may put in headers: HTTP plumbing and our three, never anything about the call.
ALLOWED_HEADERS = {
    "host",
    "content-type",
    "content-length",
    "accept",
    "accept-encoding",
    "user-agent",
    "x-clinicline-timestamp",
    "x-clinicline-signature",
    "x-clinicline-event",
}
SPEECH_CACHE = ROOT / "var" / "test-data" / "prompts"


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    received: float

    @property
    def doc(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 answering every POST with `status`, after `delay`
    seconds (longer than the sender's per-attempt timeout: a receiver that hangs)."""

    status: int
    delay: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{HOOK_PATH}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.hits.append(
                        Hit(self.path, dict(self.headers.items()), body, time.time())
                    )
                time.sleep(receiver.delay)
                try:
                    self.send_response(receiver.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting and closed the connection
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def snapshot(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)

    def wait_for(self, done: Callable[[list[Hit]], bool], timeout: float = 60.0) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = self.snapshot()
            if done(hits):
                return hits
            time.sleep(0.2)
        raise AssertionError(f"receiver did not get what was expected: {self.snapshot()}")


@dataclass
class Clinic:
    server: ServerProcess
    on_call_listen: str


def _start_clinic(tmp: Path, webhook_urls: list[str], attempts: int = 4) -> Clinic:
    """A seeded demo clinic (nobody signed in) whose on-call line rings a free local port;
    each webhook event is tried `attempts` times."""
    db_url = f"sqlite+aiosqlite:///{tmp / 'clinic.db'}"
    seed_demo_clinic(db_url, STAFF_PORT)
    on_call_listen = f"127.0.0.1:{free_port()}"
    hours = tmp / "hours.yaml"
    hours.write_text(always_open_text(on_call_listen))
    assert on_call_listen in hours.read_text()
    # Our own data dir, so the dead-letter file is this server's alone; the prompt cache is
    # the one every test server shares (rendered once per machine).
    data_dir = tmp / "data"
    data_dir.mkdir()
    SPEECH_CACHE.mkdir(parents=True, exist_ok=True)
    (data_dir / "prompts").symlink_to(SPEECH_CACHE, target_is_directory=True)
    server = start_server(
        tmp,
        data_dir=data_dir,
        dialog="clinic",
        db_url=db_url,
        extra_args=["--no-rasa"],
        env={
            "CLINICLINE_HOURS_FILE": str(hours),
            "CLINICLINE_RING_TIMEOUT": "15",
            "CLINICLINE_WEBHOOK_URLS": ",".join(webhook_urls),
            "CLINICLINE_WEBHOOK_SECRET": SECRET,
            "CLINICLINE_WEBHOOK_ATTEMPTS": str(attempts),
        },
    )
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return Clinic(server, on_call_listen)


def _on_call_phone(clinic: Clinic) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clinicline.cli",
            "answer",
            "--listen",
            clinic.on_call_listen,
            "--user",
            "oncall",
            "--answer-after",
            "1",
            "--stay",
            "8",
            "--say",
            "On-call nurse speaking.",
            "--no-transcribe",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=clinic.server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _red_flag_call(clinic: Clinic) -> dict[str, Any]:
    """The patient's call; returns the on-call phone's first answered call and the store record."""
    on_call = _on_call_phone(clinic)
    try:
        time.sleep(2)  # the on-call phone registers its transport
        result = phone_call(
            clinic.server,
            "--caller",
            CALLER,
            "--say",
            RED_FLAG,
            "--wait",
            "6",
            "--listen",
            "20",
            "--no-transcribe",
        )
        out, _ = on_call.communicate(timeout=150)
    finally:
        on_call.kill()
    answered = json.loads(out[out.index("{") :])["calls"]
    record = wait_for_record(clinic.server, result["call_id"])
    kinds = [e["kind"] for e in record["events"]]
    # The call transferred as it always does: on-call line answered, caller bridged.
    assert answered and answered[0]["answered"], (answered, kinds, clinic.server.log()[-2000:])
    assert "transfer_offered" in kinds and "bridged" in kinds, kinds
    assert record["transferred"] and record["disposition"] == "emergency_transferred"
    return record


def _verify_signature(hit: Hit) -> None:
    """What a receiver does, written out independently of routing.webhooks."""
    stamp = hit.headers["X-Clinicline-Timestamp"]
    assert abs(time.time() - float(stamp)) < 300, stamp
    expected = hmac.new(
        SECRET.encode(), stamp.encode("ascii") + b"." + hit.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(hit.headers["X-Clinicline-Signature"], f"sha256={expected}")
    # A different secret, or a body changed in transit, does not verify.
    forged = hmac.new(b"not-the-secret", stamp.encode() + b"." + hit.body, hashlib.sha256)
    assert not hmac.compare_digest(hit.headers["X-Clinicline-Signature"], forged.hexdigest())


def _assert_no_phi_outside_body(hit: Hit, record: dict[str, Any]) -> None:
    assert hit.path == HOOK_PATH, hit.path  # no query string, nothing appended
    names = {name.lower() for name in hit.headers}
    assert names <= ALLOWED_HEADERS, names - ALLOWED_HEADERS
    outside = (hit.path + " " + " ".join(f"{k}: {v}" for k, v in hit.headers.items())).lower()
    for secret_word in (
        CALLER,
        CALLER.lstrip("+"),
        record["call_id"].lower(),
        "chest",
        "husband",
        "cardiac",
        SECRET,
    ):
        assert secret_word.lower() not in outside, (secret_word, outside)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(200).start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="module")
def failing_receiver() -> Iterator[Receiver]:
    r = Receiver(500).start()
    try:
        yield r
    finally:
        r.stop()


# Each attempt at the failing receiver times out (5 s), and the waits between them double from
# 0.5 s to 8 s: six attempts last ~45 s, longer than the call takes to end after the answer.
FAILING_ATTEMPTS = 6


@pytest.fixture(scope="module")
def failing_clinic(
    tmp_path_factory: pytest.TempPathFactory, failing_receiver: Receiver
) -> Iterator[tuple[Clinic, str]]:
    """A clinic whose receivers all fail: one answers 500, nothing listens at the other."""
    closed = f"http://127.0.0.1:{free_port()}{HOOK_PATH}"
    clinic = _start_clinic(
        tmp_path_factory.mktemp("webhooks-down"), [failing_receiver.url, closed], FAILING_ATTEMPTS
    )
    try:
        yield clinic, closed
    finally:
        clinic.server.stop()  # a no-op when a test has stopped it already


def test_transfer_events_reach_the_receiver_signed_with_the_cti_payload(
    tmp_path: Path, receiver: Receiver
) -> None:
    clinic = _start_clinic(tmp_path, [receiver.url])
    try:
        record = _red_flag_call(clinic)
        call_id = record["call_id"]

        def both_events(hits: list[Hit]) -> bool:
            events = {h.doc["event"] for h in hits if h.doc["data"]["call_id"] == call_id}
            return {"transfer.offered", "transfer.answered"} <= events

        hits = receiver.wait_for(both_events)
    finally:
        assert clinic.server.stop() == 0, clinic.server.log()[-3000:]

    mine = [h for h in hits if h.doc["data"]["call_id"] == call_id]
    assert [h.doc["event"] for h in mine] == ["transfer.offered", "transfer.answered"], mine
    assert not (clinic.server.data_dir / "webhooks-dead-letter.jsonl").exists()
    for hit in mine:
        _verify_signature(hit)
        _assert_no_phi_outside_body(hit, record)
        doc = hit.doc
        assert hit.headers["X-Clinicline-Event"] == doc["event"]
        assert hit.headers["Content-Type"] == "application/json"
        data = doc["data"]
        assert data["target"] == "on_call" and data["queue"] == record["transfer_queue"]
        assert data["emergent"] is True and data["agent_id"] is None
        payload = data["payload"]
        assert payload["schema_version"] == SCHEMA_VERSION
        assert schema_errors(payload, load_schema()) == [], payload
        assert payload["call_id"] == call_id
        assert payload["caller_number"] == CALLER == record["caller"]
        assert payload["emergent"] is True
        assert payload["triage"]["level"] == "emergent" == record["triage_level"]
        assert "cardiac" in payload["triage"]["flags"]
        assert set(payload["triage"]["flags"]) == set(record["flags"])
        assert any("chest" in line["text"].lower() for line in payload["transcript"])
        assert "emergent" in payload["summary"]
    # The answered event carries exactly the screen-pop the store kept for the call.
    assert mine[1].doc["data"]["payload"] == record["screen_pop"]


def _dead_letters(clinic: Clinic, call_id: str) -> list[dict[str, Any]]:
    """This call's dead-letter rows, each with its decrypted `body` as `doc`."""
    path = clinic.server.data_dir / "webhooks-dead-letter.jsonl"
    if not path.exists():
        return []
    cipher = Cipher(resolve_keys(clinic.server.db_url, None))
    rows = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        # PHI stays encrypted at rest: the body is a Fernet token, the rest holds no PHI.
        assert row["encrypted"] is True and not row["body"].startswith("{"), row
        clear = json.dumps({k: v for k, v in row.items() if k != "body"}).lower()
        assert CALLER not in clear and "chest" not in clear, clear
        row["doc"] = json.loads(cipher.decrypt(row["body"].encode("ascii")))
        if row["doc"]["data"]["call_id"] == call_id:
            rows.append(row)
    return rows


def _check_dead_letters(
    rows: list[dict[str, Any]],
    failing: Receiver,
    closed: str,
    events: set[str],
    failing_error: str = "HTTP 500",
) -> None:
    """Every event went to both URLs, failed all its attempts, and was dead-lettered once
    per URL with the full body."""
    assert {(r["url"], r["event"]) for r in rows} == {
        (url, event) for url in (failing.url, closed) for event in events
    }, rows
    assert len(rows) == 2 * len(events), rows
    for row in rows:
        assert row["attempts"] == FAILING_ATTEMPTS, row
        if row["url"] == failing.url:
            assert failing_error in row["error"], row
        else:  # connection refused: the client's error type, never a status
            assert row["error"] and "HTTP" not in row["error"], row
        assert row["doc"]["event"] == row["event"]
        assert row["doc"]["data"]["payload"]["triage"]["level"] == "emergent"


def test_failing_receivers_never_hold_up_the_transfer_and_shutdown_waits_out_their_retries(
    failing_clinic: tuple[Clinic, str], failing_receiver: Receiver
) -> None:
    """One receiver answers 500 after hanging past the sender's 5 s per-attempt timeout,
    nothing listens at the other URL. The call transfers and bridges as if no webhook were
    configured; SIGTERM comes while deliveries are still retrying (six attempts: ~45 s from
    the answer, past the end of the call however slow the machine), and the server waits them
    out before it exits: every event ends dead-lettered, none is lost."""
    clinic, closed = failing_clinic
    failing_receiver.delay = 6.0
    try:
        record = _red_flag_call(clinic)
        sigterm_at = time.time()
        code = clinic.server.stop(timeout=90)
    finally:
        failing_receiver.delay = 0.0
    assert code == 0, clinic.server.log()[-3000:]
    call_id = record["call_id"]
    events = {"transfer.offered", "transfer.answered"}
    hits = [h for h in failing_receiver.snapshot() if h.doc["data"]["call_id"] == call_id]
    # Retries went on after the signal, each freshly signed, and none was cut short: both
    # events went through all their attempts and into the dead-letter file, for both URLs.
    assert any(h.received > sigterm_at for h in hits), [(h.doc["event"], h.received) for h in hits]
    for hit in hits:
        _verify_signature(hit)
        _assert_no_phi_outside_body(hit, record)
    assert sorted(h.doc["event"] for h in hits) == sorted([*events] * FAILING_ATTEMPTS)
    rows = _dead_letters(clinic, call_id)
    _check_dead_letters(rows, failing_receiver, closed, events, "TimeoutError")
