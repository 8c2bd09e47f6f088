"""Fixtures shared by every test area."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.seed.demo import seed_demo
from integrations.store import Database
from tests.demo_store import DATA_KEY, MONDAY

ROOT = Path(__file__).resolve().parent.parent

# These answer as the demo clinic's staff at its fixed SIP addresses (127.0.0.1:5070 and up,
# the on-call line at 5090) or run Rasa in the shared test data folder: run beside each other
# they would pick up each other's transfers. With `pytest -n 2` (make test) they stay together
# on one worker, in order, while the other worker takes everything else.
ONE_AT_A_TIME = ("tests/callflow/", "tests/test_process_supervision.py")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = Path(str(item.path)).relative_to(ROOT).as_posix()
        if where.startswith(ONE_AT_A_TIME):
            item.add_marker(pytest.mark.xdist_group("demo-clinic-staff"))


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
