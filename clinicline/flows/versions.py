"""Versions of the words the call flow says: edit, approve, publish, roll back.

Every edit is a new `PromptVersion` holding every prompt's text; the version published last
is what callers hear (each voice worker reads it from the store: `clinicline.flows.live`).
The rules, all checked here whoever calls (console or command line):

- a prompt's text has a known name, 1 to `MAX_PROMPT_CHARS` characters, and the words safety
  needs: 911 in the greeting and both emergency messages, 988 wherever the crisis line is;
- an edit names the version it was made from; if someone saved another edit since, it is
  refused (`EditConflict`): the other edit stays, this one is redone on top of it;
- a version whose emergency wording was never published before needs a second supervisor's
  approval, from someone who did not write that wording;
- only staff with the publish right publish or roll back, and a rollback goes only to a
  version that was published before (its wording was checked then).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicline.callflow.prompts import EMERGENCY_PROMPTS
from clinicline.flows.diffs import word_diff
from clinicline.flows.history import (
    EditConflict,
    FlowError,
    NotAllowed,
    add_on_top,
    check_base,
    history_of,
    newest_of,
    published_of,
    require_publish_right,
    rollback_rows,
    version_of,
)
from dialogs.wording import WordingError, fields_of
from integrations.services.audit import add_audit
from integrations.services.transaction import atomic
from integrations.store.models import PromptVersion
from integrations.store.types import utcnow

# The errors are the history's, named here for the callers of this module.
__all__ = ["EditConflict", "FlowError", "NotAllowed"]

MAX_PROMPT_CHARS = 600
# Words a prompt may not lose: the way to emergency help, and the crisis line.
REQUIRED_WORDS: dict[str, tuple[str, ...]] = {
    "greeting": ("911",),
    "emergency": ("911",),
    "emergency_crisis": ("911", "988"),
    "crisis": ("988",),
}


@dataclass(frozen=True)
class VersionSummary:
    """One version as the history shows it: who, when, what changed, who approved, published."""

    id: int
    based_on: int | None
    changed: list[str]
    note: str
    created_by: str
    created_at: datetime
    approved_by: str | None
    published_by: str | None
    published_at: datetime | None

    @classmethod
    def of(cls, row: PromptVersion) -> VersionSummary:
        return cls(
            row.id, row.based_on, list(row.changed), row.note, row.created_by, row.created_at,
            row.approved_by, row.published_by, row.published_at,
        )  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "based_on": self.based_on,
            "changed": self.changed,
            "note": self.note,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "approved_by": self.approved_by,
            "published_by": self.published_by,
            "published_at": self.published_at.isoformat() if self.published_at else None,
        }


def check_prompt(defaults: Mapping[str, str], name: str, text: str) -> str:
    """The text as it will be stored (trimmed), or FlowError saying what is wrong with it."""
    if name not in defaults:
        raise FlowError(f"there is no prompt named {name!r}")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise FlowError(f"the {name} prompt cannot be empty")
    if len(cleaned) > MAX_PROMPT_CHARS:
        raise FlowError(
            f"the {name} prompt is {len(cleaned)} characters; at most {MAX_PROMPT_CHARS}"
        )
    if not cleaned.isprintable():
        raise FlowError(f"the {name} prompt holds characters that cannot be spoken")
    missing = [w for w in REQUIRED_WORDS.get(name, ()) if w not in cleaned]
    if missing:
        raise FlowError(f"the {name} prompt must keep {' and '.join(missing)}")
    # Words in braces are filled in by the dialog when it speaks ({medication}); an edit keeps
    # exactly the default's, or the reply would lose them or fail.
    try:
        fields = fields_of(cleaned)
    except WordingError as exc:
        raise FlowError(f"the {name} prompt: {exc}") from None
    wanted = fields_of(defaults[name])
    if fields != wanted:
        if not wanted:
            raise FlowError(f"the {name} prompt has no words in braces; write it out in full")
        listed = ", ".join("{" + f + "}" for f in sorted(wanted))
        raise FlowError(f"the {name} prompt must keep exactly these words in braces: {listed}")
    return cleaned


def texts_of(row: PromptVersion | None, defaults: Mapping[str, str]) -> dict[str, str]:
    """Every prompt's words in a version (a prompt added to the code since: its default)."""
    stored = row.texts if row is not None else {}
    return {name: stored.get(name, text) for name, text in defaults.items()}


async def newest_version(s: AsyncSession) -> PromptVersion | None:
    return await newest_of(s, PromptVersion)


async def published_version(s: AsyncSession) -> PromptVersion | None:
    """The version callers hear (None: nothing published, the built-in wording plays)."""
    return await published_of(s, PromptVersion)


async def version_texts(
    s: AsyncSession, defaults: Mapping[str, str], version_id: int
) -> dict[str, str] | None:
    """Every prompt's words in a version (None: no such version)."""
    row = await s.get(PromptVersion, version_id)
    return texts_of(row, defaults) if row is not None else None


async def changes(
    s: AsyncSession, defaults: Mapping[str, str], version_id: int
) -> list[dict[str, Any]]:
    """What a version changed from the one it was made from: each prompt's words before and
    after, and the runs of words that went and came (the history's readable diff)."""
    row = await version_of(s, PromptVersion, version_id)
    before_row = await s.get(PromptVersion, row.based_on) if row.based_on else None
    before, after = texts_of(before_row, defaults), texts_of(row, defaults)
    return [
        {
            "prompt": name,
            "before": before[name],
            "after": after[name],
            "words": word_diff(before[name], after[name]),
        }
        for name in defaults
        if before[name] != after[name]
    ]


async def history(s: AsyncSession, limit: int = 100) -> list[VersionSummary]:
    return [VersionSummary.of(r) for r in await history_of(s, PromptVersion, limit)]


async def save_prompt(
    s: AsyncSession,
    defaults: Mapping[str, str],
    *,
    name: str,
    text: str,
    base: int | None,
    actor: str,
) -> VersionSummary:
    """A new version: BASE (the version the editor saw; None before any) with NAME's text."""
    cleaned = check_prompt(defaults, name, text)
    async with atomic(s):
        newest = await newest_version(s)
        check_base(newest, base)
        texts = texts_of(newest, defaults)
        if texts[name] == cleaned:
            raise FlowError(f"the {name} prompt already says that")
        texts[name] = cleaned
        row = PromptVersion(
            texts=texts, based_on=base, changed=[name], note=f"{name} edited", created_by=actor
        )
        await add_on_top(s, row)
        add_audit(s, actor=actor, action="prompt_edit", patient_id=None,
                  detail={"version": row.id, "prompt": name})
        return VersionSummary.of(row)


async def _emergency_wording_known(
    s: AsyncSession, row: PromptVersion, defaults: Mapping[str, str]
) -> bool:
    """The version's emergency wording is the built-in one or was published before."""
    wording = {n: t for n, t in texts_of(row, defaults).items() if n in EMERGENCY_PROMPTS}
    if wording == {n: t for n, t in defaults.items() if n in EMERGENCY_PROMPTS}:
        return True
    published = await s.scalars(
        select(PromptVersion).where(PromptVersion.published_at.is_not(None))
    )
    return any(
        {n: t for n, t in texts_of(p, defaults).items() if n in EMERGENCY_PROMPTS} == wording
        for p in published
    )


async def _emergency_authors(s: AsyncSession, row: PromptVersion) -> set[str]:
    """Who wrote emergency wording in this version's line since it was last published."""
    authors: set[str] = set()
    current: PromptVersion | None = row
    while current is not None and current.published_at is None:
        if EMERGENCY_PROMPTS & set(current.changed):
            authors.add(current.created_by)
        current = await s.get(PromptVersion, current.based_on) if current.based_on else None
    return authors


async def approve(
    s: AsyncSession, defaults: Mapping[str, str], version_id: int, actor: str
) -> VersionSummary:
    """A second supervisor approves the version's new emergency wording."""
    async with atomic(s):
        row = await version_of(s, PromptVersion, version_id)
        if await _emergency_wording_known(s, row, defaults):
            raise FlowError(f"version {version_id} does not change the emergency message")
        if actor in await _emergency_authors(s, row):
            raise NotAllowed("the emergency message is approved by a second supervisor, "
                             "not by someone who wrote it")
        row.approved_by, row.approved_at = actor, utcnow()
        add_audit(s, actor=actor, action="prompt_approve", patient_id=None,
                  detail={"version": version_id})
        return VersionSummary.of(row)


async def publish(
    s: AsyncSession,
    defaults: Mapping[str, str],
    version_id: int,
    actor: str,
    *,
    may_publish: bool,
    rendered_check: str | None = None,
) -> VersionSummary:
    """Put VERSION in front of callers. `rendered_check`: what the caller's rendering of the
    changed prompts found wrong (None: every one rendered), refused here."""
    require_publish_right(may_publish)
    if rendered_check:
        raise FlowError(rendered_check)
    async with atomic(s):
        row = await version_of(s, PromptVersion, version_id)
        for name, text in texts_of(row, defaults).items():
            check_prompt(defaults, name, text)
        if row.approved_by is None and not await _emergency_wording_known(s, row, defaults):
            raise NotAllowed(
                f"version {version_id} changes the emergency message: a second supervisor "
                "must approve it first"
            )
        row.published_by, row.published_at = actor, utcnow()
        add_audit(s, actor=actor, action="prompt_publish", patient_id=None,
                  detail={"version": version_id})
        return VersionSummary.of(row)


async def roll_back(
    s: AsyncSession,
    defaults: Mapping[str, str],
    version_id: int,
    actor: str,
    *,
    may_publish: bool,
) -> VersionSummary:
    """Publish again the wording of VERSION, published before, as a new version on top."""
    async with atomic(s):
        target, newest = await rollback_rows(s, PromptVersion, version_id, may_publish=may_publish)
        before, after = texts_of(newest, defaults), texts_of(target, defaults)
        row = PromptVersion(
            texts=after,
            based_on=newest.id,
            changed=sorted(n for n in after if after[n] != before[n]),
            note=f"rollback to version {version_id}",
            created_by=actor,
            approved_by=target.approved_by,
            approved_at=target.approved_at,
            published_by=actor,
            published_at=utcnow(),
        )
        await add_on_top(s, row)
        add_audit(s, actor=actor, action="prompt_rollback", patient_id=None,
                  detail={"version": row.id, "to": version_id})
        return VersionSummary.of(row)
