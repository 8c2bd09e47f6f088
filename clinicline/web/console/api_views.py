"""REST for agent desktops: the context behind a SIP header token, and a call's full record."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from clinicline.web.console.guards import (
    NO_STORE,
    Console,
    call_id_param,
    console_of,
    error,
    requires,
    signed_in,
)
from integrations.errors import EhrUnavailable, NotFound
from integrations.services import calls
from integrations.services.audit import record_access
from integrations.services.call_report import call_report
from integrations.services.patient_panel import patient_panel


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
        # The report holds the call's events already: no second read of them.
        offered, _ = calls.offer_state_of((e["kind"], e["data"]) for e in report["events"])
        if not staff.is_supervisor and staff.agent_id not in offered:
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


@requires("supervisor")
async def recording(request: web.Request) -> web.StreamResponse:
    """GET /api/calls/{call_id}/recording: the call's recording (stereo WAV: the caller, what
    she heard), decrypted for a supervisor's browser; every play is in the audit log."""
    console, staff = console_of(request), signed_in(request)
    call_id = call_id_param(request)
    try:
        async with console.db.session() as s:
            audio = await calls.load_recording(s, call_id, listener=staff.username)
    except NotFound:
        return error(404, "no such call")
    if audio is None:
        return error(404, "this call has no recording")
    return web.Response(body=audio, content_type="audio/wav", headers=NO_STORE)


async def _insurance(console: Console, patient_id: int, today: date) -> dict[str, Any]:
    """The insurance on file, which only the EHR has; why there is none to show, if so."""
    if console.ehr is None:
        return {"insurance": None, "insurance_note": "no EHR configured"}
    try:
        return {"insurance": await console.ehr.coverage(patient_id, today)}
    except EhrUnavailable:
        return {"insurance": None, "insurance_note": "the EHR did not answer"}
    except NotFound:
        return {"insurance": None, "insurance_note": "the patient is not in the EHR"}


@requires()
async def patient_panel_of_call(request: web.Request) -> web.Response:
    """GET /api/calls/{call_id}/patient: the verified patient's panel (appointments,
    medications, open tasks, recent calls) for supervisors or the agent the call was sent to.
    Which patient is the call's own verified patient in the store, never the client's word;
    an unverified call has no panel."""
    console, staff = console_of(request), signed_in(request)
    call_id = call_id_param(request)
    async with console.db.session() as s:
        try:
            patient_id = await calls.call_identity(s, call_id)
        except NotFound:
            return error(404, "no such call")
        if not staff.is_supervisor:
            offered, _ = await calls.offer_state(s, call_id)
            if staff.agent_id not in offered:
                return error(403, "this call was not sent to you")
        if patient_id is None:
            return error(404, "the caller is not verified: no patient panel")
        now = console.coordinator.hours.local(datetime.now(UTC))
        panel = await patient_panel(s, patient_id, now=now)
        await record_access(
            s,
            actor=staff.username,
            action="view_patient_panel",
            patient_id=patient_id,
            call_id=call_id,
        )
    # Read after the store's session is given back: the EHR may take seconds to answer.
    panel |= await _insurance(console, patient_id, now.date())
    return web.json_response(panel, headers=NO_STORE)
