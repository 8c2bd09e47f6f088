"""The supervisor view's figures: GET /console/api/metrics?from=...&to=... (supervisors only;
/console/api/metrics/export: the same as CSV, audited),
the live board: GET /console/api/board (everyone signed in), and the recent calls:
GET /console/api/calls (supervisors; opening one record is the audited /api/calls/{id}).

Aggregates only (counts, rates, timings, breakdowns), so reading them touches no patient's
record and writes no audit row. `from`/`to` are dates (whole clinic-local days, `to`
inclusive) or ISO 8601 date-times (naive = clinic-local); no bounds means today in the
clinic's timezone (the business-hours file's `timezone`).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, tzinfo
from typing import Any

from aiohttp import web

from clinicline.web.console.guards import NO_STORE, BadBody, console_of, requires, signed_in
from integrations.errors import InvalidField
from integrations.services import calls
from integrations.services.agents import presence_of
from integrations.services.audit import record_access
from integrations.services.board import live_board
from integrations.services.metrics import CallMetrics, call_metrics, parse_window
from integrations.services.recent_calls import MAX_LIMIT, CallSearch, recent_calls


async def _figures(request: web.Request) -> CallMetrics:
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
        return await call_metrics(s, window)


@requires("supervisor")
async def metrics(request: web.Request) -> web.Response:
    figures = await _figures(request)
    return web.json_response(figures.to_json(), headers=NO_STORE)


def _flat(prefix: str, value: Any) -> list[tuple[str, str]]:
    """The figures as (name, value) rows: nested names joined with dots."""
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _flat(f"{prefix}.{k}" if prefix else k, v)]
    if isinstance(value, list):
        return [row for i, v in enumerate(value) for row in _flat(f"{prefix}.{i}", v)]
    return [(prefix, "" if value is None else str(value))]


@requires("supervisor")
async def export(request: web.Request) -> web.Response:
    """The same figures as CSV (figure, value), for a spreadsheet. Aggregates only, but what
    leaves the console is audited all the same."""
    console, staff = console_of(request), signed_in(request)
    figures = (await _figures(request)).to_json()
    async with console.db.session() as s:
        await record_access(
            s, actor=staff.username, action="metrics_export", patient_id=None,
            detail={"window": figures["window"]},
        )  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["figure", "value"])
    writer.writerows(_flat("", figures))
    day = figures["window"]["from"][:10]
    return web.Response(
        text=out.getvalue(), content_type="text/csv",
        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="numbers-{day}.csv"'},
    )  # fmt: skip


@requires()
async def board(request: web.Request) -> web.Response:
    """The live board: queues waiting, calls in progress; every agent's state for
    supervisors; the viewer's own state (the system may have set her away: a missed offer, a
    closed console). Counts and staff names only (no audit row)."""
    console, staff = console_of(request), signed_in(request)
    async with console.db.session() as s:
        live = await live_board(s, now=datetime.now(UTC), with_agents=staff.is_supervisor)
        own = await presence_of(s, staff.agent_id)
    return web.json_response({**live.to_json(), "you": own.to_json()}, headers=NO_STORE)


@requires("supervisor")
async def recent(request: web.Request) -> web.Response:
    """GET /console/api/calls?limit=N: the newest calls, no PHI (supervisors only); narrowed by
    `from`/`to` (as the numbers' window), `level`, `flag`, `queue`, `disposition` and
    `direction`. Nothing about a caller is searchable here: opening a record is the view."""
    console = console_of(request)
    unknown = set(request.query) - SEARCH_PARAMETERS
    if unknown:
        raise BadBody(
            400, f"unknown parameter(s) {sorted(unknown)}; use {sorted(SEARCH_PARAMETERS)}"
        )
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadBody(400, f"limit must be a whole number from 1 to {MAX_LIMIT}")
    search = _search(request, console.coordinator.hours.timezone)
    async with console.db.session() as s:
        rows = await recent_calls(s, limit=int(raw), search=search)
    return web.json_response({"calls": rows}, headers=NO_STORE)


SEARCH_PARAMETERS = frozenset(
    {"limit", "from", "to", "level", "flag", "queue", "disposition", "direction"}
)
_CHOICES = {
    "level": calls.TRIAGE_LEVELS,
    "disposition": calls.DISPOSITIONS,
    "direction": frozenset({"inbound", "outbound"}),
}


def _search(request: web.Request, zone: tzinfo) -> CallSearch:
    query = request.query
    found: dict[str, str | None] = {}
    for name in ("level", "flag", "queue", "disposition", "direction"):
        value = query.get(name) or None
        if value is not None and (
            len(value) > 40 or not all(c.islower() or c == "_" for c in value)
        ):
            raise BadBody(400, f"'{name}' must be a lower-case code such as chest_pain")
        if value is not None and name in _CHOICES and value not in _CHOICES[name]:
            raise BadBody(400, f"{name} must be one of {sorted(_CHOICES[name])}")
        found[name] = value
    start = end = None
    if query.get("from") or query.get("to"):
        try:
            window = parse_window(query.get("from"), query.get("to"), zone, datetime.now(UTC))
        except InvalidField as exc:
            raise BadBody(400, str(exc)) from exc
        start, end = window.start, window.end
    return CallSearch(start=start, end=end, **found)
