"""An agent at her console, for the call tests: signed in, the console's socket open and read
(as the page does, so her presence follows it), presence set."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from playwright.async_api import Page, async_playwright

from tests.console.conftest import CHROMIUM_ARGS


@dataclass
class ConsoleAgent:
    http: aiohttp.ClientSession
    base: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # wall clock, one per message
    reader: asyncio.Task[None] | None = None

    async def presence(self, state: str) -> None:
        async with self.http.post(f"{self.base}/console/presence", json={"presence": state}) as r:
            assert r.status == 200, await r.text()

    def offered_at(self, call_id: str) -> list[float]:
        """When each offer of `call_id` reached her console (wall clock)."""
        return [
            at for at, m in zip(self.arrived, self.messages, strict=True)
            if m.get("type") == "offer" and m.get("pop", {}).get("call_id") == call_id
        ]  # fmt: skip

    async def close_socket(self) -> None:
        """Stop reading her console's socket; her session (cookie) stays."""
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader

    async def close(self) -> None:
        await self.close_socket()
        await self.http.close()


async def sign_in_at_console(
    base: str, username: str, presence: str | None = "available", password: str | None = None
) -> ConsoleAgent:
    # unsafe=True: keep cookies from an IP-address host (the console on 127.0.0.1)
    http = aiohttp.ClientSession(
        headers={"Origin": base}, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    login = {"username": username, "password": password or f"{username}-demo"}
    async with http.post(f"{base}/console/login", json=login) as r:
        assert r.status == 200, await r.text()
    agent = ConsoleAgent(http, base)
    ws = await http.ws_connect(f"{base}/console/ws")

    async def read() -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                agent.arrived.append(time.time())
                agent.messages.append(json.loads(message.data))

    agent.reader = asyncio.create_task(read())
    if presence is not None:
        await agent.presence(presence)
    return agent


async def open_console(http: aiohttp.ClientSession, base: str) -> asyncio.Task[None]:
    """The console page's socket for a session already signed in: opened and read until the
    session closes (an unread socket would miss the server's heartbeat and be dropped)."""
    ws = await http.ws_connect(f"{base}/console/ws")

    async def read() -> None:
        async for _ in ws:
            pass

    return asyncio.create_task(read())


@contextlib.asynccontextmanager
async def console_in_chromium(base: str, username: str) -> AsyncIterator[Page]:
    """A staff member's console in headless Chromium, signed in with her demo password."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context()).new_page()
            await page.goto(f"{base}/console")
            await page.fill("#username", username)
            await page.fill("#password", f"{username}-demo")
            await page.click("#login-form button[type=submit]")
            yield page
        finally:
            await browser.close()
