"""A red flag is acted on in every phase of a call: one real call per `CallPhase`.

Each row places a real call (the patient phone, its own pjsua2 process) that reaches one
phase and says a red flag there; where the phase needs a person, a real front-desk phone
answers and its agent is signed in to the console. The record must show the flag in that
phase and the truth about what followed: the emergency message started at once and played
to its end, a transfer already under way turned into the emergent one (its offer withdrawn,
the ringing phone hung up), and "transferred" only when someone answered. On a bridged call
the person on the line gets the flag on her console instead.

The table is keyed by `CallPhase`: a phase added without its row fails here.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest

from clinicline.harness import (
    ROOT,
    ServerProcess,
    phone_call,
    start_demo_clinic,
    wait_for_record,
    when_logged,
)
from tests.staff_lines import ON_CALL, STAFF_PORT, always_open_hours, desk
from voice.session.phase import CallPhase

pytestmark = pytest.mark.slow

FRONT_DESK = desk("front1")
# The emergency message must start this soon after the flag fired. The goal is one second
# (what `clinicline bench` reports); this bound only catches a message that waits for
# something else to finish, as the hold prompt once made it wait 43 s.
MESSAGE_LAG_BOUND = 3.0

COLLAPSE = "my husband just collapsed and he is not breathing"
CHEST = "I have crushing chest pain and my left arm is numb"
SEIZURE = "now he is shaking all over, he is having a seizure"


@dataclass(frozen=True)
class FrontDesk:
    """front1 signed in and available; her phone answers (or not) as set."""

    mode: Literal["answer", "ignore"] = "answer"
    accept_key: str = "1"  # "none": she answers but never takes the call


@dataclass(frozen=True)
class Row:
    server: Literal["keypad", "rasa"]
    steps: tuple[str, ...]  # `clinicline call` arguments up to and including the red flag
    front_desk: FrontDesk | None = None
    # A routine transfer was under way when the flag came: its offer must be withdrawn.
    replaces_transfer: bool = False


ROWS: dict[CallPhase, Row] = {
    CallPhase.GREETING: Row("keypad", ("--barge", f"1.0:{COLLAPSE}")),
    CallPhase.LISTENING: Row("rasa", ("--say", CHEST)),
    # A question the bot answers outside any form. Not "opening hours": misheard as "what
    # are your opening now" it was an appointment request, and the flag fell in the form.
    CallPhase.PROMPT: Row(
        "rasa", ("--say", "where is the clinic located", "--barge", f"0.8:{CHEST}")
    ),
    CallPhase.IDENTITY_FORM: Row(
        "rasa", ("--say", "I would like to book an appointment", "--say", COLLAPSE)
    ),
    CallPhase.KEYPAD_MENU: Row("keypad", ("--say", COLLAPSE)),
    CallPhase.TRANSFER_HOLD: Row(
        "keypad", ("--dtmf", "0", "--barge", f"0.8:{CHEST}"), front_desk=FrontDesk("ignore")
    ),
    CallPhase.CONSULT_RINGING: Row(
        "keypad",
        ("--dtmf", "0", "--say-after", f"7:{COLLAPSE}"),
        front_desk=FrontDesk("ignore"),
        replaces_transfer=True,
    ),
    CallPhase.WHISPER: Row(
        "keypad",
        ("--dtmf", "0", "--say-after", f"9:{CHEST}"),
        front_desk=FrontDesk("answer", accept_key="none"),
        replaces_transfer=True,
    ),
    CallPhase.QUEUE_CHOICE: Row(
        "keypad", ("--dtmf", "0", "--say-after", f"8:{COLLAPSE}"), replaces_transfer=True
    ),
    CallPhase.HOLD_QUEUE: Row(
        "keypad",
        ("--dtmf", "0", "--wait", "6", "--dtmf", "1", "--wait", "2", "--say", CHEST),
        replaces_transfer=True,
    ),
    CallPhase.BRIDGED: Row(
        "keypad",
        ("--dtmf", "0", "--say-after", f"15:{CHEST}"),
        front_desk=FrontDesk("answer"),
    ),
    CallPhase.GOODBYE: Row(
        "keypad", ("--dtmf", "0", "--wait", "6", "--dtmf", "2", "--barge", f"1.0:{COLLAPSE}")
    ),
    CallPhase.EMERGENCY: Row("keypad", ("--say", CHEST, "--barge", f"2.0:{SEIZURE}")),
}


@pytest.fixture(scope="module")
def keypad_clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    server = start_demo_clinic(
        tmp_path_factory.mktemp("red-flag-phases"),
        staff_port=STAFF_PORT,
        data_dir=speech_data_dir,
        env={
            "CLINICLINE_HOURS_FILE": str(always_open_hours()),
            "CLINICLINE_RING_TIMEOUT": "10",
            "CLINICLINE_ACCEPT_TIMEOUT": "14",
            "CLINICLINE_MAX_HOLD_SECONDS": "60",
        },
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()[-3000:]


@pytest.fixture(scope="module", autouse=True)
def on_call_phone(keypad_clinic: ServerProcess) -> Iterator[None]:
    """The on-call line rings (nobody picks up) while emergent callers wait in these rows."""
    phone = subprocess.Popen(
        [
            sys.executable, "-m", "clinicline.cli", "answer", "--listen", ON_CALL,
            "--user", "oncall", "--mode", "ignore", "--calls", "100", "--timeout", "3600",
            "--no-transcribe",
        ],
        cwd=ROOT, env=keypad_clinic.env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert phone.stdout is not None and "agent phone ready" in phone.stdout.readline()
        yield
    finally:
        phone.terminate()
        try:
            phone.wait(timeout=20)
        except subprocess.TimeoutExpired:
            phone.kill()
            phone.wait()


@dataclass
class SignedIn:
    http: aiohttp.ClientSession
    messages: list[dict[str, Any]]


@pytest.fixture
async def front_desk_console(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """Signs front1 in for a row (with her console's socket open) and out afterwards."""
    opened: list[tuple[SignedIn, asyncio.Task[None]]] = []

    async def sign_in(server: ServerProcess) -> SignedIn:
        base = f"http://127.0.0.1:{server.http_port}"
        http = aiohttp.ClientSession(
            headers={"Origin": base}, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        login = {"username": "front1", "password": "front1-demo"}
        async with http.post(f"{base}/console/login", json=login) as r:
            assert r.status == 200, await r.text()
        ws = await http.ws_connect(f"{base}/console/ws")
        signed = SignedIn(http, [])

        async def listen() -> None:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    signed.messages.append(json.loads(message.data))

        listener = asyncio.create_task(listen())
        async with http.post(f"{base}/console/presence", json={"presence": "available"}) as r:
            assert r.status == 200, await r.text()
        opened.append((signed, listener))
        return signed

    yield sign_in
    for signed, listener in opened:
        base = str(signed.http.headers["Origin"])
        async with signed.http.post(f"{base}/console/presence", json={"presence": "away"}):
            pass
        listener.cancel()
        await signed.http.close()


def _front_desk_phone(server: ServerProcess, desk: FrontDesk) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "clinicline.cli", "answer", "--listen", FRONT_DESK,
            "--user", "front1", "--mode", desk.mode, "--accept-key", desk.accept_key,
            "--answer-after", "1", "--stay", "40", "--say", "Front desk, how can I help?",
            "--no-transcribe", "--timeout", "120",
        ],
        cwd=ROOT, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def _phone_log(process: subprocess.Popen[str]) -> dict[str, Any]:
    if process.poll() is None:
        process.terminate()
    out, _ = process.communicate(timeout=60)
    return json.loads(out[out.index("{") :]) if "{" in out else {"calls": []}


@pytest.mark.parametrize("phase", list(CallPhase), ids=lambda p: p.value)
async def test_a_red_flag_is_acted_on_in_every_phase(
    phase: CallPhase, request: pytest.FixtureRequest, front_desk_console: Any, tmp_path: Path
) -> None:
    row = ROWS[phase]  # a KeyError here: a phase was added without its row
    server: ServerProcess = request.getfixturevalue(f"{row.server}_clinic")
    desk_phone = console = None
    if row.front_desk is not None:
        console = await front_desk_console(server)
        desk_phone = _front_desk_phone(server, row.front_desk)
        assert desk_phone.stdout is not None
        ready = await asyncio.wait_for(asyncio.to_thread(desk_phone.stdout.readline), 60)
        assert "agent phone ready" in ready, ready
    # The caller stays on until the emergency message has ended (the server logs it; on a
    # slow machine a pause before it once passed for its end), then leaves 3 s into the
    # hold music after it: the ring-out to the on-call line is another test's subject.
    message_over = tmp_path / "message-over"
    steps = row.steps
    if phase is not CallPhase.BRIDGED:
        steps = (*steps, "--wait-for", f"60:{message_over}")
    watch = asyncio.create_task(when_logged(server, "emergency message ", message_over))
    try:
        result = await asyncio.to_thread(
            phone_call, server, *steps, "--turn-max", "20", "--listen", "3", "--no-transcribe",
        )  # fmt: skip
    finally:
        watch.cancel()
        desk_log = _phone_log(desk_phone) if desk_phone is not None else None
    record = wait_for_record(server, result["call_id"])
    events = record["events"]
    kinds = [e["kind"] for e in events]
    said_in = [e["data"] for e in events if e["kind"] == "triage"]
    flag = next((t for t in said_in if t["phase"] == phase.value), None)
    heard = [t["text"] for t in record["turns"] if t["speaker"] == "caller"]
    assert flag is not None, (
        f"no flag in {phase.value}",
        [t["phase"] for t in said_in],
        kinds,
        heard,
    )
    assert flag["level"] == "emergent", flag

    if phase is CallPhase.BRIDGED:
        # A person is on the line: no emergency message over her, the flag on her console.
        assert record["transferred"] and not record["emergency_messages"], record
        assert "flag_on_call" in kinds, kinds
        assert console is not None
        alerts = [m for m in console.messages if m.get("type") == "flag"]
        assert alerts and alerts[0]["alert"]["level"] == "emergent", console.messages
        return

    plays = record["emergency_messages"]
    assert plays, ("the emergency message never played", kinds)
    lag = datetime.fromisoformat(plays[0]["started"]) - datetime.fromisoformat(flag["at"])
    if phase is not CallPhase.EMERGENCY:
        print(f"{phase.value}: emergency message {lag.total_seconds():.3f} s after the flag")
        assert lag.total_seconds() < MESSAGE_LAG_BOUND, (lag, plays, flag)
    assert plays[0]["outcome"] == "completed" and record["emergency_message_played"], plays
    if phase is CallPhase.EMERGENCY:
        # Said over the message itself: it is not restarted, and the flag is recorded. It
        # plays again only once no nurse has answered, before the on-call line rings.
        ends = [i for i, kind in enumerate(kinds) if kind == "emergency_message"]
        assert all("transfer_no_answer" in kinds[ends[0] : i] for i in ends[1:]), kinds
    transfers = [e["data"] for e in events if e["kind"] == "transfer"]
    assert transfers and transfers[-1]["emergent"], transfers
    offered = [e["data"] for e in events if e["kind"] == "transfer_offered"]
    assert offered and offered[-1]["emergent"], offered
    if row.replaces_transfer:
        assert transfers[0]["emergent"] is False and "transfer_escalated" in kinds, kinds
    # The caller hung up while the emergent transfer rang nobody: the record says so.
    assert not record["transferred"] and record["disposition"] == "abandoned", record
    if desk_log is not None and phase in (CallPhase.CONSULT_RINGING, CallPhase.WHISPER):
        # The front desk's phone was never left ringing (or connected) for this caller.
        calls = desk_log["calls"]
        assert calls and calls[0]["ended_by"] == "remote", calls


async def test_a_caller_who_hangs_up_during_the_emergency_message_is_recorded_as_such(
    keypad_clinic: ServerProcess,
) -> None:
    # The flag over the greeting, then the caller leaves a few seconds into the message (as
    # it tells them to: "hang up and dial 911").
    result = await asyncio.to_thread(
        phone_call, keypad_clinic, "--barge", f"1.0:{COLLAPSE}", "--hangup-after", "9",
        "--no-transcribe",
    )  # fmt: skip
    record = wait_for_record(keypad_clinic, result["call_id"])
    plays = record["emergency_messages"]
    assert [p["outcome"] for p in plays] == ["caller_hung_up"], plays
    assert plays[0]["seconds"] < 7.0 and not record["emergency_message_played"], plays
    assert record["triage_level"] == "emergent" and not record["transferred"]
    assert record["disposition"] == "abandoned", record["disposition"]


async def test_a_red_flag_while_a_nurse_hears_the_summary_keeps_her_and_tells_her(
    keypad_clinic: ServerProcess,
) -> None:
    """Keypad 1 (the nurse line): nurse1 answers and hears the summary; before she takes the
    call the caller says a red flag. She stays on the line, her card turns emergent and she
    hears the update while the caller hears the emergency message; then they are bridged."""
    base = f"http://127.0.0.1:{keypad_clinic.http_port}"
    http = aiohttp.ClientSession(
        headers={"Origin": base}, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    nurse = subprocess.Popen(
        [
            sys.executable, "-m", "clinicline.cli", "answer", "--listen", desk("nurse1"),
            "--user", "nurse1", "--answer-after", "1", "--accept-after", "13", "--stay", "44",
            "--say", "This is the nurse, I am with you.", "--timeout", "120",
        ],
        cwd=ROOT, env=keypad_clinic.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        login = {"username": "nurse1", "password": "nurse1-demo"}
        async with http.post(f"{base}/console/login", json=login) as r:
            assert r.status == 200, await r.text()
        ws = await http.ws_connect(f"{base}/console/ws")
        pops: list[dict[str, Any]] = []

        async def listen() -> None:
            async for message in ws:
                data = json.loads(message.data)
                if data.get("type") == "offer":
                    pops.append(data["pop"])

        listener = asyncio.create_task(listen())
        async with http.post(f"{base}/console/presence", json={"presence": "available"}) as r:
            assert r.status == 200
        assert nurse.stdout is not None and "agent phone ready" in nurse.stdout.readline()
        result = await asyncio.to_thread(
            phone_call, keypad_clinic, "--dtmf", "1", "--say-after", f"8:{CHEST}",
            "--wait", "12", "--listen", "4", "--no-transcribe",
        )  # fmt: skip
        out, _ = await asyncio.to_thread(nurse.communicate, timeout=120)
        listener.cancel()
        async with http.post(f"{base}/console/presence", json={"presence": "away"}):
            pass
    finally:
        await http.close()
        if nurse.poll() is None:
            nurse.kill()
            nurse.wait()
    record = wait_for_record(keypad_clinic, result["call_id"])
    said_in = [e["data"]["phase"] for e in record["events"] if e["kind"] == "triage"]
    assert said_in == ["whisper"], said_in
    escalated = [e["data"] for e in record["events"] if e["kind"] == "transfer_escalated"]
    assert escalated and escalated[0]["in_place"] and escalated[0]["emergent"], escalated
    assert [p["outcome"] for p in record["emergency_messages"]] == ["completed"]
    # The same nurse took the call: emergent, answered, bridged.
    assert record["transferred"] and record["disposition"] == "emergency_transferred", record
    assert [p["emergent"] for p in pops] == [False, True], pops  # her card turned emergent
    heard = json.loads(out[out.index("{") :])["calls"][0]["heard"].lower()
    # What she heard before the flag named no symptom and no urgency; the whispered update
    # ("Update. Unverified caller, cardiac ..., emergent.") does. The agent phone's
    # recogniser (whisper tiny, on a loaded machine) has dropped the short "Update." and
    # written "emergent" as "emergency" or "stroke", so the audio check asks for any word
    # only the update says; the record and her card above say exactly what changed.
    update_words = ("update", "cardiac", "chest", "emergen")
    assert not any(w in pops[0]["whisper"].lower() for w in update_words), pops[0]
    assert pops[1]["whisper"].startswith("Update."), pops[1]
    assert any(w in heard for w in update_words), heard
