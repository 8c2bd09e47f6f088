"""The Flows area's try-it chat: typed sentences through triage, the product conversation and a
real Rasa of the sandbox's own with its real actions, on a copy of the demo clinic; the
clinic's own records are never touched. API with aiohttp, then the chat in headless Chromium
(the same sandbox: its Rasa takes about a minute to load)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import BrowserContext, expect
from sqlalchemy import func, select

from clinicline.callflow.prompts import EMERGENCY_MESSAGE
from clinicline.flows.trainer import Trainer
from clinicline.flows.tryit import golden_scripts
from clinicline.web.console.flow_views import FLOWS
from dialogs.train import PROJECT_DIR, ensure_model
from integrations.store.models import Call, RefillRequest, TrainingVersion
from nlu.triage import TriageEngine
from nlu.triage.engine import DEFAULT_LEXICON
from tests.console.conftest import Server, serving
from tests.console.test_console_browser import sign_in as browser_sign_in
from tests.console.test_flows_console import _post, signed_in

pytestmark = pytest.mark.slow

CHAT = "/console/api/flows/chat"
TRAINING = "/console/api/flows/training"


@pytest.fixture
async def chat_server(tmp_path: Path, seeded_template: Path) -> AsyncIterator[Server]:
    await asyncio.to_thread(ensure_model)  # the shipped model, trained once per test run
    async with serving(tmp_path, seeded_template) as running:
        tools = running.app[FLOWS]
        tools.trainer = Trainer(running.db, PROJECT_DIR, tmp_path / "training")
        # The lexicon and the symptom words; the safety net's model is the server's.
        tools.triage = TriageEngine.from_file(DEFAULT_LEXICON, net_bank=None)
        yield running


async def _open(client: aiohttp.ClientSession, model: str = "published") -> dict[str, Any]:
    """A new chat, once the sandbox has loaded (503 meanwhile)."""
    async with asyncio.timeout(600):
        while True:
            status, data = await _post(client, CHAT, {"model": model})
            if status != 503:
                assert status == 200, data
                return data
            assert data["starting"], data
            await asyncio.sleep(2)


async def _say(client: aiohttp.ClientSession, chat: str, text: str) -> list[dict[str, str]]:
    status, data = await _post(client, f"{CHAT}/{chat}", {"text": text})
    assert status == 200, data
    lines: list[dict[str, str]] = data["lines"]
    assert lines[0] == {"speaker": "caller", "text": text}
    return lines[1:]


async def test_a_supervisor_chats_with_the_line_on_a_copy_of_the_demo_clinic(
    chat_server: Server, context: BrowserContext
) -> None:
    async with chat_server.db.session() as s:
        before = [
            await s.scalar(select(func.count()).select_from(t)) for t in (RefillRequest, Call)
        ]
    async with signed_in(chat_server, "nurse1") as nurse:
        assert (await _post(nurse, CHAT, {"model": "draft"}))[0] == 403
    async with signed_in(chat_server, "super2") as client:
        assert (await _post(client, CHAT, {"model": "mine"}))[0] == 400
        opened = await _open(client)
        assert opened["model"].startswith("clinicline-") and not opened["ended"]
        assert "How can I help you today?" in opened["lines"][0]["text"]
        chat = opened["chat"]
        # The refill dialog on the real Rasa, its identity check and refill through the real
        # actions, on the sandbox's copy of Maria Lopez.
        said = await _say(client, chat, "I need a refill of my lisinopril")
        assert "name" in said[-1]["text"].lower(), said
        said = await _say(client, chat, "Maria Lopez")
        assert "birth" in said[-1]["text"].lower(), said
        said = await _say(client, chat, "March fourth nineteen seventy two")
        assert "march fourth, 1972" in said[-1]["text"].lower(), said
        said = await _say(client, chat, "yes")
        assert any("refill request for lisinopril" in line["text"] for line in said), said
        assert said[-1]["text"] == "Is there anything else?"
        # Triage hears the chat first, as it hears a call: the emergency message, then the
        # emergent transfer, and the chat ends.
        said = await _say(client, chat, "now I have crushing chest pain and can't breathe")
        assert said[0] == {"speaker": "bot", "text": EMERGENCY_MESSAGE}, said
        assert (
            said[-1]["speaker"] == "line" and "emergent transfer to the nurse" in (said[-1]["text"])
        )
        status, data = await _post(client, f"{CHAT}/{chat}", {"text": "hello?"})
        assert status == 400 and "ended" in data["error"]
    async with signed_in(chat_server, "super1") as other:  # another supervisor's chat: not hers
        status, data = await _post(other, f"{CHAT}/{chat}", {"text": "hi"})
        assert status == 400 and "no such chat" in data["error"]
    # The sandbox has the refill request and the chat's record; the clinic's store neither.
    sandbox = chat_server.app[FLOWS].chats
    assert sandbox is not None and sandbox.sandbox.db is not None
    async with sandbox.sandbox.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(RefillRequest)) == 1
    async with chat_server.db.session() as s:
        after = [await s.scalar(select(func.count()).select_from(t)) for t in (RefillRequest, Call)]
    assert after == before
    # The golden calls, replayed as text with a trained version's model (here the shipped
    # phrasings, so the shipped model) and the published one: kept on the version.
    async with chat_server.db.session() as s:
        s.add(
            TrainingVersion(
                edits={},
                state="ready",
                model=opened["model"].removesuffix(".tar.gz"),
                evaluation={"passed": True},
                progress={},
                created_by="super1",
            )
        )
        await s.commit()
    async with signed_in(chat_server, "super2") as client:
        async with asyncio.timeout(600):
            while (got := await _post(client, f"{TRAINING}/1/replay", {}))[0] == 503:
                await asyncio.sleep(2)
        status, data = got
        assert status == 200, data
    scripts = golden_scripts()
    for which in ("draft", "published"):
        run = data["golden"][which]
        assert run["model"] == opened["model"] and run["total"] == len(scripts) >= 3
        results = {r["script"]: r for r in run["results"]}
        # The project's own golden calls hold on the shipped model; what needs a person to
        # answer is listed as not judged.
        for name in (
            "project/inhaler_refill",
            "project/stroke_caregiver",
            "project/wrong_birth_date",
        ):
            assert results[name]["passed"], results[name]
        assert results["project/stroke_caregiver"]["skipped"] == [
            "transferred: needs a person to answer"
        ]
    async with chat_server.db.session() as s:
        row = await s.get(TrainingVersion, 1)
        assert row is not None and row.evaluation["golden"] == data["golden"]
    # In the browser: a new chat, greeted, then a sentence and the line's answer.
    page = await browser_sign_in(context, chat_server, "super2")
    await page.click("#views .tab[data-view=flows-view]")
    await page.select_option("#chat-model", "published")
    await page.click("#chat-new")
    await expect(page.locator("#chat-lines li").first).to_contain_text("How can I help you")
    await page.fill("#chat-text", "I'd like to make an appointment")
    await page.click("#chat-form button[type=submit]")
    await expect(page.locator("#chat-lines li").last).to_contain_text("name")
