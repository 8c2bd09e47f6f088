"""Versions of a clinic's own red-flag words: saved only after the regression passed, published
by staff with the publish right, rolled back to any version published before.

The words themselves and the regression live in `nlu.triage.clinic_edits`; this module keeps
their history in the store, where every voice worker reads the published version
(`clinicline.flows.live.PublishedLexicon`).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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
from integrations.services.audit import add_audit
from integrations.services.transaction import atomic
from integrations.store.models import LexiconVersion
from integrations.store.types import utcnow
from nlu.triage.clinic_edits import Edits


@dataclass(frozen=True)
class LexiconSummary:
    id: int
    based_on: int | None
    note: str
    created_by: str
    created_at: datetime
    published_by: str | None
    published_at: datetime | None
    regression: dict[str, Any]

    @classmethod
    def of(cls, row: LexiconVersion) -> LexiconSummary:
        return cls(
            row.id, row.based_on, row.note, row.created_by, row.created_at, row.published_by,
            row.published_at, dict(row.regression),
        )  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        figures = {k: self.regression.get(k) for k in ("lines", "gained", "passed")}
        return {
            "id": self.id, "based_on": self.based_on, "note": self.note,
            "created_by": self.created_by, "created_at": self.created_at.isoformat(),
            "published_by": self.published_by,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "regression": figures,
        }  # fmt: skip


# The regression of one edit over ~6,600 labelled lines takes ~15 s here; a pattern that
# backtracks without end is stopped at this limit and refused.
REGRESSION_TIMEOUT_S = 180.0


async def run_regression(
    before: Edits, after: Edits, base: Path, extra: tuple[Path, ...] = ()
) -> dict[str, Any]:
    """`nlu.triage.clinic_edits` in a child process: the regression's JSON, or {"error": …}."""
    args = [sys.executable, "-m", "nlu.triage.clinic_edits", "--base", str(base)]
    for path in extra:
        args += ["--extra", str(path)]
    child = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    request = json.dumps({"before": before, "after": after}).encode()
    try:
        out, _ = await asyncio.wait_for(child.communicate(request), REGRESSION_TIMEOUT_S)
    except TimeoutError:
        child.kill()
        await child.wait()
        return {"error": f"the regression did not finish in {REGRESSION_TIMEOUT_S:.0f} s: a "
                         "pattern may backtrack without end on some sentences"}
    try:
        result: dict[str, Any] = json.loads(out)
    except ValueError:
        return {"error": "the regression failed to run"}
    return result


async def newest_lexicon(s: AsyncSession) -> LexiconVersion | None:
    return await newest_of(s, LexiconVersion)


async def published_lexicon(s: AsyncSession) -> LexiconVersion | None:
    """The clinic's edits callers' words are judged with (None: the shipped lexicon alone)."""
    return await published_of(s, LexiconVersion)


async def lexicon_history(s: AsyncSession, limit: int = 100) -> list[LexiconSummary]:
    return [LexiconSummary.of(r) for r in await history_of(s, LexiconVersion, limit)]


async def save_edits(
    s: AsyncSession,
    *,
    edits: Edits,
    base: int | None,
    actor: str,
    note: str,
    regression: dict[str, Any],
) -> LexiconSummary:
    """A new version holding EDITS, made from BASE, whose regression passed."""
    if not regression.get("passed"):
        raise FlowError("an edit that loses a red flag or raises a quiet line is not saved")
    async with atomic(s):
        newest = await newest_lexicon(s)
        check_base(newest, base)
        row = LexiconVersion(
            edits=edits, based_on=base, note=note[:200], regression=regression, created_by=actor
        )
        await add_on_top(s, row)
        add_audit(s, actor=actor, action="lexicon_edit", patient_id=None,
                  detail={"version": row.id, "note": row.note})
        return LexiconSummary.of(row)


async def publish_lexicon(
    s: AsyncSession, version_id: int, actor: str, *, may_publish: bool
) -> LexiconSummary:
    require_publish_right(may_publish)
    async with atomic(s):
        row = await version_of(s, LexiconVersion, version_id)
        if not row.regression.get("passed"):
            raise FlowError(f"version {version_id} did not pass the triage regression")
        row.published_by, row.published_at = actor, utcnow()
        add_audit(s, actor=actor, action="lexicon_publish", patient_id=None,
                  detail={"version": version_id})
        return LexiconSummary.of(row)


async def roll_back_lexicon(
    s: AsyncSession, version_id: int, actor: str, *, may_publish: bool
) -> LexiconSummary:
    """Publish again the edits of VERSION, published before, as a new version on top."""
    async with atomic(s):
        target, newest = await rollback_rows(s, LexiconVersion, version_id, may_publish=may_publish)
        row = LexiconVersion(
            edits=target.edits, based_on=newest.id, note=f"rollback to version {version_id}",
            regression=target.regression, created_by=actor, published_by=actor,
            published_at=utcnow(),
        )  # fmt: skip
        await add_on_top(s, row)
        add_audit(s, actor=actor, action="lexicon_rollback", patient_id=None,
                  detail={"version": row.id, "to": version_id})
        return LexiconSummary.of(row)
