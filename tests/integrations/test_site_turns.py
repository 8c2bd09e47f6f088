"""Site-wide turns in the shared store (what one worker at a time may do), and the dialog
supervisors of two workers loading a newly published model one after the other."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from clinicline.config import Config, HostPort
from clinicline.dialogs_runtime import SWAP_TURN, DialogsSupervisor
from clinicline.flows import training
from clinicline.health import Health
from clinicline.web.action_site import ActionEndpoint
from dialogs.training_data import Additions
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


class StandInForRasaLoading(DialogsSupervisor):
    """The real supervisor's turn-taking around `_swap_to`, whose Rasa loading (a minute and a
    gigabyte per worker here; tests/callflow/test_rasa_restart.py loads a real one) is stood in
    for by a pause that records when it ran."""

    def __init__(self, sip_port: int, db: Database, spans: list[tuple[str, float, float]]) -> None:
        config = Config(sip=HostPort("127.0.0.1", sip_port))
        actions = ActionEndpoint("http://127.0.0.1:9/webhook", "token")
        super().__init__(config, Health(), actions, db)
        self.spans = spans
        self._shipped = Path("shipped.tar.gz")
        self.server = SimpleNamespace(model=self._shipped)  # type: ignore[assignment]

    async def _swap_to(self, version: int | None, name: str, added: Additions) -> None:
        started = time.monotonic()
        await asyncio.sleep(0.5)
        self.server = SimpleNamespace(model=Path(name))  # type: ignore[assignment]
        self.version = version
        self.spans.append((self.holder, started, time.monotonic()))


async def _publish(db: Database) -> int:
    async with db.session() as s:
        row = TrainingVersion(
            edits={"request_refill": ["a phrasing of the swap turn test"]}, state="ready",
            model="turn-test-model", evaluation={"passed": True}, progress={},
            created_by="super1",
        )  # fmt: skip
        s.add(row)
        await s.commit()
        await training.publish_training(s, row.id, "super1", may_publish=True)
        return row.id


async def test_two_workers_swap_to_a_published_model_one_at_a_time_stand_in_for_rasa(
    db: Database, data_key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="clinicline.dialogs_runtime")
    version = await _publish(db)
    spans: list[tuple[str, float, float]] = []
    async with same_store(db, data_key) as other:
        workers = [
            StandInForRasaLoading(5061, db, spans),
            StandInForRasaLoading(5062, other, spans),
        ]
        deadline = time.monotonic() + 30
        # Each worker's poll, as `_run` makes it every POLL_SECONDS (faster here).
        while any(w.version != version for w in workers):
            assert time.monotonic() < deadline, spans
            for worker in workers:
                if worker._swap is None or worker._swap.done():
                    await worker._follow_published()
            await asyncio.sleep(0.05)
        for worker in workers:
            assert worker._swap is not None
            await worker._swap  # the turn is given back as the swap ends
            await worker.client.close()
    assert all(w.server.model.name == "turn-test-model.tar.gz" for w in workers)  # type: ignore[union-attr]
    (first, _, first_ended), (second, second_started, _) = sorted(spans, key=lambda x: x[1])
    assert {first, second} == {w.holder for w in workers}
    assert second_started >= first_ended, spans
    waited = [r.getMessage() for r in caplog.records if "waits its turn" in r.getMessage()]
    assert waited == [f"dialogs: version {version} waits its turn: {first} is swapping its model"]
    async with db.session() as s:
        assert await site_turns.holder_of(s, SWAP_TURN, now=datetime.now(UTC)) is None
