"""Staff work items left by calls: callbacks, prior auths, referrals, refill reviews and so on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import InvalidField, NotFound
from integrations.services.transaction import atomic
from integrations.store.models import StaffTask

TASK_KINDS = frozenset(
    {"callback", "prior_auth", "referral", "insurance_update", "refill_review", "nurse_callback"}
)


@dataclass(frozen=True)
class TaskInfo:
    task_id: int
    kind: str
    queue: str
    status: str
    claimed_by: int | None
    note: str
    patient_id: int | None
    call_id: str | None
    created_at: datetime


def stage_task(
    s: AsyncSession,
    *,
    kind: str,
    queue: str,
    patient_id: int | None,
    call_id: str | None,
    note: str,
) -> StaffTask:
    """Add a task to the caller's transaction (used by other services that create tasks)."""
    if kind not in TASK_KINDS:
        raise InvalidField(f"unknown task kind {kind!r}; expected one of {sorted(TASK_KINDS)}")
    if not queue:
        raise InvalidField("a task needs a queue")
    task = StaffTask(kind=kind, queue=queue, patient_id=patient_id, call_id=call_id, note=note)
    s.add(task)
    return task


async def create_task(
    s: AsyncSession,
    *,
    kind: str,
    queue: str,
    patient_id: int | None,
    call_id: str | None,
    note: str,
) -> int:
    """Create an open task in `queue`; returns its id."""
    async with atomic(s):
        task = stage_task(
            s, kind=kind, queue=queue, patient_id=patient_id, call_id=call_id, note=note
        )
        await s.flush()
        return task.id


def _info(t: StaffTask) -> TaskInfo:
    return TaskInfo(
        t.id,
        t.kind,
        t.queue,
        t.status,
        t.claimed_by,
        t.note,
        t.patient_id,
        t.call_id,
        t.created_at,
    )


async def open_tasks(s: AsyncSession, queue: str | None = None) -> list[TaskInfo]:
    """Tasks not done yet, oldest first, optionally for one queue."""
    async with atomic(s):
        query = select(StaffTask).where(StaffTask.status != "done").order_by(StaffTask.id)
        if queue is not None:
            query = query.where(StaffTask.queue == queue)
        return [_info(t) for t in await s.scalars(query)]


async def claim_task(s: AsyncSession, task_id: int, agent_id: int) -> bool:
    """Claim an open task for an agent; False when someone else claimed it first."""
    async with atomic(s):
        # Conditional update: two agents clicking at once cannot both own the task.
        result = await s.execute(
            update(StaffTask)
            .where(StaffTask.id == task_id, StaffTask.status == "open")
            .values(status="claimed", claimed_by=agent_id)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return True
        if await s.get(StaffTask, task_id) is None:
            raise NotFound(f"no task with id {task_id}")
        return False


async def complete_task(s: AsyncSession, task_id: int, note: str | None = None) -> None:
    """Mark a task done, optionally appending a wrap-up note."""
    async with atomic(s):
        task = await s.get(StaffTask, task_id)
        if task is None:
            raise NotFound(f"no task with id {task_id}")
        task.status = "done"
        if note:
            task.note = f"{task.note}\n{note}" if task.note else note
