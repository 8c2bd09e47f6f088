"""The Flows area's "Call me": the line rings the supervisor's own phone with the draft flow.

The real call: a server with Rasa, a supervisor in headless Chromium who saved (did not
publish) a new greeting, her desk phone (`clinicline answer`, transcribing what it heard); the
call runs the real path (recognition, triage, the try-it sandbox's own Rasa and actions), and
its record is the sandbox's, never the clinic's. What a test call does instead of a transfer
is checked on the conversation's actions directly (the first test), as no test phone here can
say a sentence on cue after the greeting.
"""

from __future__ import annotations

import asyncio
import sqlite3
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


class _Actions:
    """Stands in for the clinic conversation: answers every call with ACTIONS (the rewriting
    of a test call's actions is what is tested)."""

    def __init__(self, actions: list[Any]) -> None:
        self.actions = actions

    async def start(self, call: CallInfo) -> list[Any]:
        return self.actions


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
    # A prompt whose newest words are not published is spoken from them; one unchanged plays.
    inner.actions = [PlayPrompt("greeting", barge_in=True), PlayPrompt("hold")]
    assert list(await line.start(call)) == [Say(DRAFT_GREETING, barge_in=True), PlayPrompt("hold")]


def _calls_in(store: Path) -> list[str]:
    with sqlite3.connect(store) as db:
        return [row[0] for row in db.execute("SELECT id FROM calls ORDER BY started")]


async def _save_greeting(base: str, username: str, text: str) -> None:
    async with aiohttp.ClientSession(
        base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": base}
    ) as client:
        login = {"username": username, "password": f"{username}-demo"}
        async with client.post("/console/login", json=login) as response:
            assert response.status == 200
        async with client.get("/console/api/flows/prompts") as response:
            newest = (await response.json())["newest"]
        async with client.post(
            "/console/api/flows/prompts/greeting", json={"text": text, "base": newest}
        ) as response:
            assert response.status in (200, 201), await response.text()


@pytest.mark.slow
async def test_call_me_rings_her_own_phone_with_the_draft_greeting_and_the_sandboxs_dialogs(
    rasa_clinic: ServerProcess, speech_data_dir: Path
) -> None:
    server = rasa_clinic
    base = f"http://127.0.0.1:{server.http_port}"
    clinic_store = Path(server.db_url.split("///", 1)[1])
    sandbox_store = speech_data_dir / "training" / "try-it" / "sandbox.db"
    clinic_calls = _calls_in(clinic_store)
    await _save_greeting(base, "super2", DRAFT_GREETING)  # saved, not published
    # Her desk phone: answers, listens, then asks for an appointment, and stays a while.
    phone = staff_phone(
        server.env, "super2", "--answer-after", "1", "--accept-key", "none", "--stay", "40",
        "--say", CALLER_SAYS, "--timeout", "400",
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
    heard = call["heard"].lower()
    assert "draft" in heard, heard  # the saved, unpublished greeting
    assert "name" in heard, heard  # the sandbox's dialogs asked for the patient's name
    # Not one of the clinic's calls; the sandbox keeps its record.
    assert _calls_in(clinic_store) == clinic_calls
    sandbox = await Database.connect(f"sqlite+aiosqlite:///{sandbox_store}")
    try:
        async with sandbox.session() as s:
            record = await call_report(s, _calls_in(sandbox_store)[-1])
    finally:
        await sandbox.dispose()
    bot = [t["text"] for t in record["turns"] if t["speaker"] == "bot"]
    # Spoken from the saved words (cut off when she spoke over it, as callers may).
    assert bot[0].removesuffix(" [interrupted]") == DRAFT_GREETING, bot
    caller = " ".join(t["text"] for t in record["turns"] if t["speaker"] == "caller").lower()
    assert "appointment" in caller, record["turns"]
