"""Site-wide turns in the shared store (what one worker at a time may do), and the dialog
supervisors of two workers loading a newly published model one after the other."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clinicline.bench_training import one_load_at_a_time
from clinicline.config import Config, HostPort
from clinicline.dialogs_runtime import SWAP_TURN, DialogsSupervisor
from clinicline.flows import training
from clinicline.health import Health
from clinicline.web.action_site import ActionEndpoint
from dialogs.server import free_loopback_port
from dialogs.train import PROJECT_DIR, model_path
from integrations.services import site_turns
from integrations.store import Database
from integrations.store.models import TrainingVersion
from tests.integrations.conftest import same_store

T0 = datetime(2031, 3, 3, 9, tzinfo=UTC)
LEASE = timedelta(seconds=60)
TURN = "a-turn"


async def take(db: Database, holder: str, at: datetime) -> bool:
    async with db.session() as s:
        return await site_turns.take(s, TURN, holder, now=at, lease=LEASE) == holder


async def test_two_processes_racing_for_a_turn_never_both_hold_it(
    db: Database, data_key: bytes
) -> None:
    async with same_store(db, data_key) as other:
        won = await asyncio.gather(
            *(take(db if i % 2 else other, f"worker-{i}", T0) for i in range(12))
        )
        assert sum(won) == 1
        winner = f"worker-{won.index(True)}"
        async with other.session() as s:
            assert await site_turns.holder_of(s, TURN, now=T0) == winner


async def test_a_turn_is_renewed_by_its_holder_given_back_and_lapses_when_not_renewed(
    db: Database,
) -> None:
    assert await take(db, "worker-a", T0)
    # One who asks while it is held is told whose it is.
    async with db.session() as s:
        at = T0 + timedelta(seconds=30)
        assert await site_turns.take(s, TURN, "worker-b", now=at, lease=LEASE) == "worker-a"
    # Renewed by its holder: still not the other's a minute after it was first taken.
    assert await take(db, "worker-a", T0 + timedelta(seconds=45))
    assert not await take(db, "worker-b", T0 + timedelta(seconds=70))
    # A holder giving back a turn that is not theirs changes nothing.
    async with db.session() as s:
        await site_turns.give_back(s, TURN, "worker-b")
        assert await site_turns.holder_of(s, TURN, now=T0 + timedelta(seconds=70)) == "worker-a"
    # Given back: the next one takes it at once.
    async with db.session() as s:
        await site_turns.give_back(s, TURN, "worker-a")
        assert await site_turns.holder_of(s, TURN, now=T0 + timedelta(seconds=71)) is None
    assert await take(db, "worker-b", T0 + timedelta(seconds=71))
    # worker-b dies and stops renewing: its turn lapses a lease later, for whoever asks.
    assert not await take(db, "worker-a", T0 + timedelta(seconds=130))
    assert await take(db, "worker-a", T0 + timedelta(seconds=131))
    async with db.session() as s:
        assert await site_turns.holder_of(s, TURN, now=T0 + timedelta(seconds=131)) == "worker-a"


async def _publish(db: Database, model: str) -> int:
    async with db.session() as s:
        row = TrainingVersion(
            edits={"request_refill": ["a phrasing of the swap turn test"]}, state="ready",
            model=model, evaluation={"passed": True}, progress={}, created_by="super1",
        )  # fmt: skip
        s.add(row)
        await s.commit()
        await training.publish_training(s, row.id, "super1", may_publish=True)
        return row.id


async def _until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} not within {seconds:.0f} s"
        await asyncio.sleep(0.5)


@pytest.mark.slow
async def test_two_workers_with_real_rasa_swap_to_a_published_model_one_at_a_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two workers' dialog supervisors on one store, each with its own real Rasa: a published
    version is loaded by one, then the other, never both at once. (The version's model file
    is the shipped model's bytes under the version's name: loading is what is tested here;
    training one is the Chromium test's, tests/callflow/test_rasa_restart.py.)"""
    caplog.set_level(logging.INFO, logger="clinicline.dialogs_runtime")
    url = f"sqlite+aiosqlite:///{tmp_path / 'site.db'}"
    db = await Database.connect(url)
    await db.migrate()
    other = await Database.connect(url)  # the second worker's pool, as its own process has
    models = PROJECT_DIR / "models"
    name = f"clinicline-swap-turn-{uuid.uuid4().hex[:8]}"
    shutil.copy(model_path(PROJECT_DIR, models), models / f"{name}.tar.gz")
    workers: list[DialogsSupervisor] = []
    try:
        actions = ActionEndpoint("http://127.0.0.1:9/webhook", "token")
        for i, store in enumerate((db, other)):
            config = Config(
                sip=HostPort("127.0.0.1", 5061 + i), rasa_port=free_loopback_port(), db=url,
                data_dir=tmp_path / f"worker-{i}",
            )  # fmt: skip
            workers.append(DialogsSupervisor(config, Health(), actions, store))
            workers[-1].start()
        await _until(lambda: all(w.available for w in workers), 900, "both Rasa servers up")
        version = await _publish(db, name)
        await _until(lambda: all(w.version == version for w in workers), 900, "both swapped")
        await _until(
            lambda: all(w._swap is not None and w._swap.done() for w in workers), 60,
            "the old servers stopped and the turn given back",
        )  # fmt: skip
    finally:
        for worker in workers:
            await worker.stop()
        (models / f"{name}.tar.gz").unlink(missing_ok=True)
        await other.dispose()
    messages = [(r.created, r.getMessage()) for r in caplog.records]
    published = min(at for at, line in messages if "starting Rasa with " + name in line) - 1
    timeline = [(at - published, line) for at, line in messages]
    assert one_load_at_a_time(timeline, name, 2), timeline
    waited = [line for _, line in timeline if "waits its turn" in line]
    holders = {w.holder for w in workers}
    assert len(waited) == 1 and any(h in waited[0] for h in holders), waited
    try:
        async with db.session() as s:
            assert await site_turns.holder_of(s, SWAP_TURN, now=datetime.now(UTC)) is None
    finally:
        await db.dispose()
