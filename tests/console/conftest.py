"""A real console on a free loopback port, a seeded demo store, and headless Chromium.

Each test gets its own copy of a store seeded once per session, its own aiohttp app with
`setup_console`, and a fresh browser context; the browser itself is shared by the session.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from clinicline.callflow.prompts import clinic_prompts
from clinicline.softphone.directory import GatewayDirectory
from clinicline.web.app import guarded_app
from clinicline.web.console import FlowTools, WebSocketHub, setup_console
from dialogs.wording import DialogWording
from integrations.ehr.sync import EhrSync
from integrations.services.agents import list_agents
from integrations.store import Database
from nlu.triage import TriageEngine
from nlu.triage.engine import DEFAULT_LEXICON
from routing.hours import BusinessHours
from routing.transfer import TransferCoordinator
from tests.demo_store import DATA_KEY, OPEN_NOW
from voice.tts.cache import PromptCache
from voice.tts.piper import PiperSynthesizer

CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-sync",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


async def sign_in_available(page: Page, base: str, username: str = "nurse1") -> None:
    """Sign the demo `username` in at the console in `page`, and make her available."""
    await page.goto(f"{base}/console")
    await page.fill("#username", username)
    await page.fill("#password", f"{username}-demo")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#console-view")).to_be_visible()
    await page.click("button.presence[data-presence=available]")
    await expect(page.locator("#presence-state")).to_have_text("available")


@dataclass
class Server:
    url: str
    db: Database
    hub: WebSocketHub
    coordinator: TransferCoordinator
    agent_ids: dict[str, int]
    app: web.Application



@asynccontextmanager
async def console_on_loopback(
    db: Database,
    hub: WebSocketHub,
    coordinator: TransferCoordinator,
    flows: FlowTools | None = None,
    ehr: EhrSync | None = None,
    softphone: GatewayDirectory | None = None,
) -> AsyncIterator[tuple[web.Application, str]]:
    """The console app on a free loopback port, as `serve` mounts it: the shared middleware
    in front, loopback trusted as a TLS proxy so that tests can speak for other client
    addresses (X-Forwarded-For) and for https. Yields the app and its base URL."""
    hub.on_answer = coordinator.answer_from_elsewhere
    app = guarded_app(trusted_proxies=("127.0.0.1",))
    setup_console(app, db, hub, coordinator, flows=flows, ehr=ehr, softphone=softphone)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield app, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def agent_ids(db: Database) -> dict[str, int]:
    async with db.session() as s:
        return {a.username: a.agent_id for a in await list_agents(s)}


@asynccontextmanager
async def serving(
    tmp_path: Path,
    seeded_template: Path,
    flows: FlowTools | None = None,
    ehr: Callable[[Database], EhrSync] | None = None,
    softphone: Callable[[Database], GatewayDirectory] | None = None,
) -> AsyncIterator[Server]:
    """A console on its own copy of the seeded demo store (with `ehr`, the EHR on that store
    is the record; with `softphone`, browser phones relayed to that directory's gateway)."""
    path = tmp_path / "clinic.db"
    shutil.copy(seeded_template, path)
    db = await Database.connect(f"sqlite+aiosqlite:///{path}", DATA_KEY)
    hub = WebSocketHub(db)
    coordinator = TransferCoordinator(
        db, hub, hours=BusinessHours.default(), clock=lambda: OPEN_NOW
    )
    try:
        sync = ehr(db) if ehr is not None else None
        phones = softphone(db) if softphone is not None else None
        async with console_on_loopback(db, hub, coordinator, flows, sync, phones) as (app, url):
            yield Server(url, db, hub, coordinator, await agent_ids(db), app)
    finally:
        await db.dispose()


@pytest.fixture
async def server(tmp_path: Path, seeded_template: Path) -> AsyncIterator[Server]:
    async with serving(tmp_path, seeded_template) as running:
        yield running


@pytest.fixture(scope="session")
def piper() -> PiperSynthesizer:
    """The clinic's voice (Piper), loaded once per test process: it speaks the Flows previews."""
    return PiperSynthesizer(threads=1)


@pytest.fixture
async def flows_server(
    tmp_path: Path, seeded_template: Path, piper: PiperSynthesizer, speech_data_dir: Path
) -> AsyncIterator[Server]:
    """A console whose Flows area has the voice loaded, as `serve` gives it once speech is up:
    on the disk cache every test server shares, where the built-in wording is rendered once."""
    cache = PromptCache(piper, speech_data_dir / "prompts")
    defaults = clinic_prompts("Riverside Clinic")
    await asyncio.to_thread(cache.prepare, defaults)
    # The lexicon and the symptom words; the safety net's model is the server's, not loaded here.
    triage = TriageEngine.from_file(DEFAULT_LEXICON, net_bank=None)
    # The dialogs' replies are edited there too (`dialog.<name>`), beside the call's prompts.
    wording = DialogWording.from_file()
    tools = FlowTools(defaults | wording.defaults(), cache, wording=wording, triage=triage)
    async with serving(tmp_path, seeded_template, tools) as running:
        yield running


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context()
    ctx.set_default_timeout(5000)
    try:
        yield ctx
    finally:
        await ctx.close()
