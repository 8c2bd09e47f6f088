"""The measuring dialog records triage of every transcript without acting; lines align."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clinicline.bench_triage import align, score_line
from clinicline.triage_probe import TriageProbeConversation
from nlu.triage import TriageEngine
from voice.session.actions import CallerTurn, CallInfo, Hangup, Say

CALL = CallInfo(call_id="probe-1", caller_number=None, started=datetime.now(UTC))


@pytest.fixture(scope="module")
def engine() -> TriageEngine:
    return TriageEngine.default()


async def test_probe_logs_each_transcript_and_never_acts(
    engine: TriageEngine, tmp_path: Path
) -> None:
    log = tmp_path / "probe.jsonl"
    probe = TriageProbeConversation(engine, log)
    assert probe.screen(CALL, "my husband cannot breathe", False) == []
    assert probe.screen(CALL, "my husband is dripping with sweat and says his whole upper "
                        "body feels heavy", True) == []
    partial, final = [json.loads(line) for line in log.read_text().splitlines()]
    assert partial["final"] is False and partial["lexicon"] == "emergent"
    assert final["lexicon"] == "none" and final["together"] == "urgent"
    assert final["net"]["category"] == "cardiac" and final["call_id"] == "probe-1"
    now = datetime.now(UTC)
    reply = await probe.respond(CALL, CallerTurn(text="I fell", start=now, end=now))
    assert [type(a) for a in reply] == [Say]
    bye = await probe.respond(CALL, CallerTurn(text="Goodbye.", start=now, end=now))
    assert [type(a) for a in bye] == [Hangup]


def test_transcripts_align_to_the_lines_they_were_heard_for() -> None:
    lines = ["my chest hurts a lot", "she is not breathing", "he took all the pills", "goodbye"]
    said = ("My chest hurts", "a lot.", "He took all the pills.", "Goodbye.")
    heard = [{"text": t} for t in said]
    assigned = align(lines, heard)
    assert [[e["text"] for e in group] for group in assigned] == [
        ["My chest hurts", "a lot."], [], ["He took all the pills."], ["Goodbye."],
    ]


def test_a_garbled_transcript_does_not_pull_the_rest_out_of_step() -> None:
    lines = ["my son took a bunch of pills", "he is not breathing", "she is having a seizure"]
    said = ("My phone call to come on, chunk in.", "He's not breathing.", "She's having a seizure.")
    heard = [{"text": t} for t in said]
    assigned = align(lines, heard)
    assert [len(group) for group in assigned] == [1, 1, 1]
    assert assigned[2][0]["text"] == "She's having a seizure."


def test_a_line_heard_close_to_a_red_flag_counts_as_asked_not_as_urgent(
    engine: TriageEngine,
) -> None:
    near = {"transcripts": [{"text": "my daughter seems a bit fed up",
                             "final": True}]}
    flagged = {"transcripts": [{"text": "He's not breathing.", "final": True}]}
    nothing = {"transcripts": [{"text": "I'd like to book a check-up.", "final": True}]}
    assert score_line(engine, near)["urgent_or_asked"]
    assert not score_line(engine, near)["together_urgent"]
    assert score_line(engine, flagged)["together_urgent"]
    assert not score_line(engine, nothing)["urgent_or_asked"]
