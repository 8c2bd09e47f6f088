"""A signed-in agent's browser phone socket, carried to the gateway's WebSocket.

Browsers never reach the gateway: for a live console session from the console's own origin,
the console's app opens its own socket to the gateway (loopback), accepts the page's only once
that one is open (503 while the gateway restarts), and passes SIP messages both ways unchanged.
On the way back it reads one thing: the gateway's answer to the phone's REGISTER. That answer,
not anything the browser says, decides whether calls for this agent ring her browser
(`on_registered`); when either socket ends, they stop.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

# A SIP message from a browser phone: an INVITE answer with ICE candidates is a few KB.
MAX_MESSAGE = 64 * 1024
_CSEQ = re.compile(r"^CSeq:\s*\d+\s+(\S+)", re.IGNORECASE | re.MULTILINE)
_CONTACT = re.compile(r"^(?:Contact|m):(.*)$", re.IGNORECASE | re.MULTILINE)
_EXPIRES = re.compile(r";\s*expires=(\d+)", re.IGNORECASE)
_TO_USER = re.compile(r"^(?:To|t):[^\r\n]*?sips?:([^@;>\s]+)@", re.IGNORECASE | re.MULTILINE)


def registers_someone_else(message: str, username: str) -> bool:
    """Whether `message` is a REGISTER for any line but `username`'s (or for none legible)."""
    if not message.startswith("REGISTER "):
        return False
    to = _TO_USER.search(message)
    return to is None or to.group(1) != username


def registration_result(message: str) -> bool | None:
    """For the gateway's final answer to a REGISTER: whether the phone is now registered
    (a 200 listing a contact that has not expired). None for every other message."""
    status = message[:12]
    if not status.startswith("SIP/2.0 ") or status[8:9] in ("1", ""):
        return None
    cseq = _CSEQ.search(message)
    if cseq is None or cseq.group(1).upper() != "REGISTER":
        return None
    if not status.startswith("SIP/2.0 200"):
        return False if not status.startswith("SIP/2.0 401") else None  # 401: a challenge
    return any(int(e) > 0 for c in _CONTACT.findall(message) for e in _EXPIRES.findall(c))


@asynccontextmanager
async def gateway_socket(gateway_url: str) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """The relay's own socket to the gateway. Opened before the browser's socket is accepted:
    while the gateway restarts, the page's upgrade fails and SIP.js waits its reconnection
    delay, instead of being accepted and ended at once, over and over (~75 times a second)."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            gateway_url, protocols=("sip",), heartbeat=20.0, max_msg_size=MAX_MESSAGE
        ) as gateway,
    ):
        yield gateway


async def relay(
    browser: web.WebSocketResponse,
    gateway: aiohttp.ClientWebSocketResponse,
    username: str,
    on_registered: Callable[[bool], Awaitable[None]],
) -> None:
    """Pass messages between `browser` (prepared), the page of the signed-in `username`, and
    `gateway` until either side ends. A REGISTER for another line ends the socket: valid
    credentials of another agent (copied from her screen) do not make her calls ring here."""
    registered = False

    async def tell(now: bool) -> None:
        nonlocal registered
        if now != registered:
            registered = now
            await on_registered(now)

    async def up() -> None:
        async for message in browser:
            if message.type != WSMsgType.TEXT:
                continue
            if registers_someone_else(message.data, username):
                log.warning("browser phone: a REGISTER for another line, refused")
                return
            await gateway.send_str(message.data)

    async def down() -> None:
        async for message in gateway:
            if message.type != WSMsgType.TEXT:
                continue
            result = registration_result(message.data)
            if result is not None:
                await tell(result)
            await browser.send_str(message.data)

    tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await tell(False)
        if not browser.closed:
            await browser.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"phone line ended")
