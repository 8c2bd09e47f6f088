"""Fixtures shared by every test area."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integrations.seed.demo import seed_demo
from integrations.store import Database
from tests.demo_store import DATA_KEY, MONDAY
from tests.integrations.fhir_server import FhirServer, running_fhir_server

ROOT = Path(__file__).resolve().parent.parent

# These answer as the demo clinic's staff at its fixed SIP addresses (127.0.0.1:5070 and up,
# the on-call line at 5090) or run Rasa in the shared test data folder: run beside each other
# they would pick up each other's transfers. With `pytest -n 2` (make test) they run in order
# on one worker while the other worker takes everything else, a module at a time.
ONE_AT_A_TIME = ("tests/callflow/", "tests/test_process_supervision.py")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # xdist's own `loadgroup` marks groups by renaming node ids, which pytest 9 ignores.
    from xdist.scheduler import LoadScopeScheduling

    class StaffPhonesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(ONE_AT_A_TIME):
                return "demo-clinic-staff"
            return nodeid.split("::", 1)[0]  # a module's fixtures are set up once

    return StaffPhonesTogether(config, log)


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


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    """A real FHIR R4 server (sekmet-fhir), one per test process; tests add data of their own."""
    with running_fhir_server(tmp_path_factory.mktemp("fhir")) as server:
        yield server
