"""REST for agent desktops: the context behind a SIP header token, and a call's full record."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from clinicline.web.console.guards import (
    NO_STORE,
    call_id_param,
    console_of,
    error,
    requires,
    signed_in,
)
from integrations.errors import NotFound
from integrations.services.audit import record_access
from integrations.services.call_report import call_report


@requires()
async def context(request: web.Request) -> web.Response:
    """GET /api/context/{token}: the CTI payload, once; forged, used or expired tokens 404."""
    console, staff = console_of(request), signed_in(request)
    token = request.match_info.get("token", "")
    found = await console.coordinator.tokens.resolve_call(token)
    if found is None:
        return error(404, "unknown or expired context")
    call_id, payload = found
    patient = payload.get("patient") or {}
    async with console.db.session() as s:
        await record_access(
            s,
            actor=staff.username,
            action="view_context",
            patient_id=patient.get("id"),
            call_id=call_id,
        )
    return web.json_response(payload, headers=NO_STORE)


def _was_sent_to(report: dict[str, Any], agent_id: int) -> bool:
    """The call record shows a transfer offered to this agent (survives a restart)."""
    return any(
        e["kind"].startswith("transfer_") and e["data"].get("agent_id") == agent_id
        for e in report["events"]
    )


@requires()
async def call_record(request: web.Request) -> web.Response:
    """GET /api/calls/{call_id}: supervisors, or the agent the call was transferred to."""
    console, staff = console_of(request), signed_in(request)
    call_id = call_id_param(request)
    async with console.db.session() as s:
        try:
            report = await call_report(s, call_id)
        except NotFound:
            return error(404, "no such call")
        allowed = (
            staff.is_supervisor
            or staff.agent_id in console.coordinator.offered_to(call_id)
            or _was_sent_to(report, staff.agent_id)
        )
        if not allowed:
            return error(403, "this call was not sent to you")
        patient = report.get("patient") or {}
        await record_access(
            s,
            actor=staff.username,
            action="view_call",
            patient_id=patient.get("id"),
            call_id=call_id,
        )
    return web.json_response(report, headers=NO_STORE)
