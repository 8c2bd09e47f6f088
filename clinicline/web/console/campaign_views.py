"""Outbound campaigns in the console, for supervisors only.

GET  /console/api/campaigns                   every campaign with its progress (counts only)
POST /console/api/campaigns                   a draft from booked appointments or a list of ids
POST /console/api/campaigns/{id}/start|pause  steer it
GET  /console/api/campaigns/{id}/export       one CSV row per patient called (audited)
GET  /console/api/providers                   the clinic's providers (for a provider-out campaign)
GET  /console/api/absences                    providers declared out, by provider-out campaigns
POST /console/api/absences/{id}/withdraw      she is in after all: her blocked slots reopen

The rules (windows, do-not-call, pace, retries) are the store's (`services.campaigns`), the
same as `clinicline campaign`; the workers place the calls.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web
from sqlalchemy import select

from clinicline.web.app import SERVICES
from clinicline.web.console.guards import (
    NO_STORE,
    BadBody,
    console_of,
    int_param,
    json_body,
    requires,
    signed_in,
    text_field,
)
from integrations.ehr.desk import AppointmentDesk
from integrations.errors import EhrUnavailable, InvalidField, NotFound
from integrations.services import absences, campaigns
from integrations.services.audit import record_access
from integrations.store.models import Provider

MAX_LISTED = 5000
_FIELDS = {
    "name",
    "kind",
    "appointments",
    "provider",
    "patients",
    "window",
    "max_attempts",
    "retry_minutes",
    "pace",
    "voicemail_first_name",
    "fhir",
}


def _whole(data: dict[str, Any], name: str, default: int) -> int:
    value = data.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100_000:
        raise BadBody(400, f"'{name}' must be a whole number")
    return value


def _listed(data: dict[str, Any]) -> list[tuple[int, int | None]]:
    raw = data.get("patients", [])
    if not isinstance(raw, list) or len(raw) > MAX_LISTED:
        raise BadBody(400, f"'patients' must be a list of at most {MAX_LISTED} entries")
    listed: list[tuple[int, int | None]] = []
    for entry in raw:
        pair = entry if isinstance(entry, list) else [entry]
        if (
            not 1 <= len(pair) <= 2
            or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in pair if x is not None
            )
            or pair[0] is None
        ):
            raise BadBody(400, "each of 'patients' is a patient id or [patient id, appointment id]")
        listed.append((pair[0], pair[1] if len(pair) == 2 else None))
    return listed


@requires("supervisor")
async def list_campaigns(request: web.Request) -> web.Response:
    console = console_of(request)
    async with console.db.session() as s:
        rows = [
            (await campaigns.campaign_status(s, i)).as_json()
            for i in await campaigns.campaign_ids(s)
        ]
    return web.json_response({"campaigns": rows}, headers=NO_STORE)


@requires("supervisor")
async def list_providers(request: web.Request) -> web.Response:
    console = console_of(request)
    async with console.db.session() as s:
        rows = await s.execute(select(Provider.id, Provider.display_name).order_by(Provider.id))
        providers = [{"id": pid, "name": name} for pid, name in rows]
    return web.json_response({"providers": providers}, headers=NO_STORE)


@requires("supervisor")
async def list_absences(request: web.Request) -> web.Response:
    console = console_of(request)
    async with console.db.session() as s:
        names = dict((await s.execute(select(Provider.id, Provider.display_name))).all())
        rows = [
            {
                "id": a.id,
                "provider": names.get(a.provider_id, f"provider {a.provider_id}"),
                "first_day": a.first_day.isoformat(),
                "last_day": a.last_day.isoformat(),
            }
            for a in await absences.declared(s)
        ]
    return web.json_response({"absences": rows}, headers=NO_STORE)


@requires("supervisor", post=True)
async def withdraw_absence(request: web.Request) -> web.Response:
    console, staff = console_of(request), signed_in(request)
    absence_id = int_param(request, "absence_id")
    try:
        desk = AppointmentDesk(console.db, console.ehr)
        reopened = await desk.withdraw_out(absence_id, actor=staff.username)
    except NotFound as exc:
        raise BadBody(404, str(exc)) from exc
    except EhrUnavailable as exc:
        raise BadBody(503, "the EHR is unavailable; try again later") from exc
    return web.json_response({"id": absence_id, "slots_reopened": reopened}, headers=NO_STORE)


@requires("supervisor", post=True)
async def create(request: web.Request) -> web.Response:
    console, staff = console_of(request), signed_in(request)
    data = await json_body(request)
    unknown = set(data) - _FIELDS
    if unknown:
        raise BadBody(400, f"unknown field(s) {sorted(unknown)}")
    name = text_field(data, "name", max_len=120)
    kind = text_field(data, "kind", max_len=24)
    days = text_field(data, "appointments", max_len=21, required=False)
    provider = data.get("provider")
    if provider is not None and (not isinstance(provider, int) or isinstance(provider, bool)):
        raise BadBody(400, "'provider' must be a provider id")
    voicemail_name = data.get("voicemail_first_name", False)
    if not isinstance(voicemail_name, bool):
        raise BadBody(400, "'voicemail_first_name' must be true or false")
    try:
        start, end = campaigns.window_of(
            text_field(data, "window", max_len=11, required=False) or "09:00-19:00"
        )
        settings = campaigns.CampaignSettings(
            window_start=start,
            window_end=end,
            max_attempts=_whole(data, "max_attempts", 3),
            retry_minutes=_whole(data, "retry_minutes", 60),
            pace_per_minute=_whole(data, "pace", 4),
            voicemail_first_name=voicemail_name,
        )
        absence = campaigns.absence_of(kind, days, provider)
        targets = _listed(data) + await _searched(request, data)
        async with console.db.session() as s:
            if days:
                first, last = campaigns.days_of(days)
                targets += await campaigns.appointment_targets(s, first, last, provider)
            if absence is not None:
                # Her free slots on those days are blocked before anyone is called, once
                # everything else the campaign could be refused for is refused.
                await campaigns.check_campaign(
                    s, name=name, kind=kind, targets=targets, settings=settings
                )
                desk = AppointmentDesk(console.db, console.ehr)
                await desk.declare_out(absence, actor=staff.username)
            campaign_id = await campaigns.create_campaign(
                s,
                name=name,
                kind=kind,
                targets=targets,
                settings=settings,
                created_by=staff.username,
            )
            status = await campaigns.campaign_status(s, campaign_id)
    except (InvalidField, NotFound) as exc:
        raise BadBody(400, str(exc)) from exc
    except EhrUnavailable as exc:
        raise BadBody(503, "the EHR is unavailable; try again later") from exc
    return web.json_response(status.as_json(), status=201, headers=NO_STORE)


async def _searched(request: web.Request, data: dict[str, Any]) -> list[tuple[int, int | None]]:
    """Whom the EHR's FHIR search in `fhir` names (mirrored here first)."""
    query = text_field(data, "fhir", max_len=500, required=False)
    if not query:
        return []
    ehr = getattr(request.app.get(SERVICES), "ehr", None)
    if ehr is None:
        raise BadBody(400, "this clinic has no EHR connected (serve --ehr) to search")
    targets: list[tuple[int, int | None]] = await ehr.mirror.campaign_targets(query)
    return targets


async def _steer(request: web.Request, state: str) -> web.Response:
    console, staff = console_of(request), signed_in(request)
    campaign_id = int_param(request, "campaign_id")
    try:
        async with console.db.session() as s:
            await campaigns.set_status(s, campaign_id, state, actor=staff.username)
            status = await campaigns.campaign_status(s, campaign_id)
    except NotFound as exc:
        raise BadBody(404, str(exc)) from exc
    return web.json_response(status.as_json(), headers=NO_STORE)


@requires("supervisor", post=True)
async def start(request: web.Request) -> web.Response:
    return await _steer(request, "running")


@requires("supervisor", post=True)
async def pause(request: web.Request) -> web.Response:
    return await _steer(request, "paused")


@requires("supervisor")
async def export(request: web.Request) -> web.Response:
    """Patient ids and outcomes, no names; a view of who was called, so it is audited."""
    console, staff = console_of(request), signed_in(request)
    campaign_id = int_param(request, "campaign_id")
    try:
        async with console.db.session() as s:
            rows = await campaigns.campaign_results(s, campaign_id)
    except NotFound as exc:
        raise BadBody(404, str(exc)) from exc
    async with console.db.session() as s:
        await record_access(
            s,
            actor=staff.username,
            action="campaign_export",
            patient_id=None,
            detail={"campaign_id": campaign_id, "rows": len(rows)},
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=campaigns.RESULT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={
            **NO_STORE,
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"',
        },
    )
