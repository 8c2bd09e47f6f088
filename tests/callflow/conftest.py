"""Servers and stores the tests of the call flow share.

`rasa_clinic`: `clinicline serve` with the product dialog on the real Rasa server (it loads in
~40 s and takes 1.2 GB, so one per test run), on a freshly seeded demo clinic, open around the
clock. Tests that need the keypad menu (Rasa off) start their own server.

`db` and `recorder`: a demo clinic seeded today in a SQLite file of the test's own, and a
call recorder writing to it, for the conversations' turn-by-turn tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest

from clinicline.callflow.recorder import StoreRecorder
from clinicline.harness import ServerProcess, free_port, seed_demo_clinic, start_server
from integrations.seed.demo import seed_demo
from integrations.store import Database
from tests.staff_lines import STAFF_PORT, always_open_hours


@pytest.fixture(scope="session")
def rasa_clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("rasa-clinic")
    db_url = f"sqlite+aiosqlite:///{tmp / 'clinic.db'}"
    seed_demo_clinic(db_url, STAFF_PORT)
    server = start_server(
        tmp,
        data_dir=speech_data_dir,
        dialog="clinic",
        db_url=db_url,
        extra_args=["--rasa-port", str(free_port())],
        env={
            "CLINICLINE_HOURS_FILE": str(always_open_hours()),
            "CLINICLINE_RING_TIMEOUT": "10",
            "CLINICLINE_CONSOLE_SECRET": "test-secret",
        },
    )
    try:
        # Rasa trains on first use (minutes on 2 cores) and loads in ~40 s.
        server.wait_ready(timeout=900, want=("ready",))
        yield server
    finally:
        code = server.stop()
        assert code == 0, f"server did not stop cleanly ({code}):\n{server.log()[-3000:]}"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    store = await Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}")
    await store.migrate()
    await seed_demo(store, date.today())
    yield store
    await store.dispose()


@pytest.fixture
async def recorder(db: Database) -> AsyncIterator[StoreRecorder]:
    rec = StoreRecorder(db)
    rec.start()
    yield rec
    await rec.stop()
