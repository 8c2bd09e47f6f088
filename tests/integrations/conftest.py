"""A real database per test, on both backends: a SQLite file in tmp_path and a PostgreSQL schema.

PostgreSQL comes from CLINICLINE_TEST_PG_URL (default: the local cluster's clinicline_test);
each test gets its own schema, dropped afterwards, so parallel runs never see each other.
When PostgreSQL cannot be reached those cases are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from integrations.seed.demo import seed_demo
from integrations.store import Database
from integrations.store.models import (
    Location,
    Medication,
    Patient,
    PatientPhone,
    Provider,
    Slot,
    VisitType,
)
from tests.integrations.hl7_engine import Engine, running_engine

PG_URL = os.environ.get(
    "CLINICLINE_TEST_PG_URL",
    "postgresql+asyncpg://clinicline:clinicline@127.0.0.1:5432/clinicline_test",
)
# A fixed Monday, far from the real clock, so "now" never depends on when tests run.
MONDAY = date(2031, 3, 3)
NOW = datetime.combine(MONDAY, time(7, 0))
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def data_key() -> bytes:
    return Fernet.generate_key()


@asynccontextmanager
async def fresh_database(
    backend: str, folder: Path, key: bytes, revision: str = "head"
) -> AsyncIterator[Database]:
    """A migrated, empty database; PostgreSQL gets a private schema dropped afterwards."""
    if backend == "sqlite":
        database = await Database.connect(f"sqlite+aiosqlite:///{folder}/clinic.db", key)
        try:
            await database.migrate(revision)
            yield database
        finally:
            await database.dispose()
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OSError as exc:
        await admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at CLINICLINE_TEST_PG_URL: {exc}")
    database = await Database.connect(PG_URL, key, schema=schema)
    try:
        await database.migrate(revision)
        yield database
    finally:
        await database.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """The clinic's HL7 interface engine (node-hl7-server), answering AA until told otherwise."""
    with running_engine(tmp_path) as peer:
        yield peer


@asynccontextmanager
async def same_store(db: Database, key: bytes) -> AsyncIterator[Database]:
    """The store behind `db` through a pool of its own, as another process would open it."""
    url = db.engine.url.render_as_string(hide_password=False)
    other = await Database.connect(url, key, schema=db.schema)
    try:
        yield other
    finally:
        await other.dispose()


@pytest.fixture(params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, data_key: bytes
) -> AsyncIterator[Database]:
    async with fresh_database(request.param, tmp_path, data_key) as database:
        yield database


@pytest.fixture(scope="module", params=BACKENDS)
async def demo_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """The demo clinic seeded once per module and backend: for tests that only read it."""
    folder = tmp_path_factory.mktemp("demo")
    async with fresh_database(request.param, folder, Fernet.generate_key()) as database:
        await seed_demo(database, MONDAY)
        yield database


async def add_patient(
    db: Database, first: str, last: str, dob: date, *phones: str, meds: tuple = ()
) -> int:
    """A patient with phones and (name, strength, refills_left, controlled) medications."""
    async with db.session() as s:
        p = Patient(first_name=first, last_name=last, dob=dob)
        p.phones = [PatientPhone(number=n) for n in phones]
        s.add(p)
        await s.flush()
        for name, strength, refills, controlled in meds:
            s.add(
                Medication(
                    patient_id=p.id,
                    name=name,
                    strength=strength,
                    refills_left=refills,
                    controlled=controlled,
                )
            )
        await s.commit()
        return p.id


async def medication_ids(db: Database, patient_id: int) -> dict[str, int]:
    async with db.session() as s:
        rows = await s.execute(
            select(Medication.name, Medication.id).where(Medication.patient_id == patient_id)
        )
        return {name: id_ for name, id_ in rows}


async def add_small_clinic(db: Database, days: int = 5) -> dict[str, int]:
    """Two providers at one location, 9:00-12:00 and 13:00-16:00 half-hour slots, `days` days."""
    async with db.session() as s:
        loc = Location(name="Test Clinic")
        nguyen = Provider(name="Linh Nguyen", display_name="Dr. Nguyen")
        patel = Provider(name="Priya Patel", display_name="Dr. Patel")
        s.add_all([loc, nguyen, patel, VisitType(code="follow_up", label="follow-up")])
        await s.flush()
        for offset in range(days):
            day = MONDAY + timedelta(days=offset)
            for provider in (nguyen, patel):
                for hour in (9, 10, 11, 13, 14, 15):
                    for minute in (0, 30):
                        start = datetime.combine(day, time(hour, minute))
                        s.add(
                            Slot(
                                provider_id=provider.id,
                                location_id=loc.id,
                                start=start,
                                end=start + timedelta(minutes=30),
                            )
                        )
        await s.commit()
        return {"location": loc.id, "nguyen": nguyen.id, "patel": patel.id}
