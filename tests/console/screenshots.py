"""Screenshots of the console's views for the README, taken in headless Chromium from the same
console the tests serve, on the demo clinic: `python -m tests.console.screenshots docs/screenshots`.

A nurse's card for an emergent transfer with the verified caller's panel open, and a
supervisor's tabs (numbers, recent calls, campaigns, interface engine, flows).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

from integrations.services import calls
from integrations.services.tasks import create_task
from tests.console.conftest import CHROMIUM_ARGS, serving
from tests.console.test_console_browser import (
    emergent_request,
    go_available,
    open_call,
    sign_in,
)
from tests.demo_store import write_demo_template

SUPERVISOR_TABS = {
    "numbers": "metrics-view",
    "recent-calls": "calls-view",
    "campaigns": "campaigns-view",
    "interface-engine": "engine-view",
    "flows": "flows-view",
}


async def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []
    with tempfile.TemporaryDirectory() as work:
        template = await write_demo_template(Path(work) / "template.db")
        async with serving(Path(work), template) as server, async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            context = await browser.new_context(viewport={"width": 1280, "height": 860})
            nurse = await sign_in(context, server, "nurse2")
            await go_available(nurse, server, "nurse2")
            await open_call(server, "call-shot")
            async with server.db.session() as s:
                await calls.set_fields(s, "call-shot", verified_patient_id=1)
                await create_task(s, kind="nurse_callback", queue="nurse", patient_id=1,
                                  call_id="call-shot", note="Dizzy since this morning.")
            await server.coordinator.plan(emergent_request("call-shot"))
            panel = nurse.locator("#calls .card .panel")
            await panel.locator("summary").click()
            await nurse.locator(".panel-medications li").first.wait_for()
            taken.append(out / "agent-card.png")
            await nurse.screenshot(path=str(taken[-1]), full_page=True)
            own = await browser.new_context(viewport={"width": 1280, "height": 860})
            supervisor = await sign_in(own, server, "super1")  # a browser of her own
            for name, view in SUPERVISOR_TABS.items():
                await supervisor.click(f"#views .tab[data-view={view}]")
                await supervisor.wait_for_timeout(800)  # the tab's data, loaded on opening
                taken.append(out / f"{name}.png")
                await supervisor.screenshot(path=str(taken[-1]))  # the first screenful
            await browser.close()
    return taken


if __name__ == "__main__":
    for path in asyncio.run(take(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))):
        print(path)
