"""The options of `clinicline campaign`, kept apart from the commands so that building the
parser (which every `clinicline` process does) loads neither the store nor the EHR client."""

from __future__ import annotations

import argparse
from pathlib import Path

from integrations.services.campaign_kinds import KINDS


def add_campaign_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The subcommands; returns their parsers (for the common --db/--config options)."""
    sub = parser.add_subparsers(dest="campaign_command", required=True)
    create = sub.add_parser("create", help="a draft campaign from appointments or a list")
    create.add_argument("--name", required=True)
    create.add_argument("--kind", choices=KINDS, default="reminder")
    create.add_argument(
        "--appointments",
        metavar="FROM[:TO]",
        help="every booked appointment on these days (YYYY-MM-DD), for reminders and "
        "provider-out calls",
    )
    create.add_argument(
        "--provider",
        type=int,
        help="only this provider's appointments; with --kind provider_out, the provider who is "
        "out on the --appointments days (her free slots there are blocked at once)",
    )
    create.add_argument(
        "--fhir",
        metavar="QUERY",
        help="whom a search of the EHR (--ehr) names: 'Appointment?date=ge2031-03-04&"
        "date=lt2031-03-05&status=booked' or 'Patient?…' (mirrored into the store first)",
    )
    create.add_argument("--ehr", help="the EHR --fhir searches: fhir+http(s)://host/fhir")
    create.add_argument(
        "--patients",
        type=Path,
        help="a CSV of patient_id[,appointment_id] lines (a header line is allowed)",
    )
    create.add_argument("--window", default="09:00-19:00", help="call window, patient's time")
    create.add_argument("--max-attempts", type=int, default=3)
    create.add_argument("--retry-minutes", type=int, default=60, help="doubled after each try")
    create.add_argument("--pace", type=int, default=4, help="calls started per minute, at most")
    create.add_argument(
        "--voicemail-first-name",
        action="store_true",
        help="say the patient's first name in voicemail messages (off: no name at all)",
    )
    steer = []
    for verb, what in (("start", "start (or resume) dialing"), ("pause", "stop new calls")):
        p = sub.add_parser(verb, help=what)
        p.add_argument("campaign_id", type=int)
        steer.append(p)
    status = sub.add_parser("status", help="progress and outcomes (counts only)")
    status.add_argument("campaign_id", type=int, nargs="?", help="default: every campaign")
    export = sub.add_parser("export", help="one CSV row per patient called: outcome, attempts")
    export.add_argument("campaign_id", type=int)
    dnc = sub.add_parser("dnc", help="put a number on the do-not-call list (or take it off)")
    dnc.add_argument("number")
    dnc.add_argument(
        "--remove",
        action="store_true",
        help="take the number off the list (a patient's own opt-out stays)",
    )
    absent = sub.add_parser("absences", help="providers declared out (by provider-out campaigns)")
    withdraw = sub.add_parser("withdraw", help="she is in after all: her blocked slots reopen")
    withdraw.add_argument("absence_id", type=int)
    hours = sub.add_parser("hours", help="a patient's own calling hours: show, set or clear")
    hours.add_argument("patient_id", type=int)
    hours.add_argument(
        "--set",
        dest="hours",
        metavar="HH:MM-HH:MM",
        help="from-to in her own time ('18:00-': after six; '-12:00': before noon; '': any time)",
    )
    return [create, *steer, status, export, dnc, absent, withdraw, hours]
