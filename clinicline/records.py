"""`clinicline seed`, `calls` and `nlu`: the store and the dialogs from a shell."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import date
from pathlib import Path

from clinicline.config import Config
from clinicline.errors import ConfigError
from integrations.errors import ConfigError as StoreConfigError
from integrations.store import Database


async def _open(config: Config) -> Database:
    db = await Database.connect(config.db)
    await db.migrate()
    return db


async def seed(
    config: Config, *, demo: bool, patients: Path | None, staff_port: int | None = None
) -> int:
    if not demo and patients is None:
        raise ConfigError("say what to load: --demo and/or --patients FILE.json")
    db = await _open(config)
    try:
        if demo:
            from integrations.seed.demo import seed_demo
            from integrations.seed.demo_clinic import SIP_FIRST_PORT

            summary = await seed_demo(db, date.today(), staff_port=staff_port or SIP_FIRST_PORT)
            print(json.dumps({"demo": dataclasses.asdict(summary)}))
        code = 0 if patients is None else await _import(db, patients)
        if config.ehr:
            await _export(db, config)
        return code
    except StoreConfigError as exc:  # e.g. the demo clinic and a clinic's data in one store
        raise ConfigError(str(exc)) from exc
    finally:
        await db.dispose()


async def _export(db: Database, config: Config) -> None:
    from integrations.ehr.export import export_to_ehr
    from integrations.ehr.fhir_client import EhrSettings, FhirEhr
    from integrations.errors import EhrUnavailable

    settings = EhrSettings.from_url(config.ehr, config.ehr_token or None, config.ehr_timeout * 8)
    try:
        report = await export_to_ehr(db, FhirEhr(settings))
    except EhrUnavailable as exc:
        why = f"the EHR at {settings.base_url} did not take the records: {exc}"
        raise ConfigError(why) from exc
    print(json.dumps({"ehr": settings.base_url, "written": report.written}))


async def _import(db: Database, patients: Path) -> int:
    from integrations.seed.fhir import import_fhir_bundle

    try:
        bundle = json.loads(patients.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read FHIR bundle {patients}: {exc}") from exc
    report = await import_fhir_bundle(db, bundle)
    rejected = [
        {"index": i, "resourceType": kind, "reason": why} for i, kind, why in report.rejected
    ]
    print(json.dumps({"imported": report.imported, "rejected": rejected}))
    return 1 if report.rejected else 0


async def print_call(config: Config, call_id: str | None) -> int:
    from integrations.errors import NotFound
    from integrations.services.call_report import call_report
    from integrations.services.calls import last_call_id

    db = await _open(config)
    try:
        async with db.session() as s:
            call_id = call_id or await last_call_id(s)
            if call_id is None:
                print("clinicline: no calls recorded yet", file=sys.stderr)
                return 1
            try:
                report = await call_report(s, call_id, viewer="cli")
            except NotFound:
                print(f"clinicline: no call {call_id!r}", file=sys.stderr)
                return 1
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
        return 0
    finally:
        await db.dispose()


async def write_recording(config: Config, call_id: str, out: Path) -> int:
    """Decrypt a call's recording to `out` (the operator's own copy: the audit log says so)."""
    from integrations.errors import NotFound
    from integrations.services.calls import load_recording

    db = await _open(config)
    try:
        async with db.session() as s:
            try:
                audio = await load_recording(s, call_id, listener="cli")
            except NotFound:
                print(f"clinicline: no call {call_id!r}", file=sys.stderr)
                return 1
        if audio is None:
            print(f"clinicline: call {call_id!r} has no recording", file=sys.stderr)
            return 1
        out.write_bytes(audio)
        print(f"{out}: {len(audio)} bytes")
        return 0
    finally:
        await db.dispose()


async def nlu_jsonl(config: Config) -> int:
    from clinicline.dialogs_runtime import parse_lines

    return await parse_lines(config, sys.stdin, sys.stdout)
