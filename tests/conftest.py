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


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `pytest -n 3` (make test) a module runs whole on one worker, so its servers and
    phones start once. The call-flow modules run on every worker side by side: each worker's
    demo clinics ring staff phones of its own (`tests.staff_lines`). Most tests wait on calls
    in real time (the CPU is about half used with two workers), hence more workers than cores."""
    # xdist's own `loadgroup` marks groups by renaming node ids, which pytest 9 ignores.
    from xdist.scheduler import LoadScopeScheduling

    class ModuleAtATime(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid.split("::", 1)[0]

    return ModuleAtATime(config, log)


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
