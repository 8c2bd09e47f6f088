"""Task queues in the console: refill reviews, callbacks, prior auths, referrals; claim and done."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicline.callflow.callback import CallbackDesk
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
from integrations.services.agents import agent_by_id, list_agents, list_queues
from integrations.services.audit import record_access
from integrations.services.transaction import atomic
from integrations.store.models import Call, Patient

# The worker's click-to-call, when this process has a worker that can dial out.
CALLBACKS: web.AppKey[CallbackDesk] = web.AppKey("clinicline_callbacks", CallbackDesk)


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


@dataclass(frozen=True)
class _CallFacts:
    """What a task's call adds to it: the number to call back, and how urgent it was."""

    callback_number: str | None
    triage_level: str


async def _call_facts(s: AsyncSession, call_ids: set[str]) -> dict[str, _CallFacts]:
    if not call_ids:
        return {}
    async with atomic(s):
        rows = await s.scalars(select(Call).where(Call.id.in_(call_ids)))
        return {c.id: _CallFacts(c.caller_number, c.triage_level) for c in rows}


# Callbacks after a red flag come first, then the oldest: a nurse callback is never left
# behind a routine one.
_FLAGGED_LEVELS = frozenset({"urgent", "emergent"})


def _priority(task: tasks.TaskInfo, call: _CallFacts | None) -> str:
    if task.kind == "nurse_callback" or (call and call.triage_level in _FLAGGED_LEVELS):
        return "high"
    return "normal"


def _task_json(
    task: tasks.TaskInfo,
    staff: Staff,
    names: dict[int, str],
    calls: dict[str, _CallFacts],
    agents: dict[int, str],
) -> dict[str, Any]:
    call = calls.get(task.call_id) if task.call_id else None
    return {
        "id": task.task_id,
        "kind": task.kind,
        "queue": task.queue,
        "status": task.status,
        "mine": task.claimed_by == staff.agent_id,
        "claimed_by": None if task.claimed_by is None else agents.get(task.claimed_by),
        "note": task.note,
        "patient": None if task.patient_id is None else names.get(task.patient_id),
        "callback_number": None if call is None else call.callback_number,
        "priority": _priority(task, call),
        "created_at": task.created_at.isoformat(),
    }


@requires()
async def list_tasks(request: web.Request) -> web.Response:
    console, staff = console_of(request), signed_in(request)
    async with console.db.session() as s:
        allowed = await _queues_for(s, staff)
        visible = [t for t in await tasks.open_tasks(s) if allowed is None or t.queue in allowed]
        names = await _patient_names(s, {t.patient_id for t in visible if t.patient_id})
        facts = await _call_facts(s, {t.call_id for t in visible if t.call_id})
        agents = {a.agent_id: a.name for a in await list_agents(s)}
        # Each task naming a patient or a caller's number shown on screen is an access to PHI.
        for task in visible:
            call = facts.get(task.call_id) if task.call_id else None
            if task.patient_id is not None or (call and call.callback_number):
                await record_access(
                    s,
                    actor=staff.username,
                    action="view_task",
                    patient_id=task.patient_id,
                    call_id=task.call_id,
                    detail={"task_id": task.task_id},
                )
    shown = [_task_json(t, staff, names, facts, agents) for t in visible]
    shown.sort(key=lambda t: (t["priority"] != "high", t["created_at"]))
    return web.json_response({"tasks": shown}, headers=NO_STORE)


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


@requires(post=True)
async def call_back(request: web.Request) -> web.Response:
    """POST /console/tasks/{task_id}/call: ring her phone, then the number the task's call
    came from, and connect them (the worker behind this console dials). The number is the
    store's; she must have claimed the task. Audited: it reaches a patient."""
    console, staff = console_of(request), signed_in(request)
    task_id = int_param(request, "task_id")
    desk = request.app.get(CALLBACKS)
    dialer = None if desk is None else desk.dialer
    if dialer is None:
        return error(503, "this server places no calls: use your desk phone, or a worker's console")
    async with console.db.session() as s:
        task = await _task_for(s, staff, task_id)
        if task is None:
            return error(404, "no such open task in your queues")
        if task.claimed_by != staff.agent_id:
            return error(403, "claim the task before calling")
        facts = await _call_facts(s, {task.call_id} if task.call_id else set())
        number = facts[task.call_id].callback_number if task.call_id in facts else None
        if not number:
            return error(409, "this task has no number to call back")
        me = await agent_by_id(s, staff.agent_id)
        if me is None or not me.sip_uri:
            return error(409, "you have no phone for the clinic to ring")
        await record_access(
            s, actor=staff.username, action="call_back", patient_id=task.patient_id,
            call_id=task.call_id, detail={"task_id": task_id},
        )  # fmt: skip
    if not dialer.has_room():
        return error(503, "every line of this server is busy: try again in a minute")
    call_id = dialer.place(task_id, me, number)
    return web.json_response(
        {"id": task_id, "call_id": call_id, "status": "ringing you"}, status=202, headers=NO_STORE
    )
