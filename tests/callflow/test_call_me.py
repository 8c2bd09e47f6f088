"""The Flows area's "Call me": the line rings the supervisor's own phone with the draft flow.

The real calls: a server with Rasa, a supervisor in headless Chromium who saved (did not
publish) a new greeting and a new red-flag phrase, her desk phone (`clinicline answer`,
transcribing what it heard); each call runs the real path (recognition, triage, the try-it
sandbox's own Rasa and actions), and its record is the sandbox's, never the clinic's.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from clinicline.flows.callme import DraftCallConversation
from clinicline.harness import ServerProcess
from integrations.services.call_report import call_report
from integrations.store import Database
from tests.callflow.console_agent import console_in_chromium
from tests.staff_lines import answer_log, staff_phone
from voice.session.actions import CallInfo, Hangup, PlayPrompt, Say, Transfer

# "draft" is in no other words of the line (a phone's recogniser wrote "draft blind here").
DRAFT_GREETING = "The draft line here. If this is a medical emergency, hang up and dial 911."
CALLER_SAYS = "I would like to book an appointment"
# A red flag only the saved, unpublished words know.
DRAFT_RED_FLAG = "purple elephant"


class _Actions:
    """Stands in for the clinic conversation: answers every call with ACTIONS (the rewriting
    of a test call's actions is what is tested), its recorder keeps what it is given."""

    def __init__(self, actions: list[Any]) -> None:
        self.actions = actions
        self.recorder = self
        self.submitted: list[str] = []
        self.withdrawn = 0  # transfers it was told were never placed

    async def start(self, call: CallInfo) -> list[Any]:
        return self.actions

    def transfer_not_placed(self) -> None:
        self.withdrawn += 1

    def submit(self, call_id: str, _write: Any) -> None:
        self.submitted.append(call_id)


async def test_a_test_call_speaks_draft_prompts_keeps_the_emergency_message_and_rings_nobody() -> (
    None
):
    emergent = Transfer("nurse", "red flag: chest pain", emergent=True)
    inner = _Actions([PlayPrompt("emergency"), emergent, PlayPrompt("goodbye")])
    draft = {"greeting": DRAFT_GREETING, "emergency": "changed words", "hold": "Please hold."}
    published = {"greeting": "the published greeting", "emergency": "the published words",
                 "hold": "Please hold."}  # fmt: skip
    line = DraftCallConversation(inner, draft, published)  # type: ignore[arg-type]
    call = CallInfo("c1", "+15550100001", datetime.now(UTC))
    # The emergency message stays the rendered one; the transfer becomes words and a hang-up;
    # nothing after the transfer is carried out.
    assert list(await line.start(call)) == [
        PlayPrompt("emergency"),
        Say(
            "This is a test call, so nobody is rung. A caller would now be put through, as an "
            "emergency, to the nurse queue. Goodbye.",
            barge_in=False,
        ),
        Hangup("test_call"),
    ]
    assert line.not_placed == [emergent] and inner.submitted == ["c1"]  # its record's event
    assert inner.withdrawn == 1  # so the call's end is no unanswered transfer
    # A prompt whose newest words are not published is spoken from them; one unchanged plays.
    inner.actions = [PlayPrompt("greeting", barge_in=True), PlayPrompt("hold")]
    assert list(await line.start(call)) == [Say(DRAFT_GREETING, barge_in=True), PlayPrompt("hold")]


def _calls_in(store: Path) -> list[str]:
    with sqlite3.connect(store) as db:
        return [row[0] for row in db.execute("SELECT id FROM calls ORDER BY started")]


@contextlib.asynccontextmanager
async def _console_api(base: str, username: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": base}
    ) as client:
        login = {"username": username, "password": f"{username}-demo"}
        async with client.post("/console/login", json=login) as response:
            assert response.status == 200
        yield client


async def _save_drafts(base: str, username: str, greeting: str, red_flag: str) -> None:
    """A new greeting and a new red-flag phrase, saved and not published."""
    async with _console_api(base, username) as client:
        async with client.get("/console/api/flows/prompts") as response:
            newest = (await response.json())["newest"]
        async with client.post(
            "/console/api/flows/prompts/greeting", json={"text": greeting, "base": newest}
        ) as response:
            assert response.status in (200, 201), await response.text()
        async with client.get("/console/api/flows/lexicon") as response:
            newest = (await response.json())["newest"]
        words = {"category": "seizure", "phrase": red_flag, "base": newest}
        async with client.post("/console/api/flows/lexicon", json=words) as response:
            assert response.status == 201, await response.text()


async def _call_me(
    server: ServerProcess, sandbox_store: Path, says: str
) -> tuple[str, dict[str, Any]]:
    """Super2 clicks "Call me" (published model); her desk phone answers, listens, says SAYS
    and stays a while. What the phone heard, and the sandbox's record of the call."""
    base = f"http://127.0.0.1:{server.http_port}"
    phone = staff_phone(
        server.env, "super2", "--answer-after", "1", "--accept-key", "none", "--stay", "50",
        "--say", says, "--timeout", "400",
    )  # fmt: skip
    try:
        async with console_in_chromium(base, "super2") as page:
            await page.click("#views .tab[data-view=flows-view]")
            await page.select_option("#chat-model", "published")
            await page.click("#call-me")
            # The sandbox's Rasa loads first (the page says so and asks again).
            await expect(page.locator("#chat-state")).to_contain_text(
                "Ringing your desk phone", timeout=300_000
            )
        log = await asyncio.to_thread(answer_log, phone, 200)
    finally:
        if phone.poll() is None:
            phone.kill()
            phone.wait()
    [call] = log["calls"]
    assert call["answered"], log
    sandbox = await Database.connect(f"sqlite+aiosqlite:///{sandbox_store}")
    try:
        async with asyncio.timeout(30):  # the worker closes the record once the call is down
            while True:
                async with sandbox.session() as s:
                    record = await call_report(s, _calls_in(sandbox_store)[-1])
                if record["ended"]:
                    break
                await asyncio.sleep(0.5)
    finally:
        await sandbox.dispose()
    return call["heard"].lower(), record


@pytest.mark.slow
async def test_call_me_rings_her_own_phone_with_the_draft_flow_against_the_sandbox(
    rasa_clinic: ServerProcess, speech_data_dir: Path
) -> None:
    server = rasa_clinic
    clinic_store = Path(server.db_url.split("///", 1)[1])
    sandbox_store = speech_data_dir / "training" / "try-it" / "sandbox.db"
    clinic_calls = _calls_in(clinic_store)
    base = f"http://127.0.0.1:{server.http_port}"
    await _save_drafts(base, "super2", DRAFT_GREETING, DRAFT_RED_FLAG)
    # She asks for an appointment: the sandbox's Rasa asks for the patient's name.
    heard, record = await _call_me(server, sandbox_store, CALLER_SAYS)
    assert "draft" in heard, heard  # the saved, unpublished greeting
    assert "name" in heard, heard
    bot = [t["text"] for t in record["turns"] if t["speaker"] == "bot"]
    # Spoken from the saved words (cut off when she spoke over it, as callers may).
    assert bot[0].removesuffix(" [interrupted]") == DRAFT_GREETING, bot
    caller = " ".join(t["text"] for t in record["turns"] if t["speaker"] == "caller").lower()
    assert "appointment" in caller, record["turns"]
    # She says the red-flag words she saved (not published): the emergency message, then the
    # line says where the call would go instead of ringing a nurse, and hangs up.
    heard, record = await _call_me(server, sandbox_store, f"Help, {DRAFT_RED_FLAG}!")
    assert "911" in heard or "nine one one" in heard, heard
    # What was heard is a recognizer's reading of it (CI once heard "nurse" as "earth's"); the
    # words the line spoke are in the record.
    assert "test call" in heard, heard
    spoken = " ".join(t["text"] for t in record["turns"] if t["speaker"] == "bot")
    assert "test call" in spoken and "nurse queue" in spoken, spoken
    played = [e["data"] for e in record["events"] if e["kind"] == "emergency_message"]
    assert played and played[0]["outcome"] == "completed", record["events"]
    assert not record["transferred"] and record["disposition"] == "test_call", record
    [not_placed] = [e["data"] for e in record["events"] if e["kind"] == "test_call"]
    assert not_placed == {"queue": "nurse", "emergent": True, "placed": False}
    assert record["tasks"] == [], record["tasks"]  # no nurse callback for a test call
    # Neither call is one of the clinic's.
    assert _calls_in(clinic_store) == clinic_calls
