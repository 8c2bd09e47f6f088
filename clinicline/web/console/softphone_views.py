"""The console's browser phone: its credentials, and its socket to the softphone gateway.

Only a signed-in agent's own page gets either: the credentials name her alone (the gateway
refuses a registration for anyone else's line), and the socket is relayed only for a live
session from the console's origin (`clinicline/softphone/relay.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import aiohttp
from aiohttp import web

from clinicline.softphone.directory import GatewayDirectory
from clinicline.softphone.gateway import SoftphoneLine
from clinicline.softphone.relay import MAX_MESSAGE, gateway_socket, relay
from clinicline.web.console.call_views import close_when_signed_out
from clinicline.web.console.guards import (
    NO_STORE,
    console_of,
    error,
    requires,
    same_origin,
    signed_in,
)
from clinicline.web.console.sessions import COOKIE_NAME, Staff
from integrations.services.agents import browser_phone_changed

log = logging.getLogger(__name__)

# SIP.js as npm ships it: ES modules the page imports from the console's own origin.
VENDOR_SIPJS = Path(__file__).with_name("vendor") / "node_modules" / "sip.js" / "lib"
SOFTPHONE: web.AppKey[GatewayDirectory] = web.AppKey("clinicline_softphone", GatewayDirectory)
SOCKET_PATH = "/console/softphone/ws"


@requires()
async def line(request: web.Request) -> web.Response:
    """What her page needs to register its phone: the socket's path, her address of record,
    and credentials that expire with a console session's longest life."""
    phone = await _gateway(request)
    if phone is None:
        return web.json_response({"available": False}, headers=NO_STORE)
    staff = signed_in(request)
    credentials = phone.credentials(staff.username)
    return web.json_response(
        {
            "available": True,
            "socket": SOCKET_PATH,
            "aor": phone.uri(staff.username),
            "username": credentials.username,
            "password": credentials.password,
            "expires": credentials.expires,
        },
        headers=NO_STORE,
    )


async def socket(request: web.Request) -> web.StreamResponse:
    phone = await _gateway(request)
    if phone is None:
        return error(404, "no browser phones on this server")
    if not same_origin(request):
        return error(403, "cross-origin WebSocket refused")
    console = console_of(request)
    signed = await console.sessions.session_for(request.cookies.get(COOKIE_NAME))
    if signed is None:
        return error(401, "sign in first")
    if signed.must_change_password:
        return error(403, "choose your own password first")
    staff = signed.staff
    async with contextlib.AsyncExitStack() as stack:
        try:
            gateway = await stack.enter_async_context(gateway_socket(phone.websocket_url))
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("browser phone: the gateway is unreachable (%s)", type(exc).__name__)
            return error(503, "the phone line is restarting: calls ring your desk phone")
        ws = web.WebSocketResponse(protocols=("sip",), heartbeat=20.0, max_msg_size=MAX_MESSAGE)
        await ws.prepare(request)
        await _relay(request, ws, gateway, phone, staff)
    return ws


async def _relay(
    request: web.Request,
    ws: web.WebSocketResponse,
    gateway: aiohttp.ClientWebSocketResponse,
    phone: SoftphoneLine,
    staff: Staff,
) -> None:
    console = console_of(request)

    async def registered(now: bool) -> None:
        try:
            async with console.db.session() as s:
                await browser_phone_changed(
                    s, staff.agent_id, phone.uri(staff.username), registered=now
                )
        except Exception:  # her desk phone keeps ringing meanwhile
            log.exception("agent %s: browser phone state not saved", staff.agent_id)
            return
        log.info("agent %s: browser phone %s", staff.agent_id, "on" if now else "off")

    watchdog = asyncio.create_task(close_when_signed_out(console, request, ws))
    try:
        await relay(ws, gateway, staff.username, registered)
    finally:
        watchdog.cancel()


async def _gateway(request: web.Request) -> SoftphoneLine | None:
    directory = request.app.get(SOFTPHONE)
    return None if directory is None else await directory.line()


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/api/softphone", line)
    router.add_get(SOCKET_PATH, socket)
