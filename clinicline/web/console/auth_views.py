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
from integrations.services import calls
from integrations.services.agents import list_agents, list_queues, presence_of, set_presence

STATIC_DIR = Path(__file__).with_name("static")
# No inline script or style, nothing from other origins, never framed. Audio plays from blob:
# URLs the page made itself from its own origin's answers (a prompt's preview).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    **NO_STORE,
}


async def page(request: web.Request) -> web.StreamResponse:
    """The single console page: it holds no data; the script fetches it after sign-in."""
    return web.FileResponse(STATIC_DIR / "console.html", headers=PAGE_HEADERS)


def _client(request: web.Request) -> str:
    """The client's address (behind a trusted proxy, the one it forwarded; see middleware)."""
    return request.remote or "unknown"


def _refusal(status: int, message: str, retry_after: float | None) -> web.Response:
    response = error(status, message)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
    return response


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
    outcome = await console.signin.check(_client(request), username, password)
    if outcome.agent is None:
        return _refusal(outcome.status, outcome.message, outcome.retry_after)
    staff = Staff.of(outcome.agent)
    body = {"agent": staff.to_json(), "must_change_password": outcome.must_change_password}
    response = web.json_response(body, headers=NO_STORE)
    cookie = await console.sessions.open(staff, must_change_password=outcome.must_change_password)
    response.set_cookie(
        COOKIE_NAME,
        cookie,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


@requires(post=True, before_password_change=True)
async def change_password(request: web.Request) -> web.Response:
    """POST /console/password {current, new}: the agent's own password (forced at first sign-in
    with a one-time password)."""
    console, staff = console_of(request), signed_in(request)
    data = await json_body(request)
    current = text_field(data, "current", max_len=256)
    new = text_field(data, "new", max_len=256)
    outcome = await console.signin.change_password(_client(request), staff.username, current, new)
    if outcome.agent is None:
        return _refusal(outcome.status, outcome.message, outcome.retry_after)
    await console.sessions.password_changed(request.cookies.get(COOKIE_NAME))
    return web.json_response({"ok": True}, headers=NO_STORE)


@requires(post=True, before_password_change=True)
async def logout(request: web.Request) -> web.Response:
    console = console_of(request)
    staff = signed_in(request)
    await console.sessions.close(request.cookies.get(COOKIE_NAME))
    await console.coordinator.presence.signed_out(staff.agent_id)
    async with console.db.session() as s:
        await set_presence(s, staff.agent_id, "offline")
    response = web.json_response({"ok": True}, headers=NO_STORE)
    response.del_cookie(COOKIE_NAME, path="/")
    return response


@requires(before_password_change=True)
async def me(request: web.Request) -> web.Response:
    signed = await console_of(request).sessions.session_for(request.cookies.get(COOKIE_NAME))
    must_change = signed is not None and signed.must_change_password
    staff = signed_in(request)
    async with console_of(request).db.session() as s:
        state = await presence_of(s, staff.agent_id)  # her console shows it, and its timer
        queues = [q.name for q in await list_queues(s)]  # where she may pass a call on
        colleagues = [
            {"username": a.username, "name": a.name, "skills": list(a.skills)}
            for a in await list_agents(s) if a.agent_id != staff.agent_id
        ]
    return web.json_response(
        {"agent": staff.to_json(), "must_change_password": must_change,
         "presence": state.to_json(), "queues": queues, "colleagues": colleagues,
         "dispositions": sorted(calls.DISPOSITIONS)},
        headers=NO_STORE,
    )  # fmt: skip
