"""The command line as an operator uses it: `--help` everywhere, triage and nlu as JSON lines."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from clinicline.harness import ROOT, free_port

CLI = [sys.executable, "-m", "clinicline.cli"]
COMMANDS = [
    [],
    ["serve"],
    ["call"],
    ["answer"],
    ["seed"],
    ["calls", "show"],
    ["calls", "last"],
    ["calls", "recording"],
    ["triage"],
    ["nlu"],
    ["bench"],
    ["staff", "add"],
    ["staff", "reset"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "clinicline")
def test_every_command_has_help(command: list[str]) -> None:
    done = subprocess.run(
        [*CLI, *command, "--help"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0 and "usage:" in done.stdout


def _triage_jsonl(lines: str, *options: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [*CLI, "triage", "--jsonl", *options],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_triage_jsonl_answers_one_object_per_line() -> None:
    lines = (
        "my dad is slurring his words and his face looks droopy\n\nI need to refill my inhaler\n"
    )
    out = _triage_jsonl(lines)
    assert [o["level"] for o in out] == ["emergent", "none"]
    assert out[0]["flags"] and out[0]["matched"] and out[0]["text"].startswith("my dad")


def test_triage_jsonl_answering_holds_answers_to_the_higher_bar() -> None:
    # An unknown surname as whisper wrote it (names bench), then a description said instead.
    lines = "Free port wet, the only rope.\nhe is all clammy and pale\n"
    out = _triage_jsonl(lines, "--answering")
    assert [o["level"] for o in out] == ["none", "urgent"]
    assert out[1]["net"]["score"] >= 0.6


# A lexicon that knows only strokes, so that the described heart attack below is the net's.
_STROKE_ONLY = """
context:
  negators: ["no", not, never]
  negation_bridge: [any, have, a]
categories:
  stroke:
    level: emergent
    phrases: ["stroke"]
    examples: ["she is having a stroke"]
"""


def test_triage_jsonl_shows_the_nets_category_description_and_score_and_the_symptom(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    lexicon = tmp_path / "stroke_only.yaml"
    lexicon.write_text(_STROKE_ONLY)
    described = "my husband is dripping with sweat and says his whole upper body feels heavy"
    lines = f"{described}\nmy leg hurts\n"
    net, symptom = _triage_jsonl(lines, "--lexicon", str(lexicon))
    assert net["level"] == "urgent" and net["sources"] == ["net"]
    assert net["net"]["category"] == "cardiac"
    assert net["net"]["description"] and 0 < net["net"]["score"] <= 1
    assert symptom["symptom"] is True


def test_bad_config_is_a_clear_error_not_a_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "clinic.toml"
    bad.write_text('sip = "no-port-here"\n')
    done = subprocess.run(
        [*CLI, "calls", "last", "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "HOST:PORT" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_nlu_jsonl_parses_with_the_real_rasa_server() -> None:
    lines = (
        "could you send a refill for my lisinopril to the pharmacy\ni need to move my appointment\n"
    )
    done = subprocess.run(
        [*CLI, "nlu", "--jsonl", "--rasa-port", str(free_port())],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["intent"] for o in out] == ["request_refill", "reschedule_appointment"]
    assert all(0 < o["confidence"] <= 1 and isinstance(o["entities"], list) for o in out)


def test_the_first_admin_gets_a_one_time_password_and_demo_data_stays_apart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite+aiosqlite:///{tmp_path}/clinic.db"
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "name": [{"family": "Real",
         "given": ["Pat"]}], "birthDate": "1980-01-02"}}]}))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args, "--db", db], capture_output=True, text=True,
                              cwd=ROOT, check=False, timeout=120)

    assert cli("seed", "--patients", str(bundle)).returncode == 0
    added = cli("staff", "add", "admin", "--role", "supervisor", "--name", "First Admin")
    assert added.returncode == 0, added.stderr
    first = json.loads(added.stdout)
    assert first["username"] == "admin" and len(first["one_time_password"]) >= 16
    demo = cli("seed", "--demo")
    assert demo.returncode == 2
    assert "demo clinic" in demo.stderr and "Traceback" not in demo.stderr
    again = json.loads(cli("staff", "reset", "admin").stdout)
    assert again["one_time_password"] != first["one_time_password"]


def test_a_taken_http_port_stops_serve_before_the_browser_phone_gateway_starts(
    tmp_path: Path,
) -> None:
    """The HTTP address is bound first: a port already taken is a clear error, and no
    Kamailio or rtpengine was started for nothing (nor could they take the port meanwhile)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "serve", "--sip", f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
             "--http", f"127.0.0.1:{port}", "--db", f"sqlite+aiosqlite:///{tmp_path}/c.db",
             "--dialog", "echo", "--no-rasa"],
            capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
            env={**os.environ, "CLINICLINE_DATA_DIR": str(tmp_path),
                 "CLINICLINE_SOFTPHONE_SIP": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
                 "CLINICLINE_SOFTPHONE_MEDIA": "127.0.0.1"},
        )  # fmt: skip
    said = done.stdout + done.stderr
    assert done.returncode == 2, said[-2000:]
    assert f"cannot listen for HTTP on 127.0.0.1:{port}" in said and "Traceback" not in said
    assert "browser phones: rung at" not in said, said[-2000:]


def test_a_provider_out_campaign_names_her_and_blocks_her_free_times(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path}/clinic.db"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args, "--db", db], capture_output=True, text=True,
                              cwd=ROOT, check=False, timeout=120)  # fmt: skip

    assert cli("seed", "--demo").returncode == 0
    days = f"{date.today()}:{date.today() + timedelta(days=20)}"
    create = ["campaign", "create", "--name", "out", "--kind", "provider_out", "--appointments"]
    refused = cli(*create, days)
    assert refused.returncode == 2 and "names the provider" in refused.stderr
    assert "Traceback" not in refused.stderr
    with sqlite3.connect(tmp_path / "clinic.db") as con:
        who = "SELECT id FROM providers WHERE display_name = 'Dr. Nguyen'"
        (nguyen,) = con.execute(who).fetchone()
        nothing = con.execute("SELECT count(*) FROM slots WHERE status = 'blocked'").fetchone()
    assert nothing == (0,)
    made = cli(*create, days, "--provider", str(nguyen))
    assert made.returncode == 0, made.stderr
    answer = json.loads(made.stdout)
    assert answer["targets"] == 2 and answer["slots_blocked"] > 0, answer
    with sqlite3.connect(tmp_path / "clinic.db") as con:
        blocked = con.execute(
            "SELECT count(*), min(provider_id), max(provider_id) FROM slots "
            "WHERE status = 'blocked'"
        ).fetchone()
    assert blocked == (answer["slots_blocked"], nguyen, nguyen)
    (absence,) = json.loads(cli("campaign", "absences").stdout)
    assert absence["provider_id"] == nguyen and absence["first_day"] == str(date.today())
    back = json.loads(cli("campaign", "withdraw", str(absence["id"])).stdout)
    assert back == {"absence": absence["id"], "withdrawn": True,
                    "slots_reopened": answer["slots_blocked"]}  # fmt: skip
    assert json.loads(cli("campaign", "absences").stdout) == []
    unknown = cli("campaign", "withdraw", str(absence["id"]))
    assert unknown.returncode == 2 and "no declared absence" in unknown.stderr


def test_a_patients_calling_hours_are_shown_set_and_cleared(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path}/clinic.db"

    def hours(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, "campaign", "hours", *args, "--db", db],
                              capture_output=True, text=True, cwd=ROOT, check=False,
                              timeout=120)  # fmt: skip

    assert subprocess.run([*CLI, "seed", "--demo", "--db", db], cwd=ROOT, check=False,
                          capture_output=True, timeout=120).returncode == 0  # fmt: skip
    assert json.loads(hours("1").stdout) == {"patient": 1, "after": None, "before": None}
    assert json.loads(hours("1", "--set", "18:00-").stdout)["after"] == "18:00"
    assert json.loads(hours("1", "--set", "16:00-18:30").stdout) == {
        "patient": 1, "after": "16:00", "before": "18:30"}  # fmt: skip
    for bad in ("19:00-09:00", "six", "18:00"):
        refused = hours("1", "--set", bad)
        assert refused.returncode == 2 and "calling hours are" in refused.stderr, bad
    assert json.loads(hours("1", "--set", "").stdout)["before"] is None
    unknown = hours("999999")
    assert unknown.returncode == 2 and "no patient" in unknown.stderr
    with sqlite3.connect(tmp_path / "clinic.db") as con:
        audited = con.execute(
            "SELECT count(*) FROM audit_events WHERE action = 'call_hours' AND actor = 'cli'"
        ).fetchone()
    assert audited == (3,)
