"""Fixtures for routing tests: a migrated, seeded demo clinic in a temp SQLite file.

Seeding takes about a second, so one seeded file is built per session and each test gets
its own copy of it.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from integrations.store import Database
from tests.demo_store import CLOSED_NOW, DATA_KEY, MONDAY, OPEN_NOW  # noqa: F401 (re-exported)


@pytest.fixture
async def clinic_db(tmp_path: Path, seeded_template: Path) -> AsyncIterator[Database]:
    path = tmp_path / "clinic.db"
    shutil.copy(seeded_template, path)
    db = await Database.connect(f"sqlite+aiosqlite:///{path}", DATA_KEY)
    try:
        yield db
    finally:
        await db.dispose()
