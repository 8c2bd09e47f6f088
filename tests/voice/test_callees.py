"""The bank of simulated patients' phones (`voice.phone.callees`) that answers outbound calls.

Between processes, as the clinic's reminder calls will go: the bank runs as
`python -m voice.phone.callees` on a loopback port, and `clinicline call` (PatientPhone)
stands in for the clinic's bot, dialing `sip:{number}@127.0.0.1:PORT` for each behaviour.
All calls of the module run once, at most four at a time (pjsua's cap in the bank); the
tests then read both ends' logs.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clinicline.harness import (
    CLI,
    ROOT,
    crash_lines,
    free_port,
    start_callee_bank,
    stop_process,
)
from voice.asr.wer import word_error_rate
from voice.phone.callees import (
    Behaviour,
    PlanError,
    dialed_number,
    kept_headers,
    load_plan,
    normal_number,
)
from voice.phone.script import DtmfStep, SayStep, WaitStep

HUMAN, VOICEMAIL, BUSY, NO_ANSWER, FAIL, UNKNOWN = (
    "+15550100001",
    "+15550100002",
    "+15550100003",
    "+15550100004",
    "+15550100005",
    "+15550100099",
)
HUMAN_REPLY = "Yes, this is Sam speaking."
BOT_INTRO = "Hi, this is Maple Clinic calling for Sam."
BOT_REMINDER = "Your appointment is tomorrow at nine. Goodbye."
MESSAGE = "Hi Sam, this is Maple Clinic. Please call us back about your appointment."
PLAN = f"""
numbers:
  "{HUMAN}":
    kind: human
    answer_after: 1
    lines:
      - Hello?
      - say: {HUMAN_REPLY}
  "{VOICEMAIL}":
    kind: voicemail
    answer_after: 1
    greeting: You have reached Sam. Please leave a message after the tone.
    record_seconds: 9
  "{BUSY}": busy
  "{NO_ANSWER}": no_answer
  "{FAIL}": fail
"""


# -- the plan and the INVITE (no SIP) --------------------------------------------------------


def _plan(tmp_path: Path, text: str) -> dict[str, Behaviour]:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return load_plan(path)


def test_plan_reads_every_kind_with_defaults(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        PLAN
        + """
  "555-0100 06":
    kind: human
    lines: [Hi, {dtmf: 12}, {wait: 0.5}]
    hangup_after: 20
""",
    )
    assert {n: b.kind for n, b in plan.items()} == {
        HUMAN: "human",
        VOICEMAIL: "voicemail",
        BUSY: "busy",
        NO_ANSWER: "no_answer",
        FAIL: "fail",
        "555010006": "human",
    }
    assert plan[HUMAN].lines == (SayStep("Hello?"), SayStep(HUMAN_REPLY))
    assert plan[HUMAN].answer_after == 1.0 and plan[HUMAN].hangup_after is None
    assert plan["555010006"].lines == (SayStep("Hi"), DtmfStep("12"), WaitStep(0.5))
    assert plan["555010006"].answer_after == 1.5 and plan["555010006"].hangup_after == 20
    mail = plan[VOICEMAIL]
    assert (mail.record_seconds, mail.beep_hz, mail.beep_seconds) == (9.0, 1000.0, 0.5)


@pytest.mark.parametrize(
    "text, error",
    [
        ("- busy\n", "'numbers:' mapping"),
        ("numbers:\n  '1': voicemails\n", "kind must be one of"),
        ("numbers:\n  '1': {kind: busy, answer_after: 2}\n", "busy does not take answer_after"),
        ("numbers:\n  '1': {kind: human, answer_afer: 2}\n", "does not take answer_afer"),
        ("numbers:\n  '1': {kind: human, answer_after: soon}\n", "answer_after must be a number"),
        ("numbers:\n  '1': {kind: voicemail, record_seconds: 0}\n", "must be above 0"),
        ("numbers:\n  '1': {kind: voicemail, beep_hz: 5000}\n", "beep_hz must be below"),
        ("numbers:\n  '1': {kind: human, lines: []}\n", "non-empty list"),
        ("numbers:\n  '1': {kind: human, lines: [{dtmf: 1x}]}\n", "lines[0]: DTMF"),
        ("numbers:\n  '1': {kind: human, lines: [{barge: '1:hi'}]}\n", "say, dtmf, wait or play"),
        ("numbers:\n  '+1 555': busy\n  '+1555': fail\n", "appears twice"),
        ("numbers:\n  'a b@c': busy\n", "is not a number"),
        ("numbers: [\n", "cannot read plan"),
    ],
)
def test_bad_plans_are_refused_with_the_reason(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(PlanError) as caught:
        _plan(tmp_path, text)
    assert error in str(caught.value)


def test_number_and_headers_come_from_the_invite() -> None:
    invite = (
        "INVITE sip:%2B1555-0100-01@127.0.0.1:5090;transport=udp SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5060\r\n"
        'f: "Maple Clinic" <sip:clinic@127.0.0.1>;tag=1\r\n'
        "To: <sip:+15550100001@127.0.0.1:5090>\r\n"
        "i: abc@host\r\n"
        "X-Clinicline-Campaign: reminders\r\n"
        "x-reminder-id: r1\r\n"
        " continued\r\n"
        "Content-Length: 0\r\n\r\n"
        "v=0\r\ns=X-Not-A-Header: no\r\n"
    )
    assert normal_number(dialed_number(invite) or "") == "+1555010001"
    assert dialed_number("INVITE tel:+15550100001 SIP/2.0\r\n\r\n") == "+15550100001"
    assert dialed_number("OPTIONS sip:x@y SIP/2.0\r\n\r\n") is None
    assert kept_headers(invite) == {
        "From": '"Maple Clinic" <sip:clinic@127.0.0.1>;tag=1',
        "To": "<sip:+15550100001@127.0.0.1:5090>",
        "X-Clinicline-Campaign": "reminders",
        "x-reminder-id": "r1 continued",
    }


# -- real calls ----------------------------------------------------------------------------


@dataclass
class Calls:
    bank: dict[str, dict[str, Any]]  # the bank's log entry per number dialed
    dialer: dict[str, dict[str, Any]]  # `clinicline call`'s log per number dialed


def _dial(port: int, number: str, *args: str) -> dict[str, Any]:
    argv = [*CLI, "call", "--to", f"sip:{number}@127.0.0.1:{port}", *args]
    for _attempt in range(2):
        done = subprocess.run(
            argv, cwd=ROOT, capture_output=True, text=True, timeout=90, check=False
        )
        if "{" in done.stdout:
            result: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])
            return result
        if done.returncode >= 0:  # not a crash at start-up (see `harness.phone_call`)
            break
    raise AssertionError(f"dialer printed no JSON (exit {done.returncode}):\n{done.stderr}")


def _quick(port: int, numbers: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Dial each number in turn with a phone that needs no speech."""
    quiet = ("--voice", "espeak", "--say", "hello", "--no-transcribe")
    return {number: _dial(port, number, "--caller", "+15550190000", *quiet) for number in numbers}


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Calls]:
    tmp = tmp_path_factory.mktemp("callees")
    (tmp / "plan.yaml").write_text(PLAN)
    port = free_port(socket.SOCK_DGRAM)
    callees = start_callee_bank(
        tmp / "plan.yaml", port, tmp, "--calls", "6", "--timeout", "80"
    )
    bank, err_path, out_path = callees.process, callees.err, callees.log
    try:
        callees.wait_ready()
        with ThreadPoolExecutor(4) as pool:
            human = pool.submit(
                _dial, port, HUMAN, "--caller", "+15550190001",
                "--say", BOT_INTRO, "--say", BOT_REMINDER, "--turn-max", "8", "--listen", "0.5",
            )  # fmt: skip
            # The box hangs up once its 9 s of recording are over.
            voicemail = pool.submit(
                _dial, port, VOICEMAIL, "--caller", "+15550190002", "--say", MESSAGE,
                "--no-transcribe",
            )  # fmt: skip
            # PatientPhone gives up 10 s after dialing (`PhoneTiming.answer_timeout`).
            no_answer = pool.submit(_quick, port, [NO_ANSWER])
            short = pool.submit(_quick, port, [BUSY, FAIL, UNKNOWN])
            dialer = {HUMAN: human.result(), VOICEMAIL: voicemail.result()}
            dialer |= no_answer.result() | short.result()
        bank.wait(60)  # it stops after the sixth call and transcribes
        assert bank.returncode == 0, err_path.read_text()[-3000:]
        log = json.loads(out_path.read_text())
        assert log["refused_over_cap"] == 0
        yield Calls({c["number"]: c for c in log["calls"]}, dialer)
    finally:
        stop_process(bank)
        text = err_path.read_text()
        assert not crash_lines(text) and "Traceback" not in text, text[-3000:]


@pytest.mark.slow
def test_human_says_hello_then_answers_the_bot(calls: Calls) -> None:
    phone, record = calls.dialer[HUMAN], calls.bank[HUMAN]
    assert phone["connected"] and phone["status"] == 200, phone
    assert record["kind"] == "human" and record["sip_status"] == 200
    assert record["said"] == ["Hello?", HUMAN_REPLY]
    # Before the bot spoke, the bot heard only the pickup line ...
    assert "hello" in phone["greeting"].lower() and "sam" not in phone["greeting"].lower()
    # ... and the person's next line came as the reply to the bot's first line.
    # (A name is the word a phone line blurs most: "Sam" has come back as "sand", so the
    # reply is matched by its words, not by the name alone.)
    reply = phone["turns"][0]["heard"]
    assert word_error_rate([(HUMAN_REPLY, reply)]).rate <= 0.34, phone["turns"]
    assert "speaking" in reply.lower(), phone["turns"]
    heard = record["heard_turns"]
    assert len(heard) == 2, heard
    assert word_error_rate([(BOT_INTRO, heard[0])]).rate <= 0.25, heard
    assert "appointment" in heard[1].lower() and "tomorrow" in heard[1].lower(), heard
    assert record["ended_by"] == "caller" and record["answered_at"] >= record["rang_at"]
    assert record["call_id"] == phone["call_id"]
    assert "+15550190001" in record["headers"]["From"], record["headers"]


@pytest.mark.slow
def test_voicemail_plays_greeting_and_beep_then_keeps_the_message(calls: Calls) -> None:
    phone, record = calls.dialer[VOICEMAIL], calls.bank[VOICEMAIL]
    assert phone["connected"] and phone["turns"][0]["said"] == MESSAGE
    assert record["kind"] == "voicemail" and record["sip_status"] == 200
    assert record["said"][1] == "<beep>" and "leave a message" in record["said"][0]
    assert word_error_rate([(MESSAGE, record["message_left"])]).rate <= 0.25, record
    assert record["message_seconds"] > 2
    # The box hung up once its recording time was over; the dialer saw the far end leave.
    assert record["ended_by"] == "callee" and phone["hung_up_by"] == "bot"


@pytest.mark.slow
@pytest.mark.parametrize(
    "number, kind, status", [(BUSY, "busy", 486), (FAIL, "fail", 503), (UNKNOWN, "unknown", 404)]
)
def test_refused_numbers(calls: Calls, number: str, kind: str, status: int) -> None:
    phone, record = calls.dialer[number], calls.bank[number]
    assert not phone["connected"] and phone["status"] == status, phone
    assert phone["hung_up_by"] == "refused"
    assert record["kind"] == kind and record["sip_status"] == status
    assert record["answered_at"] is None and record["ended_by"] == "callee"
    assert "+15550190000" in record["headers"]["From"]


@pytest.mark.slow
def test_no_answer_rings_until_the_dialer_gives_up(calls: Calls) -> None:
    phone, record = calls.dialer[NO_ANSWER], calls.bank[NO_ANSWER]
    assert not phone["connected"] and phone["hung_up_by"] == "no_answer", phone
    # 180 Ringing was the bank's last word; the dialer's CANCEL ended it (487).
    assert record["kind"] == "no_answer" and record["sip_status"] == 180
    assert record["end_status"] == 487 and record["ended_by"] == "caller"
    assert record["answered_at"] is None and record["said"] == []
