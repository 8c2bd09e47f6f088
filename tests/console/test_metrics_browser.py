"""The supervisor's Numbers tab in real headless Chromium; other roles never see it."""

from __future__ import annotations

from playwright.async_api import BrowserContext, expect

from tests.console.conftest import Server
from tests.console.test_console_browser import sign_in
from tests.console.test_metrics_api import DAY, seed_calls


async def test_a_supervisor_sees_the_numbers(context: BrowserContext, server: Server) -> None:
    await seed_calls(server)
    page = await sign_in(context, server, "super1")
    await expect(page.locator("#views")).to_be_visible()
    await page.click("#views .tab[data-view=metrics-view]")
    await expect(page.locator("#metrics-view")).to_be_visible()
    await expect(page.locator("#console-view")).to_be_hidden()
    # Today (the real clock) has no calls: the page first shows an empty day.
    await expect(page.locator("#m-total")).to_have_text("0")
    await expect(page.locator("#m-containment-rate")).to_have_text("—")

    await page.fill("#metrics-from", DAY)
    await page.fill("#metrics-to", DAY)
    await page.click("#metrics-form button[type=submit]")
    await expect(page.locator("#m-total")).to_have_text("4")
    await expect(page.locator("#m-contained")).to_have_text("2")
    await expect(page.locator("#m-containment-rate")).to_have_text("50.0 %")
    await expect(page.locator("#m-transferred")).to_have_text("1")
    await expect(page.locator("#m-abandoned")).to_have_text("1")
    await expect(page.locator("#m-turned-away")).to_have_text("2")
    await expect(page.locator("#m-abandonment-rate")).to_have_text("50.0 %")
    await expect(page.locator("#m-emergent")).to_have_text("1")
    await expect(page.locator("#m-handle-median")).to_have_text("1 min 45 s")
    await expect(page.locator("#m-handle-p90")).to_have_text("4 min 06 s")
    await expect(page.locator("#m-answer-median")).to_have_text("12 s")
    await expect(page.locator("#m-answer-mean")).to_have_text("12 s")  # one answer: the mean
    # No call of the day came from a verified patient with a reason: nothing to count.
    await expect(page.locator("#m-fcr-rate")).to_have_text("—")
    await expect(page.locator("#m-fcr")).to_have_text("0 of 0 calls")
    # The charts: four calls between 09:00 and 09:30 at the clinic; one day at 50 % contained.
    bars = page.locator("#m-hours .bar-cell")
    await expect(bars).to_have_count(24)
    await expect(page.locator("#m-hours .bar-cell[data-hour='9']")).to_have_attribute(
        "data-calls", "4"
    )
    await expect(page.locator("#m-days tbody tr td")).to_have_text(
        [DAY, "4", "50.0 %", "25.0 %"]
    )
    await expect(page.locator("#metrics-export")).to_have_attribute(
        "href", f"/console/api/metrics/export?from={DAY}&to={DAY}"
    )
    await expect(page.locator("#metrics-window")).to_have_text(
        "from Mar 3, 2031, 12:00 AM to Mar 4, 2031, 12:00 AM (America/New_York)"
    )
    queues = page.locator("#m-queues tbody tr")
    await expect(queues).to_have_count(2)
    await expect(queues.nth(1).locator("td")).to_have_text(["nurse", "1", "0", "1", "—"])
    await expect(page.locator("#m-intents tbody tr")).to_have_count(2)
    await expect(page.locator("#m-dispositions")).to_contain_text("refill requested")

    await page.click("#views .tab[data-view=console-view]")
    await expect(page.locator("#console-view")).to_be_visible()
    await expect(page.locator("#metrics-view")).to_be_hidden()


async def test_a_bad_window_shows_the_servers_reason(
    context: BrowserContext, server: Server
) -> None:
    page = await sign_in(context, server, "super1")
    await page.click("#views .tab[data-view=metrics-view]")
    await page.fill("#metrics-from", "2031-03-04")
    await page.fill("#metrics-to", "2031-03-03")
    await page.click("#metrics-form button[type=submit]")
    await expect(page.locator("#metrics-status")).to_have_text("'from' must be before 'to'")


async def test_a_nurse_has_no_numbers_tab(context: BrowserContext, server: Server) -> None:
    page = await sign_in(context, server, "nurse2")
    await expect(page.locator("#views")).to_be_hidden()
    await expect(page.locator("#metrics-view")).to_be_hidden()
    response = await page.request.get(f"{server.url}/console/api/metrics")
    assert response.status == 403
