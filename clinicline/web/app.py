"""`create_app(services)`: the one aiohttp application of a clinicline server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from clinicline.web.middleware import bodies_are_json, errors_without_phi, forwarded_by

if TYPE_CHECKING:
    from clinicline.server import Services

SERVICES: web.AppKey[Any] = web.AppKey("services")

# Hostile or mistaken clients get a clear 413 instead of filling memory.
MAX_REQUEST_BYTES = 256 * 1024


async def health(request: web.Request) -> web.Response:
    services: Services = request.app[SERVICES]
    body = services.health.to_json()
    return web.json_response(body, status=200 if services.health.taking_calls else 503)


def guarded_app(*, trusted_proxies: Iterable[str] = ()) -> web.Application:
    """An application whose every request passes the shared checks of `middleware.py`."""
    return web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        middlewares=[
            errors_without_phi,
            forwarded_by(trusted_proxies),
            bodies_are_json(MAX_REQUEST_BYTES),
        ],
    )


def create_app(services: Services) -> web.Application:
    app = guarded_app(trusted_proxies=services.config.trusted_proxies)
    app[SERVICES] = services
    app.router.add_get("/health", health)
    if services.db is not None and services.hub is not None and services.coordinator is not None:
        from clinicline.web.console import setup_console

        config = services.config
        setup_console(
            app, services.db, services.hub, services.coordinator,
            idle_seconds=config.console_idle_minutes * 60,
            hash_workers=config.login_hash_workers,
            flows=services.flows,
            ehr=services.ehr,
            softphone=services.softphone,
            callbacks=services.callbacks,
        )
    return app
