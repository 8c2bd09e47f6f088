"""The SIP front under attack: INVITE floods and half-open calls, with real callers on the line.

A real `clinicline serve` (echo dialog: the voice path alone) on loopback. The attacker is
SIPp on a loopback address of its own (127.0.0.2); the clinic's callers are the patient phone
(`clinicline call`) on 127.0.0.1. Each test is the attack a review ran by hand: the server
must stay up, its log free of pjsip assertions, and real callers must be answered during and
after. Floods last seconds here; `clinicline bench --only-sip` measures longer ones.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from clinicline.harness import (
    ServerProcess,
    crash_lines,
    final_answer_to_invite,
    phone_call,
    sipp_counts,
    start_sipp,
    wait_for_record,
)

pytestmark = pytest.mark.slow

SIPP = Path(__file__).parent / "sipp"


def _assert_alive_and_clean(server: ServerProcess) -> None:
    assert server.process.poll() is None, f"server died:\n{server.log()[-3000:]}"
    assert not crash_lines(server.log()), server.log()[-3000:]


def _workers(server: ServerProcess) -> dict[str, Any]:
    workers: dict[str, Any] = server.health()["components"]["workers"]
    return workers


def _a_real_call(server: ServerProcess, line: str) -> dict[str, Any]:
    """A caller who speaks one line and hears the echo dialog's answer."""
    return phone_call(server, "--say", line, "--listen", "2", "--no-transcribe")


def _completed(server: ServerProcess, result: dict[str, Any]) -> dict[str, Any]:
    assert result["connected"] and result["exit_code"] == 0, result
    record = wait_for_record(server, result["call_id"])
    caller = [t["text"] for t in record["turns"] if t["speaker"] == "caller"]
    assert record["ended"] and caller, record
    return record


@pytest.mark.parametrize(("rate", "calls"), [(200, 1000), (50, 250)])
def test_invite_flood_during_a_live_call_leaves_server_and_callers_standing(
    server: ServerProcess, tmp_path: Path, rate: int, calls: int
) -> None:
    before = _workers(server)["invites_refused"]
    live: dict[str, Any] = {}
    caller = threading.Thread(
        target=lambda: live.update(
            phone_call(
                server, "--say", "I would like to book an appointment for next week",
                "--wait", "6", "--say", "and can somebody call me back this afternoon",
                "--listen", "2", "--no-transcribe",
            )
        )
    )  # fmt: skip
    caller.start()
    time.sleep(5)  # the live call is up and talking when the flood starts
    flood = start_sipp(server, tmp_path, rate=rate, calls=calls, timeout=30)
    time.sleep(1.5)
    during = _a_real_call(server, "what time do you open tomorrow")
    flood.wait(60)
    caller.join(120)
    after = _a_real_call(server, "is my insurance still on file with you")

    _assert_alive_and_clean(server)
    for result in (live, during, after):
        _completed(server, result)
    counts = sipp_counts(tmp_path)
    refused = _workers(server)["invites_refused"]
    turned_away = sum(refused[k] - before[k] for k in ("rate_limited", "dropped", "busy"))
    print(f"flood {rate}/s x {calls}: sipp {counts}, refused {refused}")
    assert counts["created"] == calls
    # Most of the flood was turned away at the door, a few calls of it were taken.
    assert turned_away >= calls // 2 and counts["successful"] < calls // 10, (counts, refused)


def test_unacked_invites_free_their_slots_and_a_real_caller_gets_through(
    server: ServerProcess, tmp_path: Path
) -> None:
    # The flood tests before this one share the server: a flood call SIPp abandoned holds its
    # slot until our BYE to it times out (32 s). Four slots must be free for the count below.
    deadline = time.monotonic() + 60
    while (workers := _workers(server))["slots_in_use"]:
        assert time.monotonic() < deadline, ("slots still held before the attack", workers)
        time.sleep(0.2)
    unacked_before = workers["calls_unacked"]
    attack = start_sipp(
        server, tmp_path, rate=20, calls=4, scenario=SIPP / "invite_never_ack.xml", timeout=60,
        trace=True,
    )  # fmt: skip
    degraded_at = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        health = server.health()
        if health["components"]["workers"]["state"] == "degraded":
            degraded_at = time.monotonic()
            break
        time.sleep(0.1)
    assert degraded_at is not None, "four half-open calls should fill the worker's 4 slots"
    assert health["status"] == "degraded", health
    assert "at capacity" in health["components"]["workers"]["detail"], health
    # Asked from a bare socket: a phone's seconds of start-up could outlast the 4 s ACK timer.
    refused_while_full = final_answer_to_invite(server.sip_port)
    assert refused_while_full.startswith("SIP/2.0 486"), refused_while_full

    # pjsip alone would hold the slots until its 2xx retransmissions give up (32 s).
    deadline = time.monotonic() + 25
    while server.health()["status"] != "ready":  # a slot is free again
        assert time.monotonic() < deadline, server.health()
        time.sleep(0.1)
    while (workers := _workers(server))["slots_in_use"]:
        assert time.monotonic() < deadline, workers
        time.sleep(0.1)
    print(f"all slots free {time.monotonic() - degraded_at:.1f} s after the worker filled up")
    assert workers["calls_unacked"] - unacked_before == 4, workers
    assert server.log().count("no ACK") >= 4

    _completed(server, _a_real_call(server, "can I book an appointment with doctor Patel"))
    attack.wait(60)
    _assert_alive_and_clean(server)


def _received(messages_log: Path) -> list[str]:
    """The messages SIPp received, each once (SIPp logs an unexpected one a second time)."""
    blocks = messages_log.read_text().split("-----------------------------------------------")
    return [
        block.split("bytes :", 1)[1].strip()
        for block in blocks
        if "UDP message received [" in block and "Unexpected" not in block
    ]


def test_source_over_its_rate_gets_503_with_retry_after_then_silence(
    server: ServerProcess, tmp_path: Path
) -> None:
    """60 INVITEs in 0.6 s from one address: its burst of 5 is taken, then one INVITE a second
    (SIPp retransmits the others for 8 s); the rest is answered 503 + Retry-After once a
    second, statelessly (no 100 Trying first), and otherwise dropped unanswered."""
    started = time.monotonic()
    flood = start_sipp(server, tmp_path, rate=100, calls=60, source="127.0.0.3", trace=True)
    flood.wait(60)
    seconds = time.monotonic() - started
    received = _received(tmp_path / "messages.log")
    refusals = [m for m in received if m.startswith("SIP/2.0 503")]
    assert refusals and all("Retry-After: " in m for m in refusals), refusals[:2]
    trying = {_call_id(m) for m in received if m.startswith("SIP/2.0 100")}
    assert not trying & {_call_id(m) for m in refusals}  # refused before any transaction
    counts = sipp_counts(tmp_path)
    assert counts["successful"] + counts["refused"] + counts["unanswered"] == 60, counts
    assert counts["successful"] <= 5 + seconds, (counts, seconds)
    assert len(refusals) <= 1 + seconds, (len(refusals), seconds)
    _assert_alive_and_clean(server)


def _call_id(message: str) -> str:
    for line in message.splitlines():
        if line.lower().startswith(("call-id:", "i:")):
            return line.split(":", 1)[1].strip()
    return ""
