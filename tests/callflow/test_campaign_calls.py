"""A reminder campaign placed by the real server to a bank of simulated patients' phones.

Between processes, over SIP, with real audio both ways: `clinicline serve` (no Rasa: the
campaign's dialog is the product conversation's own) dials through `outbound_trunk` to
`python -m voice.phone.callees`, which answers each demo patient's number as a person (with
Piper's voice), a voicemail box or a busy line. The campaign is created and started with the
`clinicline campaign` commands, as a supervisor would; the tests then read the campaign, the
call records, the store and what the phones heard.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicline.harness import (
    CLI,
    ROOT,
    ServerProcess,
    crash_lines,
    free_port,
    heard_911,
    heard_phrase,
    phone_call,
    seed_demo_clinic,
    start_callee_bank,
    start_server,
    stop_process,
)
from integrations.store import Database
from integrations.store.models import Appointment, Patient
from tests.staff_lines import STAFF_PORT, always_open_hours
from voice.audio.amd import REASON_LATE_BEEP

MARIA, JAMES, AISHA, DANIEL = "DEMO0001", "DEMO0002", "DEMO0003", "DEMO0004"
# A demo patient whose phone is a voicemail box with a short greeting that pauses before its
# beep: a person to the answering-machine detector, until the beep.
SAM_BOX = "DEMO0102"
# A demo patient who is driving when called; asked when suits her: "call me back after six".
LATER = "DEMO0103"
# Said on pickup, before the bot has said a word: a long "greeting" that the detector may well
# take for a voicemail box. It is screened all the same.
RED_FLAG = "Hello? Please help, my chest hurts really bad and I can't catch my breath."


@dataclass
class Run:
    server: ServerProcess
    db_url: str
    campaign: dict[str, Any]
    results: dict[str, dict[str, Any]]  # by MRN
    bank: dict[str, dict[str, Any]]  # by MRN: the phone's own log of its (last) call
    bank_calls: list[dict[str, Any]]
    people: dict[str, dict[str, Any]]  # by MRN: number, names, appointment
    tmp: Path
    check_in: dict[str, Any]  # the post-discharge campaign (one patient, a red flag)
    results_ready: dict[str, Any]  # a results-ready campaign (one patient, a late beep)
    call_back: dict[str, Any]  # a results-ready campaign (one patient: "call me after six")
    inbound: dict[str, Any]  # an inbound call placed while the campaigns ran


def _cli(db_url: str, *args: str) -> Any:
    done = subprocess.run(
        [*CLI, *args, "--db", db_url], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout) if done.stdout.strip().startswith(("{", "[")) else done.stdout


async def _people(db_url: str) -> dict[str, dict[str, Any]]:
    db = await Database.connect(db_url)
    try:
        async with db.session() as s:
            rows = (
                await s.execute(
                    select(Patient, Appointment)
                    .join(Appointment, Appointment.patient_id == Patient.id)
                    .where(Appointment.status == "booked")
                )
            ).all()
            found = {
                p.mrn: {
                    "id": p.id,
                    "first": p.first_name,
                    "last": p.last_name,
                    "number": p.phones[0].number,
                    "appointment": a.id,
                    "start": a.start,
                }
                for p, a in rows
                if p.mrn
            }
            for mrn in (DANIEL, SAM_BOX, LATER):  # called by campaigns of a list, not reminders
                person = await s.scalar(select(Patient).where(Patient.mrn == mrn))
                assert person is not None
                found[mrn] = {
                    "id": person.id,
                    "first": person.first_name,
                    "last": person.last_name,
                    "number": person.phones[0].number,
                    "appointment": None,
                    "start": None,
                }
            return found
    finally:
        await db.dispose()


def _plan(people: dict[str, dict[str, Any]]) -> str:
    # James says it again when asked for his date of birth, as a person would who was not
    # heard: CI67's Piper rendering of "Please stop calling me." was heard "Please start calling
    # me." (3 of 20 renderings here do that), he was asked his date of birth, the call ended
    # unresolved, and his retry took the bank's last call from the callee who says "after six".
    others = _others(people)
    voicemail, busy = others[0], others[1]
    return f"""numbers:
  "{people[MARIA]["number"]}":
    kind: human
    lines: ["Hello?", "Maria Lopez.", "March fourth, nineteen seventy two.", "Yes, I'll be there."]
  "{people[JAMES]["number"]}":
    kind: human
    lines: ["Hello?", "Please stop calling me.", "I said stop calling me."]
  "{people[AISHA]["number"]}":
    kind: human
    lines: ["Hello?", "Aisha Khan.", "July nineteenth, nineteen ninety.", "I need to reschedule it.", "The first one, please."]
  "{people[voicemail]["number"]}":
    kind: voicemail
    greeting: "Hi, you've reached my phone. I can't take your call right now. Please leave a message after the tone and I'll get back to you."
    record_seconds: 20
  "{people[busy]["number"]}": busy
  "{people[DANIEL]["number"]}":
    kind: human
    lines: ["{RED_FLAG}"]
    hangup_after: 50
  "{people[SAM_BOX]["number"]}":
    kind: voicemail
    greeting: "Hi, it's Sam."
    beep_after: 2.5
    record_seconds: 15
  "{people[LATER]["number"]}":
    kind: human
    lines: ["Hello?", "Sorry, I'm driving right now.", "Can you call me back after six?"]
"""  # noqa: E501


def _others(people: dict[str, dict[str, Any]]) -> list[str]:
    """The demo patients with an appointment besides the three key ones (voicemail, busy)."""
    return sorted(m for m in people if m not in (MARIA, JAMES, AISHA, DANIEL, SAM_BOX, LATER))


def _list_campaign(db_url: str, tmp: Path, name: str, kind: str, person: dict[str, Any]) -> str:
    """A campaign calling one patient from a list, any time of day (a results call once)."""
    listed = tmp / f"{name.replace(' ', '-')}.csv"
    listed.write_text(f"{person['id']}\n")
    created = _cli(
        db_url, "campaign", "create", "--name", name, "--kind", kind, "--patients", str(listed),
        "--window", "00:00-23:59", "--max-attempts", "1" if kind == "results_ready" else "3",
    )  # fmt: skip
    return str(created["campaign"])


def _wait_done(db_url: str, campaign_id: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    status: dict[str, Any] = _cli(db_url, "campaign", "status", campaign_id)
    while status["status"] != "done" and time.monotonic() < deadline:
        time.sleep(3)
        status = _cli(db_url, "campaign", "status", campaign_id)
    return status


@pytest.fixture(scope="module")
def campaign_run(tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("campaign")
    db_url = f"sqlite+aiosqlite:///{tmp / 'clinic.db'}"
    seed_demo_clinic(db_url, STAFF_PORT)
    people = asyncio.run(_people(db_url))
    assert {MARIA, JAMES, AISHA} <= set(people) and len(people) >= 5, sorted(people)
    (tmp / "plan.yaml").write_text(_plan(people))
    port = free_port(socket.SOCK_DGRAM)
    # Five reminders (the busy line tried twice), one post-discharge check-in and two
    # results-ready calls.
    callees = start_callee_bank(
        tmp / "plan.yaml", port, tmp, "--voice", "piper", "--calls", "9", "--timeout", "600"
    )
    bank, err_path, out_path = callees.process, callees.err, callees.log
    server = start_server(
        tmp,
        data_dir=speech_data_dir,
        dialog="clinic",
        db_url=db_url,
        extra_args=["--no-rasa"],
        env={
            "CLINICLINE_HOURS_FILE": str(always_open_hours()),
            "CLINICLINE_OUTBOUND_TRUNK": f"sip:{{number}}@127.0.0.1:{port}",
            "CLINICLINE_OUTBOUND_SLOTS": "2",
            "CLINICLINE_OUTBOUND_RING_TIMEOUT": "10",
        },
    )
    try:
        server.wait_ready(180, ("ready", "degraded"))
        callees.wait_ready()
        today = date.today()
        created = _cli(
            db_url, "campaign", "create", "--name", "reminders", "--kind", "reminder",
            "--appointments", f"{today}:{today + timedelta(days=40)}", "--window", "00:00-23:59",
            "--max-attempts", "2", "--retry-minutes", "0", "--pace", "10",
        )  # fmt: skip
        campaign_id = str(created["campaign"])
        check_in = _list_campaign(db_url, tmp, "check-ins", "post_discharge", people[DANIEL])
        results_ready = _list_campaign(db_url, tmp, "results", "results_ready", people[SAM_BOX])
        call_back = _list_campaign(db_url, tmp, "call back", "results_ready", people[LATER])
        for started in (campaign_id, check_in, results_ready, call_back):
            assert _cli(db_url, "campaign", "start", started)["status"] == "running"
        time.sleep(4)  # two campaign calls under way
        inbound = phone_call(server, "--voice", "flite", "--wait", "2", timeout=120)
        status = _wait_done(db_url, campaign_id, 600)
        checked = _wait_done(db_url, check_in, 120)
        results_done = _wait_done(db_url, results_ready, 120)
        called_back = _wait_done(db_url, call_back, 120)
        # It stops after its ninth call and transcribes what it heard: on a 2-core machine with
        # four test workers that took over 120 s (CI53, CI55 on 2026-12-05: the module errored).
        bank.wait(600)
        log = json.loads(out_path.read_text())
        export = _cli(db_url, "campaign", "export", campaign_id)
        lines = export.strip().splitlines()
        header = lines[0].split(",")
        rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
        by_patient = {str(p["id"]): mrn for mrn, p in people.items()}
        results = {by_patient[r["patient_id"]]: r for r in rows}
        by_number = {p["number"]: mrn for mrn, p in people.items()}
        bank_log = {by_number["+" + c["number"].lstrip("+")]: c for c in log["calls"]}
        yield Run(
            server, db_url, status, results, bank_log, log["calls"], people, tmp, checked,
            results_done, called_back, inbound,
        )  # fmt: skip
    finally:
        stop_process(bank)
        code = server.stop()
        text = err_path.read_text()
        assert not crash_lines(text) and "Traceback" not in text, text[-3000:]
        assert code == 0, server.log()[-3000:]


def _record(run: Run, mrn: str) -> dict[str, Any]:
    call_id = run.results[mrn]["last_call_id"]
    assert call_id, run.results[mrn]
    return _cli(run.db_url, "calls", "show", call_id)  # type: ignore[no-any-return]


def test_every_patient_ends_with_an_outcome(campaign_run: Run) -> None:
    status = campaign_run.campaign
    assert status["status"] == "done", status
    others = _others(campaign_run.people)
    outcomes = {mrn: r["outcome"] for mrn, r in campaign_run.results.items()}
    assert outcomes == {
        MARIA: "confirmed",
        JAMES: "opted_out",
        AISHA: "rescheduled",
        others[0]: "voicemail_left",
        others[1]: "busy",
        **{m: outcomes[m] for m in others[2:]},
    }, outcomes
    assert campaign_run.results[others[1]]["attempts"] == "2"  # busy: tried again, then ended
    assert status["attempts"]["busy"] == 2


def test_a_person_is_verified_before_hearing_anything_about_her_and_confirms(
    campaign_run: Run,
) -> None:
    phone = campaign_run.bank[MARIA]
    before = phone["heard_turns"][0].lower() if phone["heard_turns"] else phone["heard"].lower()
    assert "appointment" not in before and "maria" not in before, phone["heard_turns"]
    assert "confirmed" in phone["heard"].lower()
    record = _record(campaign_run, MARIA)
    assert record["direction"] == "outbound"
    assert record["disposition"] == "appointment_confirmed"
    assert record["verified"] is True or record.get("verified_patient_id"), record
    kinds = [e["kind"] for e in record["events"]]
    assert "answering_machine_detection" in kinds and "appointment_confirmed" in kinds


def test_stop_calling_me_is_honoured_at_once_and_on_the_next_campaign(campaign_run: Run) -> None:
    phone = campaign_run.bank[JAMES]
    assert "won't call" in phone["heard"].lower() or "will not call" in phone["heard"].lower()
    assert _record(campaign_run, JAMES)["disposition"] == "opted_out"
    james = campaign_run.people[JAMES]
    listed = campaign_run.tmp / "again.csv"
    listed.write_text(f"patient_id,appointment_id\n{james['id']},{james['appointment']}\n")
    created = _cli(
        campaign_run.db_url, "campaign", "create", "--name", "again", "--patients", str(listed)
    )
    campaign_id = str(created["campaign"])
    _cli(campaign_run.db_url, "campaign", "start", campaign_id)
    deadline = time.monotonic() + 30
    status = _cli(campaign_run.db_url, "campaign", "status", campaign_id)
    while status["status"] != "done" and time.monotonic() < deadline:
        time.sleep(1)
        status = _cli(campaign_run.db_url, "campaign", "status", campaign_id)
    assert status["outcomes"] == {"do_not_call": 1} and status["attempts"] == {}, status


def test_a_reschedule_moves_the_appointment_to_an_offered_time(campaign_run: Run) -> None:
    aisha = campaign_run.people[AISHA]
    after = asyncio.run(_people(campaign_run.db_url))[AISHA]
    assert after["appointment"] != aisha["appointment"]
    assert after["start"] != aisha["start"]
    record = _record(campaign_run, AISHA)
    assert record["disposition"] == "appointment_rescheduled"
    said = " ".join(t["text"] for t in record["turns"] if t["speaker"] == "bot")
    assert "Your appointment is now" in said, said
    # What her phone made of it: the new day reached her, in the last words that name her
    # appointment (its recogniser has written "is not Thursday" for "is now Thursday", and
    # "your appointment. It's now Monday").
    heard = campaign_run.bank[AISHA]["heard"].lower()
    confirmation = heard.rsplit("appointment", 1)[-1]
    assert f"{after['start']:%A}".lower() in confirmation, heard
    assert f"{after['start']:%B}".lower() in confirmation, heard


def test_a_voicemail_gets_a_message_with_no_patient_data_after_the_beep(campaign_run: Run) -> None:
    others = _others(campaign_run.people)
    box, person = campaign_run.bank[others[0]], campaign_run.people[others[0]]
    message = box["message_left"].lower()
    assert "call us back" in message and "riverside" in message, message
    for secret in (person["first"], person["last"], "appointment"):
        assert secret.lower() not in message


def test_a_voicemail_that_pauses_before_its_beep_is_heard_late_and_gets_the_message(
    campaign_run: Run,
) -> None:
    """ "Hi, it's Sam." and 2.5 s of quiet: a person to the detector, and the bot begins asking
    for a name; the beep that follows gives the box away, and the message is left after it."""
    assert campaign_run.results_ready["outcomes"] == {"voicemail_left": 1}, (
        campaign_run.results_ready
    )
    box, person = campaign_run.bank[SAM_BOX], campaign_run.people[SAM_BOX]
    message = box["message_left"].lower()
    assert "call us back" in message and "riverside" in message, message
    for secret in (person["first"], person["last"], "result"):
        assert secret.lower() not in message
    export = _cli(campaign_run.db_url, "campaign", "export", str(campaign_run.results_ready["id"]))
    call_id = export.strip().splitlines()[1].split(",")[-1]
    record = _cli(campaign_run.db_url, "calls", "show", call_id)
    assert record["disposition"] == "voicemail_left", record["disposition"]
    events = {e["kind"]: e["data"] for e in record["events"]}
    detection = events["answering_machine_detection"]
    assert detection["verdict"] == "machine" and detection["reason"] == REASON_LATE_BEEP
    assert detection["cue"] == "beep"
    # Greeting, 2.5 s of quiet, a 0.5 s beep: heard well after the verdict (a second of quiet).
    assert detection["late_beep_ms"] >= detection["decided_ms"] + 1500, detection
    assert events["voicemail"]["after"] == "late beep"
    # The bot had begun its opening for a person; the message came after it.
    bot = [t["text"] for t in record["turns"] if t["speaker"] == "bot"]
    assert "your full name" in bot[0] and "call us back" in bot[-1], bot


def test_call_me_back_after_six_is_heard_said_and_kept_as_her_hours(campaign_run: Run) -> None:
    """A person who is driving: told when we will call (nothing about her), her hours kept on
    her record for every campaign; one attempt allowed, so she ends as reached."""
    run = campaign_run
    assert run.call_back["outcomes"] == {"reached": 1}, run.call_back
    assert run.call_back["attempts"] == {"call_later": 1}, run.call_back
    phone, person = run.bank[LATER], run.people[LATER]
    heard = phone["heard"].lower()
    export = _cli(run.db_url, "campaign", "export", str(run.call_back["id"]))
    record = _cli(run.db_url, "calls", "show", export.strip().splitlines()[1].split(",")[-1])
    turns = [(turn["speaker"], turn["text"]) for turn in record["turns"]]
    # The callee's recogniser writes the hour either way ("after six p.m." in CI37, "after
    # 6pm" in CI38).
    assert re.search(r"call you back after (6(?!\d)|six\b)", heard), (
        phone["heard_turns"], turns, record["events"],
    )  # fmt: skip
    for secret in (person["first"], person["last"], "result"):
        assert secret.lower() not in heard
    assert record["disposition"] == "call_later", record["disposition"]
    # "I'm driving" alone: asked when suits her, and the next line answered it.
    asked = ("bot", "Of course. When would be a better time to call you?")
    assert asked in turns and turns[turns.index(asked) + 1][0] == "caller", turns
    events = {e["kind"]: e["data"] for e in record["events"]}
    assert events["call_later"]["after"] == "18:00:00", events["call_later"]
    hours = asyncio.run(_hours(run.db_url, person["id"]))
    assert hours == (dt_time(18, 0), None)


async def _hours(db_url: str, patient_id: int) -> tuple[dt_time | None, dt_time | None]:
    db = await Database.connect(db_url)
    try:
        async with db.session() as s:
            patient = await s.get(Patient, patient_id)
            assert patient is not None
            return patient.call_after, patient.call_before
    finally:
        await db.dispose()


def test_sip_headers_carry_no_patient_data(campaign_run: Run) -> None:
    names = {w.lower() for p in campaign_run.people.values() for w in (p["first"], p["last"])}
    for call in campaign_run.bank_calls:
        headers = {k: v for k, v in call["headers"].items() if k.lower() != "to"}
        text = " ".join(headers.values()).lower()
        assert not any(name in text for name in names), headers
        assert call["number"].lstrip("+")[-7:] not in text, headers


def test_a_red_flag_said_on_pickup_takes_the_emergent_path_before_anything_else(
    campaign_run: Run,
) -> None:
    assert campaign_run.check_in["outcomes"] == {"escalated": 1}, campaign_run.check_in
    phone = campaign_run.bank[DANIEL]
    assert heard_911(phone["heard"]), phone["heard"]
    export = _cli(campaign_run.db_url, "campaign", "export", str(campaign_run.check_in["id"]))
    call_id = export.strip().splitlines()[1].split(",")[-1]
    record = _cli(campaign_run.db_url, "calls", "show", call_id)
    assert record["triage_level"] == "emergent" and record["direction"] == "outbound"
    assert record["emergency_message_played"] is True
    assert record["verified"] is False  # nothing waited for her name and date of birth
    said = " ".join(t["text"] for t in record["turns"] if t["speaker"] == "caller").lower()
    assert "chest" in said, record["turns"]


def test_inbound_calls_are_answered_while_campaigns_run(campaign_run: Run) -> None:
    inbound = campaign_run.inbound
    assert inbound["connected"] and inbound["status"] == 200, inbound
    greeting = inbound["greeting"].lower()
    # "Thank you" is at times lost at the very start of the recording on a loaded machine
    # (CI36 heard "For calling Riverside ..."); the rest says she reached the clinic's line.
    assert heard_phrase(greeting, "for calling Riverside Family Clinic"), inbound["greeting"]
    assert heard_911(greeting), inbound["greeting"]
    # --no-rasa: the keypad menu, so a caller is never left without a way to a person.
    assert "nurse" in greeting and "front desk" in greeting, inbound["greeting"]
