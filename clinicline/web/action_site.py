"""The Rasa action endpoint on a listener of its own: only our Rasa servers may call it.

It is not on the public web port. It listens on loopback by default (a private address when
Rasa runs on another machine: the `action_listen` setting), and every request must carry
`Authorization: Bearer <action token>` — a token made at start-up unless `action_token` is
configured — and a JSON body. Everything else gets 401, 405, 413 or 415 before any action
runs, and nothing about the tracker is trusted (see `dialogs.actions.context`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from clinicline.config import HostPort
from clinicline.errors import StartupError
from clinicline.web.middleware import bodies_are_json, errors_without_phi, problem
from dialogs.action_endpoint import action_webhook, nlg_webhook
from dialogs.actions import build_action_executor
from dialogs.wording import DialogWording
from integrations.ehr.sync import EhrSync
from integrations.store import Database
from routing.hours import BusinessHours

log = logging.getLogger(__name__)

# Rasa sends the whole tracker and the domain (~60 KB at the start of a call); a long call's
# tracker grows by a few hundred bytes a turn.
MAX_ACTION_CALL_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ActionEndpoint:
    """Where our Rasa servers reach the actions, and the token they must show."""

    url: str
    token: str

    @property
    def nlg_url(self) -> str:
        """Where Rasa asks for the words of its own responses (same listener and token)."""
        return self.url.removesuffix("/webhook") + "/nlg"


def bearer_token(token: str) -> Middleware:
    expected = token.encode()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if not expected or scheme != "Bearer" or not hmac.compare_digest(given.encode(), expected):
            response = problem(401, "the action endpoint is for the clinic's Rasa servers only")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return await handler(request)

    return check


def action_app(
    db: Database,
    token: str,
    *,
    clock: Callable[[], datetime] | None = None,
    hours: BusinessHours | None = None,
    ehr: EhrSync | None = None,
    wording: DialogWording | None = None,
) -> web.Application:
    if not token:
        raise StartupError("the action endpoint needs a token")
    app = web.Application(
        client_max_size=MAX_ACTION_CALL_BYTES,
        middlewares=[errors_without_phi, bearer_token(token),
                     bodies_are_json(MAX_ACTION_CALL_BYTES)],
    )
    wording = wording or DialogWording.from_file()
    executor = build_action_executor(db, clock=clock, hours=hours, ehr=ehr, wording=wording)
    app.router.add_post("/webhook", action_webhook(executor))
    app.router.add_post("/nlg", nlg_webhook(wording))
    return app


async def start_action_site(
    db: Database,
    listen: HostPort,
    token: str,
    hours: BusinessHours | None = None,
    ehr: EhrSync | None = None,
    wording: DialogWording | None = None,
) -> tuple[web.AppRunner, ActionEndpoint]:
    """Serve the actions on `listen` (port 0: any free port); returns the runner and the URL."""
    app = action_app(db, token, hours=hours, ehr=ehr, wording=wording)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, listen.host, listen.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot listen for Rasa's action calls on {listen}: {exc}") from exc
    port = runner.addresses[0][1]  # the real port when port 0 asked for any free one
    host = f"[{listen.host}]" if ":" in listen.host else listen.host
    url = f"http://{host}:{port}/webhook"
    log.info("rasa action endpoint on %s (bearer token required)", url)
    return runner, ActionEndpoint(url, token)
