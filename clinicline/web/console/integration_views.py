"""The interface engine's dead letters in the console, for supervisors:
GET /console/api/hl7/dead-letters and POST /console/api/hl7/dead-letters/{message_id}/send-again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from clinicline.web.console.guards import (
    NO_STORE,
    BadBody,
    console_of,
    int_param,
    requires,
    signed_in,
)
from integrations.hl7.dead_letters import dead_letters, send_again


@requires("supervisor")
async def list_dead_letters(request: web.Request) -> web.Response:
    async with console_of(request).db.session() as s:
        rows = await dead_letters(s)
    return web.json_response({"dead_letters": rows}, headers=NO_STORE)


@requires("supervisor", post=True)
async def send_dead_letter_again(request: web.Request) -> web.Response:
    message_id = int_param(request, "message_id")
    async with console_of(request).db.session() as s:
        queued = await send_again(
            s, message_id, actor=signed_in(request).username, now=datetime.now(UTC)
        )
    if not queued:
        raise BadBody(404, f"no dead letter {message_id}")
    return web.json_response({"id": message_id, "status": "pending"}, headers=NO_STORE)
