"""The console page itself, sign-in, sign-out and "who am I"."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from clinicline.web.console.guards import (
    NO_STORE,
    BadBody,
    console_of,
    error,
    json_body,
    requires,
    same_origin,
    signed_in,
    text_field,
)
from clinicline.web.console.sessions import COOKIE_NAME, SESSION_SECONDS, Staff
from integrations.services.agents import authenticate, set_presence

STATIC_DIR = Path(__file__).with_name("static")
# No inline script or style, nothing from other origins, never framed.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    **NO_STORE,
}


async def page(request: web.Request) -> web.StreamResponse:
    """The single console page: it holds no data; the script fetches it after sign-in."""
    return web.FileResponse(STATIC_DIR / "console.html", headers=PAGE_HEADERS)


async def login(request: web.Request) -> web.Response:
    if not same_origin(request):
        return error(403, "cross-origin request refused")
    console = console_of(request)
    try:
        data = await json_body(request)
        username = text_field(data, "username", max_len=64)
        password = text_field(data, "password", max_len=256)
    except BadBody as exc:
        return error(exc.status, str(exc))
    if console.sessions.locked_out(username):
        return error(429, "too many failed sign-ins; wait a minute")
    async with console.db.session() as s:
        agent = await authenticate(s, username, password)
    if agent is None:
        console.sessions.failed(username)
        return error(401, "wrong username or password")
    console.sessions.succeeded(username)
    staff = Staff.of(agent)
    response = web.json_response({"agent": staff.to_json()}, headers=NO_STORE)
    response.set_cookie(
        COOKIE_NAME,
        console.sessions.open(staff),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


@requires(post=True)
async def logout(request: web.Request) -> web.Response:
    console = console_of(request)
    staff = signed_in(request)
    console.sessions.close(request.cookies.get(COOKIE_NAME))
    console.coordinator.presence.signed_out(staff.agent_id)
    async with console.db.session() as s:
        await set_presence(s, staff.agent_id, "offline")
    response = web.json_response({"ok": True}, headers=NO_STORE)
    response.del_cookie(COOKIE_NAME, path="/")
    return response


@requires()
async def me(request: web.Request) -> web.Response:
    return web.json_response({"agent": signed_in(request).to_json()}, headers=NO_STORE)
