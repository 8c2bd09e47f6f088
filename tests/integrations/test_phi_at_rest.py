"""PHI at rest: what a copy of the database file (or a PostgreSQL dump) gives away, the file
modes, and upgrading a store that already holds plaintext."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from clinicline.harness import ROOT
from integrations.services import calls
from integrations.services.identity import patients_by_number, verify_caller
from integrations.services.refills import active_medications
from integrations.services.store_mode import store_mode
from integrations.services.tasks import create_task, open_tasks
from integrations.store import Database
from tests.integrations.conftest import BACKENDS, add_patient, fresh_database

T = datetime(2031, 3, 3, 9, tzinfo=UTC)
SECRETS = ("Octavia", "Blackwood", "1961-05-17", "+15557770123", "warfarin", "7.5 mg",
           "bruising easily", "+15557770999")
RAW_COLUMNS = {
    "patients": ("first_name", "last_name", "dob"),
    "patient_phones": ("number",),
    "medications": ("name", "strength"),
    "staff_tasks": ("note",),
    "calls": ("caller_number",),
}


async def raw_text(db: Database) -> str:
    """Every PHI column as the database itself holds it, joined."""
    parts = []
    async with db.engine.connect() as conn:
        for table, columns in RAW_COLUMNS.items():
            for row in await conn.execute(text(f"SELECT {', '.join(columns)} FROM {table}")):
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


async def test_a_copy_of_the_store_shows_no_name_birth_date_phone_drug_or_note(
    db: Database,
) -> None:
    pid = await add_patient(db, "Octavia", "Blackwood", date(1961, 5, 17), "+15557770123",
                            meds=(("warfarin", "7.5 mg", 2, False),))
    async with db.session() as s:
        await create_task(s, kind="nurse_callback", queue="nurse", patient_id=pid,
                          call_id=None, note="Caller mentions bruising easily")
        await calls.open_call(s, call_id="c1", caller_number="+15557770999", started=T)
    stored = await raw_text(db)
    for secret in SECRETS:
        assert secret not in stored
    # ...while the clinic's own lookups still work, through the blind indexes.
    async with db.session() as s:
        found = await verify_caller(s, "Octavia Blackwood", date(1961, 5, 17), None)
        by_phone = await patients_by_number(s, "+1 555 777 0123")
        meds = await active_medications(s, pid)
        notes = [t.note for t in await open_tasks(s)]
    assert found.status == "verified" and found.patient_id == pid
    assert [p.patient_id for p in by_phone] == [pid]
    assert [m.name for m in meds] == ["warfarin"]
    assert notes == ["Caller mentions bruising easily"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_upgrading_a_0002_store_with_patients_encrypts_them(
    backend: str, tmp_path: Path
) -> None:
    async with fresh_database(backend, tmp_path, Fernet.generate_key(), "0002") as db:
        async with db.engine.begin() as conn:  # rows as the 0002 code wrote them
            await conn.execute(text(
                "INSERT INTO patients (id, mrn, first_name, last_name, dob, created_at) VALUES "
                "(1, 'DEMO0001', 'Octavia', 'Blackwood', :dob, :t), "
                "(2, 'DEMO0002', 'Octavian', 'Blackwood', :dob2, :t)"),
                {"dob": date(1961, 5, 17), "dob2": date(1963, 2, 2), "t": T.replace(tzinfo=None)})
            await conn.execute(text(
                "INSERT INTO patient_phones (patient_id, number, kind) VALUES "
                "(1, '+15557770123', 'mobile'), (2, '+15557770123', 'home')"))
            await conn.execute(text(
                "INSERT INTO medications (patient_id, name, strength, refills_left, controlled, "
                "active) VALUES (1, 'warfarin', '7.5 mg', 2, false, true)"))
            await conn.execute(text(
                "INSERT INTO staff_tasks (kind, queue, status, note, patient_id, created_at, "
                "updated_at) VALUES ('nurse_callback', 'nurse', 'open', 'bruising easily', 1, "
                ":t, :t)"), {"t": T.replace(tzinfo=None)})
            await conn.execute(text(
                "INSERT INTO calls (id, caller_number, started, triage_level, flags, "
                "emergency_message_played, transferred) VALUES "
                "('c1', '+15557770999', :t, 'none', '[]', false, false)"),
                {"t": T.replace(tzinfo=None)})
        await db.migrate()
        stored = await raw_text(db)
        async with db.session() as s:
            found = await verify_caller(s, "Octavia Blackwood", date(1961, 5, 17), None)
            household = await patients_by_number(s, "+15557770123")
            meds = await active_medications(s, 1)
            report = await calls.call_report(s, "c1")
            mode = await store_mode(s)
    for secret in SECRETS:
        assert secret not in stored
    assert found.status == "verified" and found.patient_id == 1
    assert [p.display_name for p in household] == ["Octavia Blackwood", "Octavian Blackwood"]
    assert [(m.name, m.strength) for m in meds] == [("warfarin", "7.5 mg")]
    assert report["caller"] == "+15557770999"
    assert mode == "demo"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_sqlite_file_its_journal_and_its_key_are_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLINICLINE_DATA_KEY", raising=False)
    old_umask = os.umask(0o022)  # as a careless service manager might leave it
    try:
        folder = tmp_path / "store"
        db = await Database.connect(f"sqlite+aiosqlite:///{folder}/clinic.db")
        await db.migrate()
        async with db.session() as s:
            await calls.open_call(s, call_id="c1", caller_number=None, started=T)
            files = {p.name: _mode(p) for p in folder.iterdir()}
        await db.dispose()
    finally:
        os.umask(old_umask)
    assert _mode(folder) == 0o700
    assert files["clinic.db"] == 0o600 and files["clinic.db.key"] == 0o600
    assert all(mode == 0o600 for mode in files.values()), files


async def test_a_store_file_left_readable_is_tightened_on_open(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    db = await Database.connect(f"sqlite+aiosqlite:///{path}", Fernet.generate_key())
    await db.dispose()
    assert _mode(path) == 0o600


def test_everything_the_command_line_writes_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k != "CLINICLINE_DATA_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "clinicline.cli", "seed", "--demo", "--db",
         f"sqlite+aiosqlite:///{folder}/clinic.db"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modes = {p.name: _mode(p) for p in folder.iterdir()}
    assert _mode(folder) == 0o700
    assert modes and all(mode == 0o600 for mode in modes.values()), modes
