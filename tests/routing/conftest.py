"""Fixtures for routing tests: a migrated, seeded demo clinic in a temp SQLite file.

Seeding takes about a second, so one seeded file is built per session and each test gets
its own copy of it.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import date, datetime, time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from integrations.seed.demo import seed_demo
from integrations.store import Database

# A fixed Monday far from the real clock: the clinic is open at 10:00 and closed at 20:00.
MONDAY = date(2031, 3, 3)
OPEN_NOW = datetime.combine(MONDAY, time(10, 0))
CLOSED_NOW = datetime.combine(MONDAY, time(20, 0))
DATA_KEY = Fernet.generate_key()


@pytest.fixture(scope="session")
async def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "clinic.db"
    db = await Database.connect(f"sqlite+aiosqlite:///{path}", DATA_KEY)
    try:
        await db.migrate()
        await seed_demo(db, MONDAY)
    finally:
        await db.dispose()
    return path


@pytest.fixture
async def clinic_db(tmp_path: Path, seeded_template: Path) -> AsyncIterator[Database]:
    path = tmp_path / "clinic.db"
    shutil.copy(seeded_template, path)
    db = await Database.connect(f"sqlite+aiosqlite:///{path}", DATA_KEY)
    try:
        yield db
    finally:
        await db.dispose()
