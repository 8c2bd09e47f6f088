"""The Flows area: supervisors edit the wording and hear it in the clinic's voice (Piper),
administrators publish, a second supervisor approves the emergency message, rollback restores;
agents see none of it. API with aiohttp, the tab in headless Chromium."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from playwright.async_api import BrowserContext, expect
from sqlalchemy import select

from clinicline.callflow.prompts import clinic_prompts
from integrations.services import calls
from integrations.store.models import AuditEvent
from tests.console.conftest import Server
from tests.console.test_console_api import sign_in
from tests.console.test_console_browser import sign_in as browser_sign_in

DEFAULTS = clinic_prompts("Riverside Clinic")
PROMPTS = "/console/api/flows/prompts"


@asynccontextmanager
async def signed_in(server: Server, username: str) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        base_url=server.url, cookie_jar=jar, headers={"Origin": server.url}
    ) as session:
        await sign_in(session, username)
        yield session


async def _state(client: aiohttp.ClientSession) -> dict:
    async with client.get(PROMPTS) as response:
        assert response.status == 200
        return await response.json()


async def _post(client: aiohttp.ClientSession, path: str, body: dict) -> tuple[int, dict]:
    async with client.post(path, json=body) as response:
        return response.status, await response.json()


async def test_agents_and_nurses_reach_no_part_of_the_flows_area(flows_server: Server) -> None:
    for username in ("front1", "nurse1"):
        async with signed_in(flows_server, username) as client:
            async with client.get(PROMPTS) as response:
                assert response.status == 403
            status, _ = await _post(client, f"{PROMPTS}/hold", {"text": "Hold.", "base": None})
            assert status == 403
            status, _ = await _post(client, "/console/api/flows/versions/1/publish", {})
            assert status == 403


async def test_a_supervisor_hears_a_prompt_in_the_clinics_voice_before_saving(
    flows_server: Server,
) -> None:
    async with signed_in(flows_server, "super2") as client:
        async with client.post(
            "/console/api/flows/preview",
            json={"name": "hold", "text": "Please hold while I find the right person for you."},
        ) as response:
            assert response.status == 200 and response.content_type == "audio/wav"
            audio = await response.read()
        with wave.open(io.BytesIO(audio)) as w:
            assert (w.getframerate(), w.getnchannels()) == (8000, 1)
            assert w.getnframes() / 8000 > 1.5  # a sentence spoken, not a click
        for body, status, reason in [
            ({"name": "hold", "text": ""}, 400, "'text' must be"),
            ({"name": "emergency", "text": "Please wait for a nurse."}, 400, "must keep 911"),
            ({"name": "no_such_prompt", "text": "Hi."}, 400, "no prompt named"),
        ]:
            got, data = await _post(client, "/console/api/flows/preview", body)
            assert got == status and reason in data["error"], data
        # A 10 MB prompt is refused before it is read.
        async with client.post(
            f"{PROMPTS}/hold", data=b'{"text": "' + b"a" * 10_000_000 + b'"}',
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 413
    async with flows_server.db.session() as s:
        edits = select(AuditEvent.id).where(AuditEvent.action == "prompt_edit")
        assert await s.scalar(edits) is None


async def test_the_dialogs_replies_are_listed_heard_and_checked_beside_the_prompts(
    flows_server: Server,
) -> None:
    async with signed_in(flows_server, "super2") as client:
        state = await _state(client)
        groups = [p["group"] for p in state["prompts"]]
        assert groups == sorted(groups, key=["call", "dialog"].index)  # the call's, then replies
        reply = next(p for p in state["prompts"] if p["name"] == "dialog.confirm_refill")
        assert reply["fills"] == ["medication"] and "Refills" in reply["used"]
        hold = next(p for p in state["prompts"] if p["name"] == "hold")
        assert hold["fills"] == [] and "rings" in hold["used"]
        assert all(p["used"] for p in state["prompts"])  # every prompt says where it is heard
        # Heard with sample words in the braces (a drug's name), not the braces read out.
        async with client.post(
            "/console/api/flows/preview",
            json={"name": "dialog.confirm_refill", "text": "{medication}, is that the one?"},
        ) as response:
            assert response.status == 200
            with wave.open(io.BytesIO(await response.read())) as w:
                assert w.getnframes() / 8000 > 1.0
        for body, reason in [
            ({"text": "Shall I send it?", "base": None}, "{medication}"),
            ({"text": "Shall I send {drug}?", "base": None}, "{medication}"),
            ({"text": "Shall I send {medication?", "base": None}, "braces"),
        ]:
            got, data = await _post(client, f"{PROMPTS}/dialog.confirm_refill", body)
            assert got == 400 and reason in data["error"], data
        got, data = await _post(client, f"{PROMPTS}/hold", {"text": "Hold, {name}.", "base": None})
        assert got == 400 and "no words in braces" in data["error"]
        got, saved = await _post(client, f"{PROMPTS}/dialog.confirm_refill",
                                 {"text": "You'd like {medication}, is that right?",
                                  "base": None})
        assert got == 201


async def test_two_supervisors_editing_at_once_the_second_is_told_and_nothing_is_lost(
    flows_server: Server,
) -> None:
    async with (
        signed_in(flows_server, "super1") as first,
        signed_in(flows_server, "super2") as second,
    ):
        seen_by_first, seen_by_second = await _state(first), await _state(second)
        assert seen_by_first["newest"] is None and seen_by_second["newest"] is None
        status, saved = await _post(
            first, f"{PROMPTS}/hold", {"text": "Hold on, I am finding someone.", "base": None}
        )
        assert status == 201
        status, refused = await _post(
            second, f"{PROMPTS}/hold", {"text": "Please wait a moment.", "base": None}
        )
        assert status == 409 and "super1 saved version" in refused["error"], refused
        now = await _state(second)
        hold = next(p for p in now["prompts"] if p["name"] == "hold")
        assert now["newest"] == saved["id"] and hold["text"] == "Hold on, I am finding someone."
        assert hold["published_text"] == DEFAULTS["hold"]  # saved is not published
        status, again = await _post(
            second, f"{PROMPTS}/goodbye",
            {"text": "Thanks for calling, bye.", "base": now["newest"]},
        )  # fmt: skip
        assert status == 201 and again["based_on"] == saved["id"]


async def test_publish_needs_the_right_and_new_emergency_words_a_second_supervisor(
    flows_server: Server,
) -> None:
    wording = "If this is a medical emergency, hang up and dial 911 now. A nurse is coming."
    async with (
        signed_in(flows_server, "super1") as admin,
        signed_in(flows_server, "super2") as colleague,
    ):
        status, saved = await _post(admin, f"{PROMPTS}/emergency", {"text": wording, "base": None})
        assert status == 201
        state = await _state(colleague)
        assert state["emergency_needs_approval"] and not state["may_publish"]
        publish = f"/console/api/flows/versions/{saved['id']}/publish"
        status, data = await _post(colleague, publish, {})
        assert status == 403 and "publish right" in data["error"]
        status, data = await _post(admin, publish, {})
        assert status == 403 and "second supervisor" in data["error"]
        approve = f"/console/api/flows/versions/{saved['id']}/approve"
        status, data = await _post(admin, approve, {})
        assert status == 403 and "not by someone who wrote it" in data["error"]
        status, data = await _post(colleague, approve, {})
        assert status == 200 and data["approved_by"] == "super2"
        status, data = await _post(admin, publish, {})
        assert status == 200 and data["published_by"] == "super1"
        state = await _state(admin)
        emergency = next(p for p in state["prompts"] if p["name"] == "emergency")
        assert state["published"] == saved["id"] and emergency["published_text"] == wording
        # Rollback: the built-in wording was never a published version; an earlier one is.
        status, _ = await _post(admin, f"{PROMPTS}/hold", {"text": "Hold, please.",
                                                          "base": saved["id"]})
        newest = (await _state(admin))["newest"]
        status, data = await _post(admin, f"/console/api/flows/versions/{newest}/publish", {})
        assert status == 200
        status, back = await _post(
            admin, f"/console/api/flows/versions/{saved['id']}/rollback", {}
        )
        assert status == 200 and back["note"] == f"rollback to version {saved['id']}"
        state = await _state(admin)
        hold = next(p for p in state["prompts"] if p["name"] == "hold")
        assert state["published"] == back["id"] and hold["published_text"] == DEFAULTS["hold"]
    async with flows_server.db.session() as s:
        actions = list(
            await s.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("prompt_%"))
                .order_by(AuditEvent.id)
            )
        )
    assert actions == [
        "prompt_edit", "prompt_approve", "prompt_publish", "prompt_edit", "prompt_publish",
        "prompt_rollback",
    ]


@pytest.mark.parametrize("username", ["front1"])
async def test_an_agent_has_no_flows_tab(
    context: BrowserContext, flows_server: Server, username: str
) -> None:
    page = await browser_sign_in(context, flows_server, username)
    await expect(page.locator("#views")).to_be_hidden()
    await expect(page.locator("#flows-view")).to_be_hidden()


async def test_the_flows_tab_edit_hear_save_publish(
    context: BrowserContext, flows_server: Server
) -> None:
    page = await browser_sign_in(context, flows_server, "super1")
    await page.click("#views .tab[data-view=flows-view]")
    await expect(page.locator("#flows-state")).to_have_text("Callers hear the built-in wording.")
    row = page.locator("#flows-prompts tr[data-prompt=hold]")
    await row.locator("textarea").fill("Please hold, a member of our team will be with you soon.")
    await row.locator("button.hear").click()
    audio = page.locator("#flows-audio")
    await expect(audio).to_be_visible()
    await expect(audio).to_have_attribute("data-prompt", "hold")
    seconds = await page.wait_for_function(
        "() => { const a = document.querySelector('#flows-audio');"
        " return a.readyState >= 1 && a.duration > 1 ? a.duration : null; }"
    )
    assert await seconds.json_value() > 1
    await row.locator("button.save").click()
    await expect(page.locator("#flows-state")).to_contain_text("Saved as version")
    await expect(row.locator("td").first).to_contain_text("changed, not published")
    await expect(page.locator("#flows-approve")).to_be_hidden()  # not the emergency message
    await page.click("#flows-publish")
    # Publishing renders the changed prompt in the clinic's voice first.
    await expect(page.locator("#flows-state")).to_contain_text("is published", timeout=60_000)
    await expect(page.locator("#flows-history tbody tr")).to_have_count(1)
    await expect(page.locator("#flows-history tbody tr").first).to_contain_text("super1")
    # The history's readable diff: the words before and after.
    await page.locator("#flows-history tbody tr").first.locator("button.changes").click()
    changes = page.locator("#flows-changes li")
    await expect(changes).to_have_count(1)
    # Only the words that changed are marked: "Please hold" stays as it was.
    assert DEFAULTS["hold"] == "Please hold while I connect you."
    await expect(changes).to_have_text(
        "hold: Please hold while I connect, a member of our team will be with you soon."
    )
    await expect(changes.locator("del")).to_have_text("while I connect")
    await expect(changes.locator("ins")).to_have_text(
        [", a member of our team will be with", "soon"]
    )
    # A bad edit says why and keeps the words typed.
    emergency = page.locator("#flows-prompts tr[data-prompt=emergency] textarea")
    await emergency.fill("Please stay on the line.")
    await page.locator("#flows-prompts tr[data-prompt=emergency] button.save").click()
    await expect(page.locator("#flows-error")).to_contain_text("must keep 911")
    await expect(emergency).to_have_value("Please stay on the line.")


LEXICON = "/console/api/flows/lexicon"
SEIZURE_HEARD_AS = "my brothers having a seas year and his head hit the table on the way down"


async def test_red_flag_words_are_tried_on_every_sentence_before_they_are_kept(
    flows_server: Server,
) -> None:
    async with (
        signed_in(flows_server, "super1") as admin,
        signed_in(flows_server, "super2") as colleague,
    ):
        status, saved = await _post(
            colleague, LEXICON, {"category": "seizure", "phrase": "Seas  Year", "base": None}
        )
        assert status == 201, saved
        assert saved["regression"]["lines"] > 5000 and saved["regression"]["gained"] >= 1
        async with colleague.get(f"{LEXICON}/{saved['id']}/changes") as response:
            assert (await response.json())["changes"] == [
                {"where": "seizure", "change": "added", "entry": "seas year"}
            ]
        publish = f"{LEXICON}/{saved['id']}/publish"
        status, data = await _post(colleague, publish, {})
        assert status == 403 and "publish right" in data["error"]
        status, data = await _post(admin, publish, {})
        assert status == 200 and data["published_by"] == "super1"
        async with admin.get(LEXICON) as response:
            state = await response.json()
        assert state["published"] == saved["id"]
        assert state["published_edits"] == {"seizure": [{"phrase": "seas year"}]}
        assert {"name": "seizure", "level": "emergent"}.items() <= next(
            c for c in state["categories"] if c["name"] == "seizure"
        ).items()
        # A word that raises quiet sentences is refused, with them; nothing is saved.
        status, refused = await _post(
            admin, LEXICON, {"category": "cardiac", "phrase": "heart", "base": saved["id"]}
        )
        assert status == 422 and refused["regression"]["new_alarm_count"] >= 10, refused
        raised = refused["regression"]["new_alarms"]
        assert all(line["label"] in ("none", "tricky") for line in raised)
        # Taking the clinic's word away again would lose the red flag it catches: refused.
        status, refused = await _post(
            admin, f"{LEXICON}/remove", {"category": "seizure", "index": 0, "base": saved["id"]}
        )
        assert status == 422, refused
        assert any(line["text"].lower() == SEIZURE_HEARD_AS
                   for line in refused["regression"]["lost"]), refused
        for body, reason in [
            ({"category": "cardiac", "pattern": "chest (pain", "base": saved["id"]},
             "does not compile"),
            ({"category": "nonsense", "phrase": "x", "base": saved["id"]}, "no category"),
            ({"category": "seizure", "phrase": "x", "pattern": "y", "base": saved["id"]},
             "either 'phrase'"),
            ({"category": "seizure", "phrase": "fits", "base": None}, "in the meantime"),
        ]:
            status, data = await _post(admin, LEXICON, body)
            assert status in (400, 409) and reason in data["error"], (body, data)
        async with admin.get(LEXICON) as response:
            assert (await response.json())["newest"] == saved["id"]  # nothing refused was kept
    async with flows_server.db.session() as s:
        actions = list(
            await s.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("lexicon_%"))
                .order_by(AuditEvent.id)
            )
        )
    assert actions == ["lexicon_edit", "lexicon_publish"]


async def test_the_red_flag_words_form_shows_what_an_edit_would_break(
    context: BrowserContext, flows_server: Server
) -> None:
    page = await browser_sign_in(context, flows_server, "super1")
    await page.click("#views .tab[data-view=flows-view]")
    await expect(page.locator("#lexicon-state")).to_contain_text("shipped words decide")
    await page.select_option("#lexicon-category", "cardiac")
    await page.fill("#lexicon-words", "heart")
    await page.click("#lexicon-form button[type=submit]")
    await expect(page.locator("#lexicon-error")).to_contain_text("refused", timeout=60_000)
    assert await page.locator("#lexicon-broken li").count() >= 10
    await expect(page.locator("#lexicon-broken li").first).to_contain_text("would be")
    await page.select_option("#lexicon-category", "seizure")
    await page.fill("#lexicon-words", "seas year")
    await page.click("#lexicon-form button[type=submit]")
    await expect(page.locator("#lexicon-state")).to_contain_text("Saved as version", timeout=60_000)
    await expect(page.locator("#lexicon-edits tbody tr")).to_have_count(1)
    await page.click("#lexicon-publish")
    await expect(page.locator("#lexicon-state")).to_contain_text("is published")
    await page.locator("#lexicon-history tbody tr").first.locator("button.changes").click()
    await expect(page.locator("#lexicon-changes li")).to_have_text(
        ["added to category seizure: seas year"]
    )


async def test_a_sentence_is_tried_with_the_draft_words_before_they_are_published(
    context: BrowserContext, flows_server: Server
) -> None:
    async with signed_in(flows_server, "super1") as admin:
        status, before = await _post(admin, "/console/api/flows/try", {"text": SEIZURE_HEARD_AS})
        assert status == 200 and before["level"] == "none" and before["version"] is None
        status, saved = await _post(
            admin, LEXICON, {"category": "seizure", "phrase": "seas year", "base": None}
        )
        assert status == 201
        status, draft = await _post(admin, "/console/api/flows/try", {"text": SEIZURE_HEARD_AS})
        assert draft["level"] == "emergent" and draft["flags"] == ["seizure"]
        assert draft["version"] == saved["id"] and "emergency message" in draft["outcome"]
        status, published = await _post(
            admin, "/console/api/flows/try", {"text": SEIZURE_HEARD_AS, "words": "published"}
        )
        assert published["level"] == "none"  # not published yet: callers are judged without it
        status, data = await _post(admin, "/console/api/flows/try", {"text": "x" * 501})
        assert status == 400
    page = await browser_sign_in(context, flows_server, "super2")
    await page.click("#views .tab[data-view=flows-view]")
    await page.fill("#try-text", "my dad's lips are going blue and he can't breathe")
    await page.click("#try-form button[type=submit]")
    # The answer waits on a thread of the server's pool: on a loaded machine, seconds.
    await expect(page.locator("#try-result")).to_contain_text("emergent (breathing", timeout=30_000)
    await expect(page.locator("#try-result")).to_contain_text("the emergency message at once")


async def _call_with_turns(server: Server, call_id: str, turns: list[tuple[str, str]]) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    async with server.db.session() as s:
        await calls.open_call(s, call_id=call_id, caller_number="+15550100001", started=start)
        for n, (speaker, text) in enumerate(turns):
            at = start + timedelta(seconds=5 * n)
            await calls.add_turn(s, call_id=call_id, speaker=speaker,  # type: ignore[arg-type]
                                 text=text, start=at, end=at + timedelta(seconds=2))


async def test_the_missed_list_shows_what_the_line_could_not_serve_redacted(
    context: BrowserContext, flows_server: Server
) -> None:
    await _call_with_turns(flows_server, "call-missed", [
        ("bot", "Thank you for calling. How can I help you today?"),
        ("caller", "can you fax my records to 555 867 5309 by March fourth"),
        ("bot", "Sorry, I didn't catch that. Could you say it another way?"),
        ("caller", "I need a refill of my lisinopril"),
        ("bot", "Sure. First, what is the patient's full name?"),
        ("caller", "Maria Lopez"),
        ("bot", "And the date of birth?"),
        ("caller", "just put me through to someone"),
        ("bot", "One moment."), ("bot", "I'm connecting you now."),
    ])  # fmt: skip
    async with signed_in(flows_server, "super1") as admin:
        async with admin.get("/console/api/flows/missed?days=7") as response:
            assert response.status == 200
            found = (await response.json())["missed"]
        async with admin.get("/console/api/flows/missed?days=9000") as response:
            assert response.status == 400
    assert [(m["reason"], m["text"]) for m in found] == [
        ("not understood", "can you fax my records to [PHONE] by [DATE]"),
        ("asked for a person", "just put me through to someone"),
    ]
    async with flows_server.db.session() as s:
        seen = (await s.scalars(
            select(AuditEvent).where(AuditEvent.action == "view_missed_turns"))).all()
    assert len(seen) == 1 and seen[0].actor == "super1"
    async with (
        signed_in(flows_server, "nurse2") as nurse,
        nurse.get("/console/api/flows/missed") as response,
    ):
        assert response.status == 403
    page = await browser_sign_in(context, flows_server, "super2")
    await page.click("#views .tab[data-view=flows-view]")
    rows = page.locator("#missed-turns tbody tr")
    await expect(rows).to_have_count(2)
    await rows.nth(1).locator("button", has_text="Try it").click()
    await expect(page.locator("#try-text")).to_have_value("just put me through to someone")
    # Into the training data: the sentence fills the form, the supervisor picks the intent.
    await rows.nth(0).locator("button.to-training").click()
    text = page.locator("#training-text")
    await expect(text).to_have_value("can you fax my records to [PHONE] by [DATE]")
    await page.select_option("#training-intent", "referral")
    await page.click("#training-form button[type=submit]")  # the redaction marks are refused
    await expect(page.locator("#training-error")).to_contain_text("plain words")
    await text.fill("can you fax my records to my new specialist")
    await page.click("#training-form button[type=submit]")
    await expect(page.locator("#training-state")).to_contain_text("Saved as version 1")
    await expect(page.locator("#training-added tbody tr")).to_have_text(
        ["referralcan you fax my records to my new specialistRemove"]
    )
    await expect(page.locator("#training-history tbody tr[data-version='1']")).to_contain_text(
        "not trained"
    )
    await page.locator("#training-history tbody tr[data-version='1'] button.changes").click()
    await expect(page.locator("#training-changes li")).to_have_text(
        ["added to referral: can you fax my records to my new specialist"]
    )
    # A name the line should know goes to its word list, not to an intent.
    await expect(page.locator("#training-intent optgroup")).to_have_count(2)
    await page.select_option("#training-intent", "lookup:insurer")
    await text.fill("Blue Ridge Health Plan")
    await page.click("#training-form button[type=submit]")
    await expect(page.locator("#training-state")).to_contain_text("Saved as version 2")
    await expect(page.locator("#training-added tbody tr")).to_have_text([
        "referralcan you fax my records to my new specialistRemove",
        "insurer namesblue ridge health planRemove",
    ])  # fmt: skip
    await page.locator("#training-history tbody tr[data-version='2'] button.changes").click()
    await expect(page.locator("#training-changes li")).to_have_text(
        ["added to insurer names: blue ridge health plan"]
    )
    # super2 may not publish, and this console cannot train: neither button is offered.
    await expect(page.locator("#training-train")).to_be_hidden()
    await expect(page.locator("#training-publish")).to_be_hidden()
