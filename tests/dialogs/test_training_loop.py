"""A version of the training phrasings through the real trainer: `rasa data validate`, the
model (`rasa train`, or the one already trained for the same content), and the evaluation on
a Rasa server of its own, beside the published model; then the publish gate.

A draft with new phrasings is fine-tuned from the shipped model in 2-3 minutes of both cores
here; the Chromium test of the loop (tests/callflow/test_rasa_restart.py) trains one, so these
versions' projects are the shipped one (an addition removed again), whose model is there
already. `clinicline bench --training` runs the whole loop with a new phrasing and reports its
times (docs/bench/training.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from clinicline.flows import training
from clinicline.flows.trainer import Trainer
from dialogs.evaluate import evaluation_sets, read_labelled
from dialogs.train import PROJECT_DIR, model_path
from dialogs.training_data import shipped_examples
from integrations.store import Database
from integrations.store.models import AuditEvent, TrainingVersion

pytestmark = pytest.mark.slow


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}")
    await db.migrate()
    yield db
    await db.dispose()


async def _until_done(db: Database, version_id: int, timeout: float = 1500.0) -> list[str]:
    """The steps the version's row showed while it trained, until it is ready or failed."""
    seen: list[str] = []
    async with asyncio.timeout(timeout):
        while True:
            async with db.session() as s:
                row = await s.get(TrainingVersion, version_id)
                assert row is not None
                state, step = training.shown_state(row), row.progress.get("step")
            if step and (not seen or seen[-1] != step):
                seen.append(step)
            if state in ("ready", "failed"):
                return seen
            await asyncio.sleep(0.5)


async def test_a_version_is_validated_trained_and_judged_beside_the_published_model(
    store: Database, tmp_path: Path
) -> None:
    shipped = shipped_examples()
    async with store.session() as s:
        v1 = await training.add_example(
            s, intent="request_refill", text="my puffer is nearly empty", base=None,
            actor="super2", shipped=shipped,
        )  # fmt: skip
    async with store.session() as s:
        v2 = await training.remove_example(
            s, intent="request_refill", text="my puffer is nearly empty", base=v1.id,
            actor="super2",
        )  # fmt: skip
    trainer = Trainer(store, PROJECT_DIR, tmp_path / "training")
    await trainer.start(v2.id, "super2")
    with pytest.raises(training.FlowError, match="training now"):  # one training per version
        await trainer.start(v2.id, "super1")
    steps = await _until_done(store, v2.id)
    async with store.session() as s:
        row = await s.get(TrainingVersion, v2.id)
        assert row is not None
        assert row.state == "ready", row.progress
    assert steps[-1] == "done" and {"validating", "evaluating"} <= set(steps), steps
    # The same phrasings as the shipped project: the same model file, reused.
    assert row.model == trainer.shipped_model()
    evaluation = row.evaluation
    sets = {s["set"]: s for s in evaluation["sets"]}
    for path in evaluation_sets():
        assert sets[path.name]["total"] == len(read_labelled(path))
    # The same model judged twice: the same lines understood, none lost, publishable.
    assert evaluation["draft"] == evaluation["published"] > 0.9 * evaluation["total"]
    assert evaluation["lost"] == [] and evaluation["passed"]
    assert (evaluation["added"], evaluation["added_understood"]) == (0, 0)
    # The published model's figures are kept beside it: the next draft is judged without it.
    assert (
        model_path(PROJECT_DIR, PROJECT_DIR / "models")
        .with_name(f"{row.model}.evaluation.json")
        .exists()
    )
    with pytest.raises(training.FlowError, match="trained already"):
        await trainer.start(v2.id, "super2")
    async with store.session() as s:
        published = await training.publish_training(s, v2.id, "super1", may_publish=True)
    assert published.published_by == "super1"
    async with store.session() as s:
        actions = list(await s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["training_edit", "training_edit", "training_start", "training_publish"]


async def test_training_data_rasa_refuses_fails_with_rasas_reason_and_is_not_publishable(
    store: Database, tmp_path: Path
) -> None:
    # The console refuses an example already in another intent (tests/console); a version
    # written past it (an older release, a hand edit of the store) is stopped by Rasa's check.
    async with store.session() as s:
        s.add(TrainingVersion(edits={"billing_insurance": ["could I get a refill please"]},
                              created_by="super2", progress={}, evaluation={}))  # fmt: skip
        await s.commit()
    trainer = Trainer(store, PROJECT_DIR, tmp_path / "training")
    await trainer.start(1, "super2")
    steps = await _until_done(store, 1)
    async with store.session() as s:
        row = await s.get(TrainingVersion, 1)
        assert row is not None
    assert (row.state, steps[-1]) == ("failed", "failed"), (row.state, steps)
    assert "did not validate" in row.progress["detail"], row.progress
    assert row.model is None
    async with store.session() as s:
        with pytest.raises(training.FlowError, match="not trained"):
            await training.publish_training(s, 1, "super1", may_publish=True)
