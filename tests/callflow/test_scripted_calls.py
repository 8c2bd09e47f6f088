"""The scripted patient calls of shared/eval/calls, end to end.

A real `clinicline serve` (pjsua2 worker, real Rasa server, SQLite store seeded with the
demo clinic), a real patient phone process, and for the red-flag call a real nurse phone
process and the nurse's console in headless Chromium. The `expect:` of each script is
checked against the store by `clinicline call --check`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from clinicline.harness import (
    ROOT,
    ServerProcess,
    heard_911,
    phone_call,
    wait_for_record,
    when_logged,
)
from tests.console.conftest import sign_in_available
from tests.staff_lines import desk

pytestmark = pytest.mark.slow

CALLS = ROOT.parent / "shared" / "eval" / "calls"
NURSE_SIP = desk("nurse1")
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-sync",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


@pytest.fixture
def clinic(rasa_clinic: ServerProcess) -> ServerProcess:
    return rasa_clinic


def _check(result: dict) -> None:
    assert result["check"]["passed"], (result["check"]["differences"], result["turns"])


def test_refill_call_meets_its_expectations(clinic: ServerProcess) -> None:
    result = phone_call(
        clinic, "--script", str(CALLS / "refill.yaml"), "--check", "--no-transcribe"
    )
    _check(result)


def test_schedule_call_meets_its_expectations(clinic: ServerProcess) -> None:
    result = phone_call(
        clinic, "--script", str(CALLS / "schedule.yaml"), "--check", "--no-transcribe"
    )
    _check(result)


async def test_red_flag_call_pops_the_console_and_bridges_caller_and_nurse(
    clinic: ServerProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{clinic.http_port}"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context()).new_page()
            await sign_in_available(page, base)

            nurse = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "clinicline.cli",
                    "answer",
                    "--listen",
                    NURSE_SIP,
                    "--user",
                    "nurse1",
                    "--answer-after",
                    "3",
                    "--stay",
                    "30",
                    "--say",
                    "This is nurse Nora, I am here with you.",
                ],
                cwd=ROOT,
                env=clinic.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            bridged = tmp_path / "bridged"
            watch = asyncio.create_task(when_logged(clinic, ": bridged to", bridged))
            caller = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "clinicline.cli",
                    "call",
                    "--to",
                    clinic.uri,
                    "--db",
                    clinic.db_url,
                    "--script",
                    str(CALLS / "redflag.yaml"),
                    # Her next words once the nurse is on the line (the server logs it).
                    "--wait-for",
                    f"120:{bridged}",
                    "--say",
                    "I am still here and the pain is getting worse",
                    "--listen",
                    "20",
                    "--check",
                ],
                cwd=ROOT,
                env=clinic.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            card = page.locator("#calls .card")
            await expect(card.locator(".level")).to_have_text("emergent", timeout=90_000)
            popped_at = time.time()
            await expect(card.locator(".summary")).to_contain_text("emergent")
            # After the bridge the transcript goes on, live on the nurse's card.
            await expect(card.locator(".transcript")).to_contain_text("worse", timeout=90_000)
            caller_out, _ = await _communicate(caller)
            nurse_out, _ = await _communicate(nurse)
            watch.cancel()
        finally:
            await browser.close()

    result = json.loads(caller_out[caller_out.index("{") :])
    _check(result)
    nurse_log = json.loads(nurse_out[nurse_out.index("{") :])["calls"][0]
    # The pop reached the console before the nurse picked up (she answers 3 s after ringing).
    assert popped_at < nurse_log["rang_at"] + 3, (popped_at, nurse_log["rang_at"])
    assert nurse_log["answered"] and nurse_log["headers"].get("X-Clinicline-Context")
    token = nurse_log["headers"]["X-Clinicline-Context"]
    assert "chest" not in token.lower() and len(token) < 200  # an opaque token, no PHI in SIP
    heard_by_nurse = nurse_log["heard"].lower()
    assert "emergent" in heard_by_nurse, heard_by_nurse  # the whispered summary
    # The caller, after the bridge: under load the line can start while the summary still
    # plays, and the nurse hears only its end ("… getting worse"); any of its words will do
    # (none of them is in the summary).
    caller_words = ("pain", "still here", "worse")
    assert any(w in heard_by_nurse for w in caller_words), heard_by_nurse
    heard_by_caller = " ".join(t["heard"] for t in result["turns"]).lower()
    # The test phone's recogniser sometimes clips "I am connecting you to a nurse" to
    # "I'm connectin...": either word shows the rest of the emergency message arrived.
    assert heard_911(heard_by_caller), heard_by_caller
    assert "nurse" in heard_by_caller or "connect" in heard_by_caller, heard_by_caller
    # The nurse, after the bridge and the hold prompt ("This is nurse Nora, I am here with
    # you."). The test phone's recogniser has written its start as "take care" and its end
    # as "come here with few"; no prompt after "connect you" has "nora" or "here with".
    after_hold = heard_by_caller.rsplit("connect you", 1)[-1]
    assert any(w in after_hold for w in NURSE_WORDS), heard_by_caller
    record = wait_for_record(clinic, result["call_id"])
    assert record["transferred"] and record["disposition"] == "emergency_transferred"
    assert record["screen_pop"]["triage"]["level"] == "emergent"
    kinds = [e["kind"] for e in record["events"]]
    assert "transfer_answered" in kinds and "bridged" in kinds
    # The record reads as the whole conversation: both sides of the bridged call, transcribed.
    agent_turns = [t["text"].lower() for t in record["turns"] if t["speaker"] == "agent"]
    assert any(w in text for w in NURSE_WORDS for text in agent_turns), record["turns"]
    caller_turns = [t["text"].lower() for t in record["turns"] if t["speaker"] == "caller"]
    assert any("worse" in text for text in caller_turns), caller_turns


# Words of the nurse's line that the test phone's recogniser keeps in one mishearing or another.
NURSE_WORDS = ("nora", "with you", "here with")


async def _communicate(process: subprocess.Popen[str]) -> tuple[str, str]:
    return await asyncio.to_thread(process.communicate, timeout=240)
