"""The supervisor view's figures: GET /console/api/metrics?from=...&to=... (supervisors only),
the live board: GET /console/api/board (everyone signed in), and the recent calls:
GET /console/api/calls (supervisors; opening one record is the audited /api/calls/{id}).

Aggregates only (counts, rates, timings, breakdowns), so reading them touches no patient's
record and writes no audit row. `from`/`to` are dates (whole clinic-local days, `to`
inclusive) or ISO 8601 date-times (naive = clinic-local); no bounds means today in the
clinic's timezone (the business-hours file's `timezone`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from clinicline.web.console.guards import NO_STORE, BadBody, console_of, requires, signed_in
from integrations.errors import InvalidField
from integrations.services.board import live_board
from integrations.services.metrics import call_metrics, parse_window
from integrations.services.recent_calls import MAX_LIMIT, recent_calls


@requires("supervisor")
async def metrics(request: web.Request) -> web.Response:
    console = console_of(request)
    unknown = set(request.query) - {"from", "to"}
    if unknown:
        raise BadBody(400, f"unknown parameter(s) {sorted(unknown)}; use 'from' and 'to'")
    zone = console.coordinator.hours.timezone
    try:
        window = parse_window(
            request.query.get("from"), request.query.get("to"), zone, datetime.now(UTC)
        )
    except InvalidField as exc:
        raise BadBody(400, str(exc)) from exc
    async with console.db.session() as s:
        figures = await call_metrics(s, window)
    return web.json_response(figures.to_json(), headers=NO_STORE)


@requires()
async def board(request: web.Request) -> web.Response:
    """The live board: queues waiting, calls in progress; every agent's state for
    supervisors. Counts and staff names only (no audit row)."""
    console, staff = console_of(request), signed_in(request)
    async with console.db.session() as s:
        live = await live_board(s, now=datetime.now(UTC), with_agents=staff.is_supervisor)
    return web.json_response(live.to_json(), headers=NO_STORE)


@requires("supervisor")
async def recent(request: web.Request) -> web.Response:
    """GET /console/api/calls?limit=N: the newest calls, no PHI (supervisors only)."""
    console = console_of(request)
    unknown = set(request.query) - {"limit"}
    if unknown:
        raise BadBody(400, f"unknown parameter(s) {sorted(unknown)}; use 'limit'")
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadBody(400, f"limit must be a whole number from 1 to {MAX_LIMIT}")
    async with console.db.session() as s:
        rows = await recent_calls(s, limit=int(raw))
    return web.json_response({"calls": rows}, headers=NO_STORE)
