"""What every console request passes first: the session, the role, the origin and the body.

Handlers get the signed-in `Staff` from `signed_in()`; POSTs must come from the console's own
origin (CSRF) with a small JSON object body. Failures answer 401/403/413/400 and never data.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from clinicline.web.console.hub import WebSocketHub
from clinicline.web.console.sessions import COOKIE_NAME, SessionStore, Staff
from clinicline.web.console.signin import SignIn
from integrations.ehr.sync import EhrSync
from integrations.store import Database
from routing.transfer import TransferCoordinator

MAX_BODY_BYTES = 16 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Console:
    """Everything the console handlers need, kept on the app under `CONSOLE`."""

    db: Database
    hub: WebSocketHub
    coordinator: TransferCoordinator
    sessions: SessionStore
    signin: SignIn
    ehr: EhrSync | None = None  # the clinic's EHR, for what only it has (insurance)


CONSOLE: web.AppKey[Console] = web.AppKey("clinicline_console", Console)
_STAFF_KEY: web.RequestKey[Staff] = web.RequestKey("clinicline_console_staff", Staff)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=NO_STORE)


NO_STORE = {"Cache-Control": "no-store"}


def same_origin(request: web.Request) -> bool:
    """True when the browser says the request comes from this very origin."""
    expected = f"{request.scheme}://{request.host}"
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == expected
    referer = request.headers.get("Referer", "")
    return referer == expected or referer.startswith(expected + "/")


def requires(
    *roles: str, post: bool = False, before_password_change: bool = False
) -> Callable[[Handler], Handler]:
    """Guard a handler: a valid session (401), one of `roles` if given (403), for POSTs the
    same-origin check (403), and a password of the agent's own choosing (403) unless the
    handler is one of the few a forced password change needs (`before_password_change`)."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if post and not same_origin(request):
                return error(403, "cross-origin request refused")
            cookie = request.cookies.get(COOKIE_NAME)
            signed = await console_of(request).sessions.session_for(cookie)
            if signed is None:
                return error(401, "sign in first")
            if signed.must_change_password and not before_password_change:
                return web.json_response(
                    {"error": "choose your own password first", "must_change_password": True},
                    status=403, headers=NO_STORE,
                )
            staff = signed.staff
            if roles and staff.role not in roles:
                return error(403, "your role cannot do this")
            request[_STAFF_KEY] = staff
            try:
                return await handler(request)
            except BadBody as exc:
                return error(exc.status, str(exc))

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    return wrap


def signed_in(request: web.Request) -> Staff:
    return request[_STAFF_KEY]


class BadBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, read with a hard size cap; raises `BadBody`."""
    if request.content_type != "application/json":
        raise BadBody(415, "send application/json")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise BadBody(413, "request body too large")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[…" nested too deep
        raise BadBody(400, "body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BadBody(400, "body must be a JSON object")
    return data


def text_field(data: dict[str, Any], name: str, *, max_len: int, required: bool = True) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value) > max_len or (required and not value):
        raise BadBody(400, f"'{name}' must be a string of 1..{max_len} characters")
    return value


def int_param(request: web.Request, name: str) -> int:
    # ASCII only: str.isdigit() and int() also take "１" (fullwidth) or "١" (Arabic-Indic).
    raw = request.match_info.get(name, "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise BadBody(400, f"'{name}' must be a number")
    return int(raw)


def call_id_param(request: web.Request) -> str:
    raw = request.match_info.get("call_id", "")
    if not 0 < len(raw) <= 64 or not raw.isascii() or not all(
        c.isalnum() or c in "-_.@" for c in raw
    ):
        raise BadBody(400, "malformed call id")
    return raw
