"""The interface engine's dead letters in the console: supervisors see why each died and send
one again (audited); everyone else is refused. API with aiohttp, the tab in headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from playwright.async_api import BrowserContext, expect
from sqlalchemy import select

from integrations.store.models import Appointment, AuditEvent, Hl7Message
from tests.console.conftest import Server
from tests.console.test_console_api import sign_in
from tests.console.test_console_browser import sign_in as browser_sign_in


async def _dead_letter(server: Server) -> int:
    async with server.db.session() as s:
        appointment = await s.scalar(select(Appointment).limit(1))
        assert appointment is not None
        audit = AuditEvent(actor="bot", action="book_appointment", patient_id=None)
        s.add(audit)
        await s.flush()
        message = Hl7Message(
            audit_event_id=audit.id, trigger="S12", appointment_id=appointment.id,
            control_id="CL-test-1", status="dead", attempts=8,
            last_error="AR: unknown provider",
        )  # fmt: skip
        s.add(message)
        await s.commit()
        return message.id


@pytest.fixture
async def client(server: Server) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        base_url=server.url, cookie_jar=jar, headers={"Origin": server.url}
    ) as session:
        yield session


async def test_a_supervisor_sees_a_dead_letter_and_sends_it_again(
    client: aiohttp.ClientSession, server: Server
) -> None:
    message_id = await _dead_letter(server)
    await sign_in(client, "super1")
    async with client.get("/console/api/hl7/dead-letters") as response:
        (listed,) = (await response.json())["dead_letters"]
    assert listed["id"] == message_id and listed["reason"] == "AR: unknown provider"
    assert set(listed) == {"id", "trigger", "appointment_id", "attempts", "reason", "created_at"}
    path = f"/console/api/hl7/dead-letters/{message_id}/send-again"
    async with client.post(path, json={}) as response:
        assert response.status == 200
    async with client.post(path, json={}) as response:
        assert response.status == 404  # no longer dead: nothing to send again
    async with server.db.session() as s:
        message = await s.get(Hl7Message, message_id)
        audited = await s.scalar(
            select(AuditEvent.actor).where(AuditEvent.action == "hl7_send_again")
        )
    assert message is not None and (message.status, message.attempts) == ("pending", 0)
    assert audited == "super1"


async def test_only_supervisors_reach_dead_letters(
    client: aiohttp.ClientSession, server: Server
) -> None:
    message_id = await _dead_letter(server)
    await sign_in(client, "front1")
    async with client.get("/console/api/hl7/dead-letters") as response:
        assert response.status == 403
    async with client.post(f"/console/api/hl7/dead-letters/{message_id}/send-again", json={}) as r:
        assert r.status == 403


async def test_the_interface_engine_tab(context: BrowserContext, server: Server) -> None:
    await _dead_letter(server)
    page = await browser_sign_in(context, server, "super1")
    await page.click("#views .tab[data-view=engine-view]")
    row = page.locator("#dead-letters tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(1)).to_have_text("S12 (booking)")
    await row.locator("button.send-again").click()
    await expect(page.locator("#engine-status")).to_have_text(
        "None: the engine took every message."
    )
