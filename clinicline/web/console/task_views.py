"""Task queues in the console: refill reviews, callbacks, prior auths, referrals; claim and done."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from clinicline.web.console.guards import (
    NO_STORE,
    console_of,
    error,
    int_param,
    json_body,
    requires,
    signed_in,
    text_field,
)
from clinicline.web.console.sessions import Staff
from integrations.errors import NotFound
from integrations.services import tasks
from integrations.services.agents import list_queues
from integrations.services.audit import record_access
from integrations.services.transaction import atomic
from integrations.store.models import Patient


async def _queues_for(s: AsyncSession, staff: Staff) -> set[str] | None:
    """Queues whose skills the agent holds; None means every queue (supervisors)."""
    if staff.is_supervisor:
        return None
    skills = set(staff.skills)
    known = {q.name: set(q.skills) for q in await list_queues(s)}
    # A task queue the store does not define is served by the skill of the same name.
    return {name for name, needed in known.items() if needed <= skills} | skills


async def _patient_names(s: AsyncSession, ids: set[int]) -> dict[int, str]:
    async with atomic(s):
        return {i: p.full_name for i in ids if (p := await s.get(Patient, i)) is not None}


def _task_json(task: tasks.TaskInfo, staff: Staff, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": task.task_id,
        "kind": task.kind,
        "queue": task.queue,
        "status": task.status,
        "mine": task.claimed_by == staff.agent_id,
        "note": task.note,
        "patient": None if task.patient_id is None else names.get(task.patient_id),
        "created_at": task.created_at.isoformat(),
    }


@requires()
async def list_tasks(request: web.Request) -> web.Response:
    console, staff = console_of(request), signed_in(request)
    async with console.db.session() as s:
        allowed = await _queues_for(s, staff)
        visible = [t for t in await tasks.open_tasks(s) if allowed is None or t.queue in allowed]
        names = await _patient_names(s, {t.patient_id for t in visible if t.patient_id})
        # Each task naming a patient shown on screen is an access to that patient's record.
        for task in visible:
            if task.patient_id is not None:
                await record_access(
                    s,
                    actor=staff.username,
                    action="view_task",
                    patient_id=task.patient_id,
                    call_id=task.call_id,
                    detail={"task_id": task.task_id},
                )
    return web.json_response(
        {"tasks": [_task_json(t, staff, names) for t in visible]}, headers=NO_STORE
    )


async def _task_for(s: AsyncSession, staff: Staff, task_id: int) -> tasks.TaskInfo | None:
    allowed = await _queues_for(s, staff)
    for task in await tasks.open_tasks(s):
        if task.task_id == task_id and (allowed is None or task.queue in allowed):
            return task
    return None


@requires(post=True)
async def claim(request: web.Request) -> web.Response:
    console, staff = console_of(request), signed_in(request)
    task_id = int_param(request, "task_id")
    async with console.db.session() as s:
        if await _task_for(s, staff, task_id) is None:
            return error(404, "no such open task in your queues")
        if not await tasks.claim_task(s, task_id, staff.agent_id):
            return error(409, "someone else claimed this task first")
    return web.json_response({"id": task_id, "status": "claimed"}, headers=NO_STORE)


@requires(post=True)
async def complete(request: web.Request) -> web.Response:
    console, staff = console_of(request), signed_in(request)
    task_id = int_param(request, "task_id")
    data = await json_body(request)
    note = text_field(data, "note", max_len=2000, required=False)
    async with console.db.session() as s:
        task = await _task_for(s, staff, task_id)
        if task is None:
            return error(404, "no such open task in your queues")
        if task.claimed_by != staff.agent_id and not staff.is_supervisor:
            return error(403, "claim the task before completing it")
        try:
            await tasks.complete_task(s, task_id, f"[{staff.username}] {note}" if note else None)
        except NotFound:
            return error(404, "no such task")
    return web.json_response({"id": task_id, "status": "done"}, headers=NO_STORE)
