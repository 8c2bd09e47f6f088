"""`clinicline campaign create|start|pause|status|export|dnc [--remove]|absences|withdraw|hours`:
campaigns (with the provider absences they declare, and patients' own calling hours) from a
shell.

The running server's workers place the calls (`outbound_trunk` set); these commands only
write and read the campaign in the store, so they work from any machine that reaches it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from clinicline.config import Config
from clinicline.errors import ConfigError
from integrations.ehr.desk import AppointmentDesk
from integrations.ehr.fhir_client import EhrSettings, FhirEhr
from integrations.ehr.mirror import EhrMirror
from integrations.ehr.sync import EhrSync
from integrations.errors import EhrUnavailable, InvalidField, NotFound
from integrations.services import absences, campaigns
from integrations.store import Database

ACTOR = "cli"


def _listed(path: Path) -> list[tuple[int, int | None]]:
    rows: list[tuple[int, int | None]] = []
    try:
        with path.open(newline="") as handle:
            for number, row in enumerate(csv.reader(handle), 1):
                cells = [c.strip() for c in row if c.strip()]
                if not cells or (number == 1 and not cells[0].isdigit()):
                    continue  # a blank line or the header
                if not all(c.isdigit() for c in cells[:2]):
                    raise ConfigError(f"{path}:{number}: expected patient_id[,appointment_id]")
                rows.append((int(cells[0]), int(cells[1]) if len(cells) > 1 else None))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return rows


async def run_campaign(args: argparse.Namespace, config: Config) -> int:
    db = await Database.connect(config.db)
    try:
        await db.migrate()
        try:
            found = await _searched(args, config, db)
            async with db.session() as s:
                return await _run(args, s, found, lambda: _desk(config, db))
        except (InvalidField, NotFound, EhrUnavailable) as exc:  # said plainly, no traceback
            raise ConfigError(str(exc)) from exc
    finally:
        await db.dispose()


async def _searched(
    args: argparse.Namespace, config: Config, db: Database
) -> list[tuple[int, int | None]]:
    """The targets a FHIR search of the clinic's EHR names (`create --fhir`)."""
    query = getattr(args, "fhir", None)
    if not query:
        return []
    if not config.ehr:
        raise ConfigError("--fhir searches the clinic's EHR: set --ehr (or CLINICLINE_EHR)")
    settings = EhrSettings.from_url(config.ehr, config.ehr_token or None, config.ehr_timeout)
    return await EhrMirror(db, FhirEhr(settings)).campaign_targets(query)


def _desk(config: Config, db: Database) -> AppointmentDesk:
    """Where a provider-out campaign blocks her slots: the clinic's EHR first when it has one."""
    if not config.ehr:
        return AppointmentDesk(db)
    settings = EhrSettings.from_url(config.ehr, config.ehr_token or None, config.ehr_timeout)
    return AppointmentDesk(db, EhrSync(db, FhirEhr(settings)))


async def _run(
    args: argparse.Namespace,
    s: AsyncSession,
    searched: list[tuple[int, int | None]],
    desk: Callable[[], AppointmentDesk],
) -> int:
    """Carry out one subcommand. DESK makes the appointment desk (and the clinic's EHR client)
    for the two that change slots; the others only read and write the campaign tables."""
    command = args.campaign_command
    if command == "create":
        targets: list[tuple[int, int | None]] = list(searched)
        absence = campaigns.absence_of(args.kind, args.appointments, args.provider)
        if args.appointments:
            first, last = campaigns.days_of(args.appointments)
            targets += await campaigns.appointment_targets(s, first, last, args.provider)
        if args.patients:
            targets += _listed(args.patients)
        if not args.appointments and not args.patients and not args.fhir:
            raise ConfigError(
                "say whom to call: --appointments FROM[:TO], --patients F.csv or --fhir QUERY"
            )
        start, end = campaigns.window_of(args.window)
        settings = campaigns.CampaignSettings(
            window_start=start,
            window_end=end,
            max_attempts=args.max_attempts,
            retry_minutes=args.retry_minutes,
            pace_per_minute=args.pace,
            voicemail_first_name=args.voicemail_first_name,
        )
        blocked = None
        if absence is not None:  # everything else it could refuse is refused first
            await campaigns.check_campaign(
                s, name=args.name, kind=args.kind, targets=targets, settings=settings
            )
            blocked = await desk().declare_out(absence, actor=ACTOR)
        campaign_id = await campaigns.create_campaign(
            s, name=args.name, kind=args.kind, targets=targets, settings=settings, created_by=ACTOR
        )
        made: dict[str, object] = {
            "campaign": campaign_id,
            "targets": len(set(targets)),
            "status": "draft",
        }
        if blocked is not None:
            made["slots_blocked"] = blocked
        print(json.dumps(made))
        return 0
    if command in ("start", "pause"):
        state = "running" if command == "start" else "paused"
        now = await campaigns.set_status(s, args.campaign_id, state, actor=ACTOR)
        print(json.dumps({"campaign": args.campaign_id, "status": now}))
        return 0
    if command == "status":
        ids = [args.campaign_id] if args.campaign_id else await campaigns.campaign_ids(s)
        report = [(await campaigns.campaign_status(s, i)).as_json() for i in ids]
        print(json.dumps(report[0] if args.campaign_id else report, indent=2))
        return 0
    if command == "export":
        rows = await campaigns.campaign_results(s, args.campaign_id)
        writer = csv.DictWriter(sys.stdout, fieldnames=campaigns.RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        return 0
    if command == "absences":
        listed = [
            {"id": a.id, "provider_id": a.provider_id, "first_day": a.first_day.isoformat(),
             "last_day": a.last_day.isoformat()}
            for a in await absences.declared(s)
        ]  # fmt: skip
        print(json.dumps(listed, indent=2))
        return 0
    if command == "withdraw":
        reopened = await desk().withdraw_out(args.absence_id, actor=ACTOR)
        print(
            json.dumps({"absence": args.absence_id, "withdrawn": True, "slots_reopened": reopened})
        )
        return 0
    if command == "hours":
        if args.hours is not None:
            after, before = campaigns.hours_of(args.hours)
            await campaigns.set_call_hours(s, args.patient_id, after, before, actor=ACTOR)
        after, before = await campaigns.call_hours(s, args.patient_id)
        print(json.dumps({"patient": args.patient_id,
                          "after": after.isoformat(timespec="minutes") if after else None,
                          "before": before.isoformat(timespec="minutes") if before else None}))
        return 0
    if args.remove:
        removed = await campaigns.allow_calls_again(s, number=args.number, actor=ACTOR)
        print(json.dumps({"do_not_call": "removed", "entries": removed}))
        return 0
    await campaigns.do_not_call(s, number=args.number, patient_id=None, reason="list", actor=ACTOR)
    print(json.dumps({"do_not_call": "added"}))
    return 0
