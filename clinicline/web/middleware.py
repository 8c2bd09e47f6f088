"""Checks every request of our web listeners passes before a handler runs, and the last word on
what escapes a handler.

- `forwarded_by(proxies)`: behind a TLS-terminating reverse proxy, the scheme and the client's
  address come from `X-Forwarded-Proto` / `X-Forwarded-For` — but only when the request really
  comes from one of the configured proxies; from anyone else those headers are ignored.
- `bodies_are_json`: a request that carries a body must say it is JSON (415 otherwise) and be
  small (413). A browser sends a cross-site `text/plain` or form POST without asking first;
  JSON needs a CORS preflight it will never get, so this alone stops that kind of forgery.
- `errors_without_phi`: an unexpected exception answers 500 with no detail and is logged by
  type and code location only — exception messages can carry what a caller said.
"""

from __future__ import annotations

import ipaddress
import logging
import traceback
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger(__name__)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status,
                             headers={"Cache-Control": "no-store"})


def where_it_failed(exc: BaseException) -> str:
    """`TypeName at file:line in function <- ...`: the frames of a traceback without the
    exception's message or any local value (they can hold slot values, names, dates)."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    places = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}"
                         for f in reversed(frames))
    return f"{type(exc).__name__} at {places}" if places else type(exc).__name__


@web.middleware
async def errors_without_phi(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        log.error("request failed: %s %s: %s", request.method, request.rel_url.path,
                  where_it_failed(exc))
        return problem(500, "internal error")


def bodies_are_json(max_bytes: int) -> Middleware:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in BODY_METHODS:
            length = request.content_length
            if length is not None and length > max_bytes:
                return problem(413, f"request body over {max_bytes} bytes")
            has_body = length != 0 and (length is not None or request.body_exists)
            if has_body and request.content_type != "application/json":
                return problem(415, "send application/json")
        return await handler(request)

    return check


def forwarded_by(proxies: Iterable[str]) -> Middleware:
    """Trust X-Forwarded-Proto/-For only from these addresses or networks (e.g. "127.0.0.1",
    "10.0.0.0/24"): the proxy that terminates TLS in front of the app."""
    networks = [ipaddress.ip_network(p, strict=False) for p in proxies]

    def trusted(address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in net for net in networks)

    @web.middleware
    async def rewrite(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not networks or not trusted(request.remote):
            return await handler(request)
        scheme = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        # The client is the nearest hop that is not one of our proxies.
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        client = next((h for h in reversed(hops) if h and not trusted(h)), request.remote)
        remote = _valid_ip(client) or request.remote or ""
        if scheme in ("http", "https"):
            return await handler(request.clone(remote=remote, scheme=scheme))
        return await handler(request.clone(remote=remote))

    return rewrite


def _valid_ip(text: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(text or ""))
    except ValueError:
        return None
