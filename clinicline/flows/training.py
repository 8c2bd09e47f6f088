"""Versions of the clinic's own training phrasings: an example added or removed makes a new
version; a version is trained and evaluated (`clinicline.flows.trainer`), then published by
staff with the publish right; every Rasa server then swaps to its model
(`clinicline.dialogs_runtime`). Rolled back to any version published before, the same way.

A training's state lives on its row, so every app process shows the same progress, and a
training whose process died (no heartbeat for `STALE_AFTER`) may be started again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicline.flows.history import (
    FlowError,
    add_on_top,
    check_base,
    history_of,
    newest_of,
    published_of,
    require_publish_right,
    rollback_rows,
    version_of,
)
from dialogs.training_data import (
    LOOKUP,
    Additions,
    TrainingDataError,
    check_example,
    check_lookup_entry,
    normalised,
    shipped_lookups,
)
from integrations.services.audit import add_audit
from integrations.services.transaction import atomic
from integrations.store.models import TrainingVersion
from integrations.store.types import utcnow

# A training reports progress every few seconds; one silent this long has died with its process.
STALE_AFTER = timedelta(minutes=10)
STATES = ("draft", "training", "ready", "failed")


@dataclass(frozen=True)
class TrainingSummary:
    id: int
    based_on: int | None
    note: str
    added: Additions
    state: str
    progress: dict[str, Any]
    model: str | None
    evaluation: dict[str, Any]
    created_by: str
    created_at: datetime
    published_by: str | None
    published_at: datetime | None

    @classmethod
    def of(cls, row: TrainingVersion) -> TrainingSummary:
        return cls(
            row.id,
            row.based_on,
            row.note,
            {k: list(v) for k, v in row.edits.items()},
            shown_state(row),
            dict(row.progress),
            row.model,
            dict(row.evaluation),
            row.created_by,
            row.created_at,
            row.published_by,
            row.published_at,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "based_on": self.based_on,
            "note": self.note,
            "added": sum(len(v) for v in self.added.values()),
            "state": self.state,
            "progress": self.progress,
            "model": self.model,
            "evaluation": self.evaluation,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "published_by": self.published_by,
            "published_at": self.published_at.isoformat() if self.published_at else None,
        }


def _stale(row: TrainingVersion) -> bool:
    beat = row.progress.get("beat")
    if not beat:
        return True
    return utcnow() - datetime.fromisoformat(beat) > STALE_AFTER


def shown_state(row: TrainingVersion) -> str:
    """The row's state, or 'failed' for a training whose process stopped reporting."""
    return "failed" if row.state == "training" and _stale(row) else row.state


async def newest_training(s: AsyncSession) -> TrainingVersion | None:
    return await newest_of(s, TrainingVersion)


async def published_training(s: AsyncSession) -> TrainingVersion | None:
    """The version whose model answers callers (None: the shipped model)."""
    return await published_of(s, TrainingVersion)


async def newest_trained(s: AsyncSession) -> TrainingVersion | None:
    """The newest version whose model is trained (the draft the try-it chat answers with)."""
    row: TrainingVersion | None = await s.scalar(
        select(TrainingVersion)
        .where(TrainingVersion.state == "ready")
        .order_by(TrainingVersion.id.desc())
        .limit(1)
    )
    return row


async def training_history(s: AsyncSession, limit: int = 50) -> list[TrainingSummary]:
    return [TrainingSummary.of(r) for r in await history_of(s, TrainingVersion, limit)]


def additions_of(row: TrainingVersion | None) -> Additions:
    return {k: list(v) for k, v in row.edits.items()} if row is not None else {}


async def _new_version(
    s: AsyncSession,
    added: Additions,
    *,
    base: int | None,
    actor: str,
    note: str,
    audit: dict[str, Any],
) -> TrainingSummary:
    row = TrainingVersion(
        edits={k: v for k, v in added.items() if v},
        based_on=base,
        note=note[:200],
        created_by=actor,
        progress={},
        evaluation={},
    )
    await add_on_top(s, row)
    add_audit(
        s, actor=actor, action="training_edit", patient_id=None, detail={"version": row.id, **audit}
    )
    return TrainingSummary.of(row)


async def add_example(
    s: AsyncSession,
    *,
    intent: str,
    text: str,
    base: int | None,
    actor: str,
    shipped: dict[str, list[str]],
    lookups: dict[str, list[str]] | None = None,
) -> TrainingSummary:
    """A new version with TEXT among INTENT's examples, made from BASE (the newest version).
    INTENT "lookup:<table>" adds a name to that lookup table (LOOKUPS: the shipped ones)."""
    async with atomic(s):
        newest = await newest_training(s)
        check_base(newest, base)
        added = additions_of(newest)
        try:
            if intent.startswith(LOOKUP):
                cleaned = check_lookup_entry(intent, text, lookups or shipped_lookups(), added)
            else:
                cleaned = check_example(intent, text, shipped, added)
        except TrainingDataError as exc:
            raise FlowError(str(exc)) from exc
        added.setdefault(intent, []).append(cleaned)
        return await _new_version(
            s,
            added,
            base=base,
            actor=actor,
            note=f"added to {intent}",
            audit={"intent": intent, "added": 1},
        )


async def remove_example(
    s: AsyncSession, *, intent: str, text: str, base: int | None, actor: str
) -> TrainingSummary:
    """A new version without the clinic's example TEXT of INTENT (shipped ones stay)."""
    async with atomic(s):
        newest = await newest_training(s)
        check_base(newest, base)
        added = additions_of(newest)
        # `normalised` ignores case and end punctuation: a name is found however it is typed.
        kept = [e for e in added.get(intent, []) if normalised(e) != normalised(text)]
        if len(kept) == len(added.get(intent, [])):
            raise FlowError(f"'{text}' is not one of the clinic's examples of '{intent}'")
        added[intent] = kept
        return await _new_version(
            s,
            added,
            base=base,
            actor=actor,
            note=f"removed from {intent}",
            audit={"intent": intent, "removed": 1},
        )


async def claim_for_training(s: AsyncSession, version_id: int, actor: str) -> TrainingVersion:
    """Mark VERSION as training by this process, or FlowError: it is training elsewhere, or
    was trained already. One UPDATE decides between two processes asked at once."""
    async with atomic(s):
        row = await version_of(s, TrainingVersion, version_id)
        if row.state == "ready":
            raise FlowError(f"version {version_id} is trained already")
        if row.state == "training" and not _stale(row):
            raise FlowError(f"version {version_id} is training now")
        claimed = await s.execute(
            update(TrainingVersion)
            .where(TrainingVersion.id == version_id, TrainingVersion.state == row.state)
            .values(
                state="training", progress=_progress("queued", f"asked by {actor}"), evaluation={}
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise FlowError(f"version {version_id} is training now")
        add_audit(
            s, actor=actor, action="training_start", patient_id=None, detail={"version": version_id}
        )
    await s.refresh(row)
    return row


def _progress(step: str, detail: str = "", percent: int | None = None) -> dict[str, Any]:
    return {"step": step, "detail": detail[:500], "percent": percent, "beat": utcnow().isoformat()}


async def report_progress(
    s: AsyncSession, version_id: int, step: str, detail: str = "", percent: int | None = None
) -> None:
    async with atomic(s):
        await s.execute(
            update(TrainingVersion)
            .where(TrainingVersion.id == version_id, TrainingVersion.state == "training")
            .values(progress=_progress(step, detail, percent))
        )


async def finish_training(
    s: AsyncSession, version_id: int, *, model: str, evaluation: dict[str, Any]
) -> None:
    async with atomic(s):
        row = await version_of(s, TrainingVersion, version_id)
        row.state, row.model, row.evaluation = "ready", model, evaluation
        row.progress = _progress("done", "trained and evaluated")


async def record_golden(
    s: AsyncSession, version_id: int, which: str, model: str, results: list[dict[str, Any]]
) -> dict[str, Any]:
    """Keep the golden calls' replay with WHICH model ("draft": the version's, "published")
    on the version's evaluation; the version's golden figures so far."""
    async with atomic(s):
        row = await version_of(s, TrainingVersion, version_id)
        golden = dict(row.evaluation.get("golden") or {})
        golden[which] = {
            "model": model, "passed": sum(r["passed"] for r in results), "total": len(results),
            "results": [{k: r[k] for k in ("script", "passed", "differences", "skipped", "lines")}
                        for r in results],
        }  # fmt: skip
        row.evaluation = {**row.evaluation, "golden": golden}
        return golden


async def fail_training(s: AsyncSession, version_id: int, reason: str) -> None:
    async with atomic(s):
        row = await version_of(s, TrainingVersion, version_id)
        row.state, row.progress = "failed", _progress("failed", reason)


async def publish_training(
    s: AsyncSession, version_id: int, actor: str, *, may_publish: bool
) -> TrainingSummary:
    """Callers are understood by VERSION's model from now on: only a trained version whose
    model understood the held-out phrasings at least as well as the published one."""
    require_publish_right(may_publish)
    async with atomic(s):
        row = await version_of(s, TrainingVersion, version_id)
        if row.state != "ready" or not row.model:
            raise FlowError(f"version {version_id} is not trained: train it first")
        if not row.evaluation.get("passed"):
            raise FlowError(
                f"version {version_id}'s model understood fewer held-out phrasings "
                "than the published one; it is not published"
            )
        row.published_by, row.published_at = actor, utcnow()
        add_audit(
            s,
            actor=actor,
            action="training_publish",
            patient_id=None,
            detail={"version": version_id, "model": row.model},
        )
        return TrainingSummary.of(row)


async def roll_back_training(
    s: AsyncSession, version_id: int, actor: str, *, may_publish: bool, shipped_model: str
) -> TrainingSummary:
    """Publish again VERSION's phrasings and model, as a new version on top; version 0 is the
    shipped phrasings alone (SHIPPED_MODEL)."""
    async with atomic(s):
        if version_id == 0:
            require_publish_right(may_publish, "roll back")
            newest = await newest_training(s)
            if newest is None or await published_training(s) is None:
                raise FlowError("the shipped phrasings are in use: there is nothing to roll back")
            edits: Additions = {}
            model, evaluation = shipped_model, {"passed": True, "shipped": True}
        else:
            target, newest = await rollback_rows(
                s, TrainingVersion, version_id, may_publish=may_publish
            )
            edits, model, evaluation = target.edits, target.model, target.evaluation  # type: ignore[assignment]
        row = TrainingVersion(
            edits=edits,
            based_on=newest.id,
            note=f"rollback to version {version_id}",
            state="ready",
            progress=_progress("done", f"the model of version {version_id}"),
            model=model,
            evaluation=evaluation,
            created_by=actor,
            published_by=actor,
            published_at=utcnow(),
        )
        await add_on_top(s, row)
        add_audit(
            s,
            actor=actor,
            action="training_rollback",
            patient_id=None,
            detail={"version": row.id, "to": version_id},
        )
        return TrainingSummary.of(row)
