"""Fixtures shared by every test area."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.seed.demo import seed_demo
from integrations.store import Database
from tests.demo_store import DATA_KEY, MONDAY

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def speech_data_dir() -> Path:
    """One data dir for every server a test run starts: prompts render once, then are reused."""
    path = ROOT / "var" / "test-data"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
async def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated demo clinic, seeded once per session; tests copy the file."""
    path = tmp_path_factory.mktemp("template") / "clinic.db"
    db = await Database.connect(f"sqlite+aiosqlite:///{path}", DATA_KEY)
    try:
        await db.migrate()
        await seed_demo(db, MONDAY)
    finally:
        await db.dispose()
    return path
