"""What every kind of flow version shares: one line of history, the newest and the published
version, and a write that loses to a concurrent one cleanly (`EditConflict`)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.store.models import LexiconVersion, PromptVersion, TrainingVersion

Versioned = TypeVar("Versioned", PromptVersion, LexiconVersion, TrainingVersion)
AnyVersion = PromptVersion | LexiconVersion | TrainingVersion


class FlowError(ValueError):
    """An edit, approval or publication the rules refuse; the message says why."""


class EditConflict(FlowError):
    """Someone saved another version since the one this edit was made from."""

    def __init__(self, newest: AnyVersion) -> None:
        super().__init__(
            f"{newest.created_by} saved version {newest.id} in the meantime; "
            "your edit was not saved: reload, and make it again on top of theirs"
        )
        self.newest_id = newest.id


class NotAllowed(FlowError):
    """The actor lacks the right (publishing) or is the wrong person (approving own words)."""


def require_publish_right(may_publish: bool, doing: str = "publish") -> None:
    """Only staff with the publish right put a version in front of callers."""
    if not may_publish:
        raise NotAllowed(f"you cannot {doing}: ask an administrator with the publish right")


async def newest_of(s: AsyncSession, model: type[Versioned]) -> Versioned | None:
    row: Versioned | None = await s.scalar(select(model).order_by(model.id.desc()).limit(1))
    return row


async def published_of(s: AsyncSession, model: type[Versioned]) -> Versioned | None:
    """The version in use (None: nothing published, the built-in one is in use)."""
    row: Versioned | None = await s.scalar(
        select(model)
        .where(model.published_at.is_not(None))
        .order_by(model.published_at.desc(), model.id.desc())
        .limit(1)
    )
    return row


async def history_of(s: AsyncSession, model: type[Versioned], limit: int = 100) -> list[Versioned]:
    return list(await s.scalars(select(model).order_by(model.id.desc()).limit(limit)))


def check_base(newest: AnyVersion | None, base: int | None) -> None:
    """An edit is made from the newest version (BASE), or refused."""
    if newest is None and base is not None:
        raise FlowError(f"there is no version {base}")
    if newest is not None and newest.id != base:
        raise EditConflict(newest)


async def add_on_top(s: AsyncSession, row: Versioned) -> None:
    """Write ROW after the version it was made from, or EditConflict: another process wrote a
    version on top of that one between our read and this write (`based_on` is unique)."""
    s.add(row)
    try:
        await s.flush()
    except IntegrityError:
        await s.rollback()
        again = await newest_of(s, type(row))
        assert again is not None
        raise EditConflict(again) from None


async def version_of(s: AsyncSession, model: type[Versioned], version_id: int) -> Versioned:
    row = await s.get(model, version_id)
    if row is None:
        raise FlowError(f"there is no version {version_id}")
    return row


async def rollback_rows(
    s: AsyncSession, model: type[Versioned], version_id: int, *, may_publish: bool
) -> tuple[Versioned, Versioned]:
    """(the version to publish again, the newest one to put the copy on top of), or refused:
    only staff with the publish right roll back, and only to a version published before
    (checked when it was)."""
    require_publish_right(may_publish, "roll back")
    target = await version_of(s, model, version_id)
    if target.published_at is None:
        raise FlowError(f"version {version_id} was never published; roll back only to one that was")
    newest = await newest_of(s, model)
    assert newest is not None  # the target exists, so there is a newest
    return target, newest
