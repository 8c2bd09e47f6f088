"""A signed-in agent's browser phone socket, carried to the gateway's WebSocket.

Browsers never reach the gateway: the console's app accepts the socket only with a live
console session from the console's own origin, opens its own to the gateway (loopback), and
passes SIP messages both ways unchanged. On the way back it reads one thing: the gateway's
answer to the phone's REGISTER. That answer, not anything the browser says, decides whether
calls for this agent ring her browser (`on_registered`); when either socket ends, they stop.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

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


async def relay(
    browser: web.WebSocketResponse,
    gateway_url: str,
    username: str,
    on_registered: Callable[[bool], Awaitable[None]],
) -> None:
    """Pass messages between `browser` (prepared), the page of the signed-in `username`, and
    the gateway until either side ends. A REGISTER for another line ends the socket: valid
    credentials of another agent (copied from her screen) do not make her calls ring here."""
    registered = False

    async def tell(now: bool) -> None:
        nonlocal registered
        if now != registered:
            registered = now
            await on_registered(now)

    try:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(
                gateway_url, protocols=("sip",), heartbeat=20.0, max_msg_size=MAX_MESSAGE
            ) as gateway,
        ):

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
    except (aiohttp.ClientError, OSError) as exc:
        log.warning("browser phone: the gateway is unreachable (%s)", type(exc).__name__)
    finally:
        await tell(False)
        if not browser.closed:
            await browser.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"phone line ended")
