"""The agent console in real headless Chromium: sign-in, presence, a pushed screen-pop,
accept, wrap-up, tasks, and refusals for the signed-out and the wrong role."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select, update

from integrations.ehr.fhir_client import EhrSettings, FhirEhr
from integrations.ehr.sync import EhrSync
from integrations.services import calls, hold_line
from integrations.services.agents import list_agents, presence_of, set_presence
from integrations.services.audit import audit_trail
from integrations.services.tasks import create_task, open_tasks
from integrations.store import Database
from integrations.store.models import AuditEvent, HoldLine, Patient
from routing.context import TransferRequest
from routing.cti import PatientContext, TranscriptLine, TriageContext
from routing.hub import FlagAlert
from tests.console.conftest import OPEN_NOW, Server, serving
from tests.integrations.fhir_server import FhirServer, add_clinic, add_coverage
from voice.audio.recording import CallRecording


async def sign_in(context: BrowserContext, server: Server, username: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{server.url}/console")
    await page.fill("#username", username)
    await page.fill("#password", f"{username}-demo")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#console-view")).to_be_visible()
    return page


@asynccontextmanager
async def another_console(
    context: BrowserContext, server: Server, username: str
) -> AsyncIterator[Page]:
    """A second person's console, in a browser context of its own (its own cookies)."""
    assert context.browser is not None
    other = await context.browser.new_context()
    try:
        yield await sign_in(other, server, username)
    finally:
        await other.close()


async def go_available(page: Page, server: Server, username: str) -> None:
    await page.click("button.presence[data-presence=available]")
    await expect(page.locator("#presence-state")).to_have_text("available")
    # Push only once the page's WebSocket has registered (the one real race here).
    await server.hub.wait_connected(server.agent_ids[username])


def emergent_request(call_id: str) -> TransferRequest:
    return TransferRequest(
        call_id=call_id,
        queue="nurse",
        reason="red flag during the call",
        emergent=True,
        caller_number="+15550100001",
        patient=PatientContext(1, "Maria Lopez", date(1972, 3, 4), True, ("name", "dob")),
        intent="report_symptom",
        triage=TriageContext("emergent", ("chest_pain",), ("crushing chest pressure",)),
    )


async def open_call(server: Server, call_id: str) -> None:
    async with server.db.session() as s:
        await calls.open_call(s, call_id=call_id, caller_number="+15550100001", started=OPEN_NOW)


async def test_wrong_password_is_refused_on_the_page(context: BrowserContext, server: Server):
    page = await context.new_page()
    await page.goto(f"{server.url}/console")
    await page.fill("#username", "nurse2")
    await page.fill("#password", "not-the-password")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-error")).to_have_text("wrong username or password")
    await expect(page.locator("#console-view")).to_be_hidden()


async def test_sign_in_sets_a_strict_httponly_cookie(context: BrowserContext, server: Server):
    await sign_in(context, server, "nurse2")
    [cookie] = await context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "nurse2" not in cookie["value"]


async def test_presence_change_is_persisted(context: BrowserContext, server: Server) -> None:
    page = await sign_in(context, server, "nurse2")
    await go_available(page, server, "nurse2")
    async with server.db.session() as s:
        presence = {a.username: a.presence for a in await list_agents(s)}
    assert presence["nurse2"] == "available"


async def test_away_with_a_reason_shows_on_her_console_and_the_supervisors_board(
    context: BrowserContext, server: Server
) -> None:
    page = await sign_in(context, server, "nurse2")
    await page.select_option("#away-reason", "lunch")
    await page.click("#go-away")
    await expect(page.locator("#presence-state")).to_have_text("away (lunch)")
    await expect(page.locator("#presence-timer")).to_have_text(re.compile(r"^\d+ s$"))
    async with server.db.session() as s:
        state = await presence_of(s, server.agent_ids["nurse2"])
    assert (state.presence, state.reason) == ("away", "lunch")
    # Set away by the system (an offer rang out on her phone): her console learns it with the
    # board's next refresh, the supervisor reads why on the board.
    async with server.db.session() as s:
        await set_presence(s, server.agent_ids["nurse2"], "away", reason="missed_offer")
    await expect(page.locator("#presence-state")).to_have_text("away (missed a call)")
    async with another_console(context, server, "super1") as other:
        row = other.locator("#board-agents tbody tr", has_text="Tomasz Kowalczyk").locator("td")
        await expect(row.nth(2)).to_have_text("away (missed a call)")
        await expect(row.nth(3)).to_have_text(re.compile(r"^\d+ s$"))


# Desktop notifications cannot be seen from a headless browser: the page's Notification is
# replaced by one that records what it was asked to show (the only stand-in in this file).
RECORD_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__notifications.push({ title, body: options.body }); }
};
"""


async def test_an_emergent_offer_cannot_be_missed(context: BrowserContext, server: Server) -> None:
    await context.add_init_script(RECORD_NOTIFICATIONS)
    page = await sign_in(context, server, "nurse2")
    await go_available(page, server, "nurse2")
    await open_call(server, "call-alert")
    flagged_at = datetime.now(UTC) - timedelta(seconds=20)
    request = emergent_request("call-alert")
    request = replace(request, triage=replace(request.triage, flagged_at=flagged_at))
    plan = await server.coordinator.plan(request)
    assert plan.agent is not None and plan.agent.username == "nurse2"

    card = page.locator("#calls .card")
    # Who, why, and how long ago the flag fired, on the card's first line.
    await expect(card.locator(".who")).to_have_text("Maria Lopez (verified)")
    await expect(card.locator(".why")).to_have_text('chest pain — "crushing chest pressure"')
    await expect(card.locator(".since")).to_have_text(re.compile(r"flag [2-5]\d s ago"))
    # Title, announcement to screen readers, focus, the page's alert state, a notification
    # that names no patient.
    await expect(page).to_have_title(re.compile("^EMERGENT call"))
    await expect(page.locator("#announcer")).to_have_text(
        "Emergent call offered: Maria Lopez (verified), chest pain"
    )
    await expect(page.locator("#announcer")).to_have_attribute("aria-live", "assertive")
    await expect(card).to_be_focused()
    await expect(page.locator("body")).to_have_attribute("data-alerting", "emergent")
    shown = await page.evaluate("window.__notifications")
    assert shown == [{"title": "Emergent call offered", "body": "Red flag: chest pain"}]
    # Answered: the alert stands down.
    await card.locator("button.accept").click()
    await expect(page).to_have_title("clinicline agent console")
    await expect(page.locator("body")).not_to_have_attribute("data-alerting", "emergent")


async def test_screen_pop_accept_and_wrap_up(context: BrowserContext, server: Server) -> None:
    page = await sign_in(context, server, "nurse2")
    await go_available(page, server, "nurse2")
    await open_call(server, "call-pop")
    plan = await server.coordinator.plan(emergent_request("call-pop"))
    assert plan.agent is not None and plan.agent.username == "nurse2"

    card = page.locator("#calls .card")
    await expect(card.locator(".level")).to_have_text("emergent")
    await expect(card.locator(".level")).to_have_class("level level-emergent")
    await expect(card.locator(".flags")).to_have_text("chest_pain")
    await expect(card.locator(".words")).to_have_text("crushing chest pressure")
    await expect(card.locator(".summary")).to_have_text(
        "Verified patient Maria Lopez, chest pain, emergent."
    )

    await card.locator("button.accept").click()
    # Accepting is not talking: the card says connected only once her phone has the caller.
    await expect(card.locator(".state")).to_have_text("accepted: answer your phone")
    await expect(card.locator(".wrapup")).to_be_hidden()
    # Her phone answers: what the voice worker reports when the consult leg connects (no
    # voice worker in this test). Only then may she wrap the call up.
    await server.coordinator.on_answered(plan)
    await expect(card.locator(".state")).to_have_text("connected")
    await expect(page.locator("#presence-state")).to_have_text("busy")
    await card.locator("select.disposition").select_option("emergency_transferred")
    await card.locator("textarea.notes").fill("advised 911, stayed on line")
    await card.locator(".wrapup button[type=submit]").click()
    await expect(page.locator("#status")).to_have_text("Wrap-up saved")
    await expect(page.locator("#calls .card")).to_have_count(0)

    async with server.db.session() as s:
        report = await calls.call_report(s, "call-pop")
        trail = await audit_trail(s, 1)
        presence = {a.username: a.presence for a in await list_agents(s)}
    assert report["disposition"] == "emergency_transferred"
    assert any(e["kind"] == "wrap_up" for e in report["events"])
    assert any(a.action == "screen_pop" and a.actor == "nurse2" for a in trail)
    assert presence["nurse2"] == "available"


async def test_a_connected_card_passes_the_call_on_to_a_queue_worker_stand_in(
    context: BrowserContext, server: Server
) -> None:
    """The card's Transfer form, up to the worker's handler (this fixture has no voice
    worker: the hub's handler stands in; tests/callflow/test_transfers.py makes the call)."""
    asked: list[tuple[str, int, str, str, int | None]] = []

    async def worker_heard(
        call_id: str, agent_id: int, queue: str, note: str, to_agent: int | None
    ) -> None:
        asked.append((call_id, agent_id, queue, note, to_agent))

    server.hub.on_handoff = worker_heard
    page = await sign_in(context, server, "nurse2")
    await go_available(page, server, "nurse2")
    await open_call(server, "call-pass")
    plan = await server.coordinator.plan(emergent_request("call-pass"))
    card = page.locator("#calls .card")
    await expect(card.locator(".handoff")).to_be_hidden()  # offered: not hers to pass on yet
    await server.coordinator.on_answered(plan)  # what the worker writes when her phone takes it
    async with server.db.session() as s:
        await calls.add_event(s, call_id="call-pass", kind="bridged", data={"queue": "nurse"})
    await expect(card.locator(".state")).to_have_text("connected")
    await expect(card.locator(".handoff")).to_be_visible()
    await card.locator(".handoff button[type=submit]").click()  # no queue chosen yet
    assert not await card.locator("select.handoff-queue").evaluate("s => s.checkValidity()")
    assert asked == []  # form refused to submit; nothing reached the worker
    await card.locator("select.handoff-queue").select_option("billing")
    await card.locator("select.handoff-agent").select_option("billing1")
    await card.locator("input.handoff-note").fill("billing question")
    await card.locator(".handoff button[type=submit]").click()
    await expect(card.locator(".state")).to_have_text("transferred")
    await expect(card.locator("select.disposition")).to_have_value("transferred")
    assert asked == [
        ("call-pass", server.agent_ids["nurse2"], "billing", "billing question",
         server.agent_ids["billing1"]),
    ]  # fmt: skip
    await server.coordinator.on_call_ended(plan)  # the worker let her leg go
    await expect(card.locator(".state")).to_have_text("transferred")
    await expect(card.locator(".handoff")).to_be_hidden()


async def test_the_keyboard_accepts_declines_and_reaches_transfer_and_wrap_up(
    context: BrowserContext, server: Server
) -> None:
    page = await sign_in(context, server, "nurse2")
    await go_available(page, server, "nurse2")
    card = page.locator("#calls .card")
    await open_call(server, "call-keys-1")
    await server.coordinator.plan(emergent_request("call-keys-1"))
    await expect(card.locator(".state")).to_have_text("ringing")
    await page.locator("body").press("d")  # a letter alone is typing, not a command
    await expect(card).to_have_count(1)
    await page.keyboard.press("Alt+KeyD")
    await expect(card).to_have_count(0)  # withdrawn as the decline is being recorded
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        async with server.db.session() as s:
            report = await calls.call_report(s, "call-keys-1")
        kinds = [e["kind"] for e in report["events"]]
        if "transfer_declined" in kinds:
            break
        assert asyncio.get_running_loop().time() < deadline, kinds
        await asyncio.sleep(0.2)

    await open_call(server, "call-keys-2")
    plan = await server.coordinator.plan(emergent_request("call-keys-2"))
    assert plan.agent is not None and plan.agent.username == "nurse2"
    await expect(card.locator(".state")).to_have_text("ringing")
    await page.keyboard.press("Alt+KeyA")
    await expect(card.locator(".state")).to_have_text("accepted: answer your phone")
    await server.coordinator.on_answered(plan)
    async with server.db.session() as s:
        await calls.add_event(s, call_id="call-keys-2", kind="bridged", data={"queue": "nurse"})
    await expect(card.locator(".state")).to_have_text("connected")
    await page.keyboard.press("Alt+KeyT")
    await expect(card.locator("select.handoff-queue")).to_be_focused()
    await page.keyboard.press("Alt+KeyW")
    await expect(card.locator("select.disposition")).to_be_focused()


async def test_a_red_flag_on_a_call_back_gets_a_card_of_its_own(
    context: BrowserContext, server: Server
) -> None:
    """Click-to-call has no offer, so no card: the worker's flag makes one (sent here through
    the hub, as the worker's callback dialer does)."""
    page = await sign_in(context, server, "front1")
    await expect(page.locator("#link")).to_have_text("online")
    alert = FlagAlert("emergent", ("cardiac",), ("chest pain",), datetime.now(UTC).isoformat())
    await server.hub.flag(server.agent_ids["front1"], "callback-abc", alert)
    card = page.locator("#calls .card[data-call-id='callback-abc']")
    await expect(card.locator(".alert")).to_contain_text("Red flag (emergent)")
    await expect(card.locator(".why")).to_have_text("cardiac")
    await expect(page.locator("#announcer")).to_have_text("Red flag on your call back: cardiac")
    await card.locator("button.dismiss").click()
    await expect(card).to_have_count(0)


async def test_claim_and_complete_a_task(context: BrowserContext, server: Server) -> None:
    async with server.db.session() as s:
        task_id = await create_task(
            s, kind="refill_review", queue="pharmacy", patient_id=2, call_id=None,
            note="no refills left",
        )
    page = await sign_in(context, server, "pharm1")
    row = page.locator(f"#tasks tr[data-task-id='{task_id}']")
    await row.locator("button.claim").click()
    await expect(row.locator("button.complete")).to_be_visible()
    await row.locator("button.complete").click()
    await expect(row).to_have_count(0)
    async with server.db.session() as s:
        assert all(t.task_id != task_id for t in await open_tasks(s))
        trail = await audit_trail(s, 2)
    assert any(a.action == "view_task" and a.actor == "pharm1" for a in trail)


async def test_a_callback_task_shows_the_number_priority_age_and_who_claimed_it(
    context: BrowserContext, server: Server
) -> None:
    await open_call(server, "call-cb")  # from +15550100001
    async with server.db.session() as s:
        await calls.set_fields(s, "call-cb", triage_level="urgent")
        routine = await create_task(
            s, kind="callback", queue="front_desk", patient_id=None, call_id=None,
            note="asked about parking",
        )
        flagged = await create_task(
            s, kind="callback", queue="front_desk", patient_id=None, call_id="call-cb",
            note="fever for five days",
        )
    page = await sign_in(context, server, "front1")
    rows = page.locator("#tasks tbody tr")
    # The flagged caller's callback comes first although it is the newer one.
    await expect(rows.first).to_have_attribute("data-task-id", str(flagged))
    first = rows.first.locator("td")
    await expect(first.nth(0)).to_have_text("High")
    await expect(first.nth(1)).to_have_text("Callback")
    await expect(first.nth(4)).to_have_text("+15550100001")
    await expect(first.nth(5)).to_have_text("0 min")
    await rows.first.locator("button.claim").click()
    await expect(rows.first.locator("td").nth(7)).to_have_text("claimed by you")
    routine_row = page.locator(f"#tasks tr[data-task-id='{routine}'] td")
    await expect(routine_row.nth(0)).to_have_text("")
    await expect(routine_row.nth(4)).to_have_text("—")
    # A supervisor sees who has it.
    async with another_console(context, server, "super1") as other:
        claimed = other.locator(f"#tasks tr[data-task-id='{flagged}'] td")
        await expect(claimed.nth(7)).to_have_text(re.compile("^claimed by (?!you)"))
    # The caller's number on screen is PHI: each showing is audited, under the call.
    async with server.db.session() as s:
        viewers = set(
            await s.scalars(
                select(AuditEvent.actor).where(
                    AuditEvent.action == "view_task", AuditEvent.call_id == "call-cb"
                )
            )
        )
    assert viewers == {"front1", "super1"}


async def test_signed_out_page_shows_only_sign_in_and_api_refuses(
    context: BrowserContext, server: Server
) -> None:
    page = await context.new_page()
    await page.goto(f"{server.url}/console")
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#console-view")).to_be_hidden()
    for path in ("/console/tasks", "/api/calls/call-x", "/api/context/abc.def", "/console/me"):
        response = await page.request.get(f"{server.url}{path}")
        assert response.status == 401, path


async def test_agent_cannot_read_a_call_not_sent_to_them(
    context: BrowserContext, server: Server
) -> None:
    await open_call(server, "call-other")
    page = await sign_in(context, server, "billing1")
    response = await page.request.get(f"{server.url}/api/calls/call-other")
    assert response.status == 403
    assert "turns" not in await response.text()


async def test_live_transcript_lines_reach_the_offered_card(
    context: BrowserContext, server: Server
) -> None:
    page = await sign_in(context, server, "nurse2")
    await go_available(page, server, "nurse2")
    await open_call(server, "call-live")
    await server.coordinator.plan(emergent_request("call-live"))
    await expect(page.locator("#calls .card")).to_have_count(1)
    line = TranscriptLine("caller", "it is spreading to my arm", OPEN_NOW)
    await server.coordinator.transcript_line("call-live", line)
    await expect(page.locator("#calls .card .transcript li").last).to_have_text(
        "caller: it is spreading to my arm"
    )


async def test_first_sign_in_with_a_one_time_password_asks_for_a_new_one(
    context: BrowserContext, server: Server
) -> None:
    from integrations.passwords import hash_password
    from integrations.services.agents import add_agent

    async with server.db.session() as s:
        await add_agent(s, username="admin", name="First Admin", role="supervisor",
                        password_hash=hash_password("one-time-secret"))
    page = await context.new_page()
    await page.goto(f"{server.url}/console")
    await page.fill("#username", "admin")
    await page.fill("#password", "one-time-secret")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#password-view")).to_be_visible()
    await expect(page.locator("#console-view")).to_be_hidden()
    await page.reload()  # reloading does not get past the form either
    await expect(page.locator("#password-view")).to_be_visible()
    await page.fill("#current-password", "one-time-secret")
    await page.fill("#new-password", "my own long passphrase")
    await page.fill("#repeat-password", "my own long passphrase")
    await page.click("#password-form button[type=submit]")
    await expect(page.locator("#console-view")).to_be_visible()
    await expect(page.locator("#password-view")).to_be_hidden()


async def test_the_live_board_shows_who_waits_and_for_supervisors_every_agent(
    context: BrowserContext, server: Server
) -> None:
    now = datetime.now(UTC)
    async with server.db.session() as s:
        for call_id, minutes, level in (("call-w1", 4, "none"), ("call-w2", 1, "urgent")):
            await calls.open_call(
                s, call_id=call_id, caller_number="+15550100009",
                started=now - timedelta(minutes=minutes + 1),
            )  # fmt: skip
            await calls.set_fields(s, call_id, triage_level=level, transfer_queue="front_desk")
            await hold_line.join(s, call_id, "front_desk", now=now - timedelta(minutes=minutes))
            # Still holding: its worker has refreshed the row every few seconds since.
            await s.execute(
                update(HoldLine).where(HoldLine.call_id == call_id).values(seen_at=now)
            )
            await s.commit()
        await calls.open_call(s, call_id="call-e", caller_number=None, started=now)
        await calls.set_fields(s, "call-e", triage_level="emergent")
    page = await sign_in(context, server, "front1")
    line = page.locator("#board-lines tbody tr").first.locator("td")
    await expect(line.nth(0)).to_have_text("front_desk")
    await expect(line.nth(1)).to_have_text("2")
    await expect(line.nth(2)).to_have_text("4 min")
    await expect(line.nth(3)).to_have_text("1")
    await expect(page.locator("#board-asking")).to_have_text("2")
    await expect(page.locator("#board-emergent")).to_have_text(re.compile(r"^1 emergent"))
    # An agent does not see the others' states; a supervisor does.
    await expect(page.locator("#board-agents")).to_be_hidden()
    async with another_console(context, server, "super1") as other:
        agents = other.locator("#board-agents")
        await expect(agents).to_be_visible()
        await expect(agents.locator("tbody tr")).to_have_count(len(server.agent_ids))
    # Counts and staff names only: no caller number and no patient reach the board.
    body = await (await page.request.get(f"{server.url}/console/api/board")).text()
    assert "+1555" not in body and "Lopez" not in body


async def test_a_supervisor_opens_a_recent_call_and_the_view_is_audited(
    context: BrowserContext, server: Server
) -> None:
    now = datetime.now(UTC)
    async with server.db.session() as s:
        await calls.open_call(
            s, call_id="call-rec", caller_number="+15550100007", started=now - timedelta(minutes=3)
        )
        await calls.add_turn(
            s, call_id="call-rec", speaker="caller", text="I need my inhaler refilled",
            start=now - timedelta(minutes=3), end=now - timedelta(minutes=3),
        )  # fmt: skip
        await calls.add_event(s, call_id="call-rec", kind="intent", data={"name": "request_refill"})
        await calls.close_call(s, call_id="call-rec", ended=now, disposition="refill_requested")
        kept = CallRecording(max_seconds=10)
        for i in range(100):  # two seconds: a tone from the caller, the bot's on the right
            kept.caller.on_received(np.full(160, 2000 * (i % 2), dtype="<i2").tobytes())
            kept.caller.on_sent(np.full(160, 1000, dtype="<i2").tobytes())
        await calls.save_recording(s, "call-rec", kept.wav())
    page = await sign_in(context, server, "super1")
    await page.click("#views .tab[data-view=calls-view]")
    row = page.locator("#recent-calls tr[data-call-id='call-rec']")
    cells = row.locator("td")
    await expect(cells.nth(1)).to_have_text("3 min")
    await expect(cells.nth(2)).to_have_text("request refill")
    await expect(cells.nth(5)).to_have_text("refill requested")
    # The list names no caller: only opening the record shows the number and the words.
    assert "+1555" not in await page.locator("#recent-calls").inner_text()
    await row.locator("button.open-call").click()
    record = page.locator("#call-record")
    await expect(record.locator(".record-caller")).to_have_text("+15550100007")
    await expect(record.locator(".record-transcript li")).to_have_text(
        ["caller: I need my inhaler refilled"]
    )
    async with server.db.session() as s:
        viewers = list(
            await s.scalars(
                select(AuditEvent.actor).where(
                    AuditEvent.action == "view_call", AuditEvent.call_id == "call-rec"
                )
            )
        )
    assert viewers == ["super1"]
    # The recording plays in the page: Chromium fetches and decodes the WAV (two seconds).
    audio = record.locator(".record-audio")
    await expect(audio).to_be_visible()
    await expect(record.locator(".record-no-audio")).to_be_hidden()
    seconds = await audio.evaluate(
        "a => new Promise((done, failed) => { a.onloadedmetadata = () => done(a.duration);"
        " a.onerror = () => failed(String(a.error && a.error.code)); a.load(); })"
    )
    assert abs(seconds - 2.0) < 0.05
    # An agent cannot list calls.
    async with another_console(context, server, "nurse2") as nurse:
        response = await nurse.request.get(f"{server.url}/console/api/calls")
        assert response.status == 403


async def test_a_supervisor_finds_calls_by_red_flag_level_queue_outcome_and_day(
    context: BrowserContext, server: Server
) -> None:
    now = datetime.now(UTC)
    seeded = (  # call id, level, flags, queue, disposition, days ago
        ("find-chest", "emergent", ["chest_pain"], "nurse", "emergency_transferred", 0),
        ("find-stroke", "emergent", ["stroke_signs"], "nurse", "emergency_transferred", 0),
        ("find-refill", "none", [], None, "refill_requested", 0),
        ("find-old-chest", "emergent", ["chest_pain"], "nurse", "abandoned", 3),
    )
    async with server.db.session() as s:
        for call_id, level, flags, queue, disposition, days in seeded:
            started = now - timedelta(days=days, minutes=5)
            await calls.open_call(s, call_id=call_id, caller_number=None, started=started)
            await calls.set_fields(
                s, call_id, triage_level=level, flags=flags, transfer_queue=queue
            )
            await calls.close_call(s, call_id=call_id, ended=started + timedelta(minutes=2),
                                   disposition=disposition)  # fmt: skip
    page = await sign_in(context, server, "super1")
    await page.click("#views .tab[data-view=calls-view]")
    await expect(page.locator("#recent-calls tr[data-call-id='find-refill']")).to_be_visible()
    shown = page.locator("#recent-calls tbody tr[data-call-id^='find-']")
    await page.fill("#search-flag", "chest pain")  # as a supervisor would type it
    await page.click("#call-search button[type=submit]")
    await expect(shown).to_have_count(2)
    zone = server.coordinator.hours.timezone
    today = (now - timedelta(minutes=5)).astimezone(zone).date().isoformat()  # its local day
    await page.fill("#search-from", today)
    await page.click("#call-search button[type=submit]")
    await expect(shown).to_have_count(1)
    await expect(shown.first).to_have_attribute("data-call-id", "find-chest")
    await page.click("#call-search button[type=reset]")
    await page.select_option("#search-disposition", "abandoned")
    await page.click("#call-search button[type=submit]")
    await expect(shown).to_have_count(1)
    await expect(shown.first).to_have_attribute("data-call-id", "find-old-chest")
    await page.select_option("#search-disposition", "refill_requested")
    await page.select_option("#search-level", "emergent")
    await page.click("#call-search button[type=submit]")
    await expect(page.locator("#recent-calls tbody")).to_have_text("No call matches.")
    for query in ("flag=Chest", "level=severe", "direction=sideways", "from=yesterday",
                  "queue=" + "x" * 41, "patient=Maria"):  # fmt: skip
        response = await page.request.get(f"{server.url}/console/api/calls?{query}")
        assert response.status == 400, query


async def test_a_verified_callers_card_opens_her_patient_panel_and_it_is_audited(
    context: BrowserContext, server: Server
) -> None:
    page = await sign_in(context, server, "nurse2")
    await go_available(page, server, "nurse2")
    await open_call(server, "call-panel")
    async with server.db.session() as s:  # the dialog verified her (name + date of birth)
        await calls.set_fields(s, "call-panel", verified_patient_id=1)
    plan = await server.coordinator.plan(emergent_request("call-panel"))
    assert plan.agent is not None and plan.agent.username == "nurse2"
    panel = page.locator("#calls .card .panel")
    await expect(panel).to_be_visible()
    await panel.locator("summary").click()
    await expect(panel.locator(".panel-medications li")).to_have_text(
        ["lisinopril 10 mg — 3 refill(s) left", "metformin 500 mg — 2 refill(s) left"]
    )
    # Only an EHR has insurance: this clinic has none, and the panel says so.
    await expect(panel.locator(".panel-insurance li")).to_have_text(
        ["not shown: no EHR configured"]
    )
    async with server.db.session() as s:
        trail = await audit_trail(s, 1)
    assert any(a.action == "view_patient_panel" and a.actor == "nurse2" for a in trail)


async def test_the_panel_shows_the_insurance_in_force_that_the_ehr_has(
    context: BrowserContext, tmp_path: Path, seeded_template: Path, fhir_server: FhirServer
) -> None:
    """With an EHR as the record, the billing agent sees the payer, plan and the member ID's
    last four, read from it when she opens the panel; the caller never hears any of it."""
    ids = add_clinic(fhir_server, date(2031, 3, 6), "Insurwell")
    add_coverage(fhir_server, ids["patient"], "Blue Cross of Somewhere")

    def ehr(db: Database) -> EhrSync:
        return EhrSync(db, FhirEhr(EhrSettings.from_url(fhir_server.ehr_url, fhir_server.token)))

    async with serving(tmp_path, seeded_template, ehr=ehr) as server:
        async with server.db.session() as s:  # the demo patient is the EHR's patient
            await s.execute(update(Patient).where(Patient.id == 1).values(fhir_id=ids["patient"]))
            await s.commit()
        page = await sign_in(context, server, "nurse2")
        await go_available(page, server, "nurse2")
        await open_call(server, "call-insured")
        async with server.db.session() as s:
            await calls.set_fields(s, "call-insured", verified_patient_id=1)
        plan = await server.coordinator.plan(emergent_request("call-insured"))
        assert plan.agent is not None and plan.agent.username == "nurse2"
        panel = page.locator("#calls .card .panel")
        await panel.locator("summary").click()
        await expect(panel.locator(".panel-insurance li")).to_have_text([
            "Blue Cross of Somewhere — PPO Gold — member ID ending 6789 — until 2032-12-31"
        ])


async def test_the_patient_panel_is_the_calls_own_patient_and_only_for_its_agent(
    context: BrowserContext, server: Server
) -> None:
    page = await sign_in(context, server, "nurse2")
    await go_available(page, server, "nurse2")
    await open_call(server, "call-unverified")
    plan = await server.coordinator.plan(emergent_request("call-unverified"))
    assert plan.agent is not None and plan.agent.username == "nurse2"
    # The payload says Maria Lopez, verified; the store says the call is not verified.
    response = await page.request.get(f"{server.url}/api/calls/call-unverified/patient")
    assert response.status == 404
    async with another_console(context, server, "front1") as front:
        response = await front.request.get(f"{server.url}/api/calls/call-unverified/patient")
        assert response.status == 403


async def test_a_supervisor_sees_who_is_on_the_line_and_joins_a_call_from_the_board(
    context: BrowserContext, server: Server
) -> None:
    requests: list[tuple[str, int, str]] = []

    async def worker_heard(call_id: str, supervisor_id: int, mode: str) -> None:
        requests.append((call_id, supervisor_id, mode))

    server.hub.on_monitor = worker_heard  # what the worker bridging the call is handed
    now = datetime.now(UTC)
    nurse = server.agent_ids["nurse2"]
    async with server.db.session() as s:
        for call_id, bridged in (("call-line", True), ("call-ringing", False)):
            await calls.open_call(
                s, call_id=call_id, caller_number="+15550100011",
                started=now - timedelta(minutes=2),
            )  # fmt: skip
            await calls.set_fields(
                s, call_id, triage_level="emergent", transfer_queue="nurse", transferred=bridged
            )
            await calls.add_event(
                s, call_id=call_id, kind="transfer_answered", data={"agent_id": nurse}
            )
        await calls.add_event(s, call_id="call-line", kind="bridged", data={"queue": "nurse"})
    # An agent has no such table; a supervisor sees the bridged call, not the ringing one.
    page = await sign_in(context, server, "front1")
    await expect(page.locator("#board-on-the-line")).to_be_hidden()
    async with another_console(context, server, "super1") as other:
        rows = other.locator("#board-on-the-line tbody tr")
        await expect(rows).to_have_count(1)
        cells = rows.first.locator("td")
        await expect(cells.nth(2)).to_have_text("Tomasz Kowalczyk")
        await expect(cells.nth(4)).to_have_text("—")
        await expect(rows.first.locator("button[data-mode=stop]")).to_be_disabled()
        await rows.first.locator("button[data-mode=whisper]").click()
        await expect(other.locator("#status")).to_have_text("Ringing your desk phone to whisper.")
        assert requests == [("call-line", server.agent_ids["super1"], "whisper")]
        # Her phone answered (the worker records it): the board says so, Stop is offered.
        async with server.db.session() as s:
            await calls.add_event(
                s, call_id="call-line", kind="monitor_started",
                data={"supervisor_id": server.agent_ids["super1"], "mode": "whisper"},
            )  # fmt: skip
        await expect(cells.nth(4)).to_have_text("whisper", timeout=15_000)
        await expect(rows.first.locator("button[data-mode=stop]")).to_be_enabled()
