"""The live board: who is waiting and for how long, what the calls in progress are doing, and
(for supervisors) where every agent is. Counts, waits and staff names only: no patient data,
so reading it writes no audit row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.hold_line import STALE
from integrations.services.transaction import atomic
from integrations.store.crypto import cipher_of
from integrations.store.models import Agent, Call, CallEvent, HoldLine

# A call with no end older than this is a record a crashed worker left open, not a live call
# (the supervisor closes those at start-up); it is not shown as in progress.
LIVE_HORIZON = timedelta(hours=4)


@dataclass(frozen=True)
class QueueLine:
    queue: str
    waiting: int
    longest_wait_s: float
    flagged: int  # of those waiting, callers with an urgent or emergent flag


@dataclass(frozen=True)
class AgentState:
    name: str
    role: str
    presence: str
    idle_s: float | None  # seconds since she became idle (available with no call)
    reason: str | None = None  # why she is away
    in_state_s: float | None = None  # seconds in this state (and reason): the state timer


@dataclass(frozen=True)
class OnTheLine:
    """A call bridged to a person through its worker: one a supervisor may join."""

    call_id: str
    queue: str | None
    level: str
    agent: str | None  # who took it
    since_s: float  # since the call began
    monitor: str | None  # the mode of a supervisor on it now, if any

    def to_json(self) -> dict[str, Any]:
        return vars(self)


# The events that say who is on a bridged call (each read for supervisors only).
_LINE_EVENTS = (
    "transfer_answered", "bridged", "referred", "agent_transferred", "monitor_started",
    "monitor_mode", "monitor_ended",
)  # fmt: skip


@dataclass(frozen=True)
class Board:
    at: datetime
    lines: tuple[QueueLine, ...]
    with_bot: int  # calls the bot is handling
    asking_for_person: int  # a transfer asked for, nobody has answered yet
    with_person: int  # bridged or referred to a person
    emergent_in_progress: int
    longest_emergent_s: float | None
    agents: tuple[AgentState, ...] | None  # None: not shown to this viewer
    on_the_line: tuple[OnTheLine, ...] | None = None  # for supervisors

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "lines": [vars(line) for line in self.lines],
            "calls": {
                "with_bot": self.with_bot,
                "asking_for_person": self.asking_for_person,
                "with_person": self.with_person,
                "emergent": self.emergent_in_progress,
                "longest_emergent_s": self.longest_emergent_s,
            },
            "agents": None if self.agents is None else [vars(a) for a in self.agents],
            "on_the_line": None
            if self.on_the_line is None
            else [line.to_json() for line in self.on_the_line],
        }


def _seconds(later: datetime, earlier: datetime) -> float:
    return round(max(0.0, (later - earlier).total_seconds()), 1)


async def live_board(s: AsyncSession, *, now: datetime, with_agents: bool) -> Board:
    async with atomic(s):
        held = (
            await s.execute(
                select(HoldLine.queue, HoldLine.since, Call.triage_level)
                .join(Call, Call.id == HoldLine.call_id, isouter=True)
                .where(HoldLine.seen_at >= now - STALE)
            )
        ).all()
        live = (
            await s.execute(
                select(
                    Call.started, Call.transfer_queue, Call.transferred, Call.triage_level
                ).where(Call.ended.is_(None), Call.started >= now - LIVE_HORIZON)
            )
        ).all()
        agents = list(await s.scalars(select(Agent).order_by(Agent.name))) if with_agents else []
        on_the_line = await _on_the_line(s, now) if with_agents else None

    by_queue: dict[str, list[tuple[datetime, str | None]]] = defaultdict(list)
    for queue, since, level in held:
        by_queue[queue].append((since, level))
    lines = tuple(
        QueueLine(
            queue=queue,
            waiting=len(rows),
            longest_wait_s=max(_seconds(now, since) for since, _ in rows),
            flagged=sum(level in ("urgent", "emergent") for _, level in rows),
        )
        for queue, rows in sorted(by_queue.items())
    )
    with_bot = sum(1 for _, queue, transferred, _ in live if queue is None and not transferred)
    asking = sum(1 for _, queue, transferred, _ in live if queue is not None and not transferred)
    with_person = sum(1 for *_, transferred, _ in live if transferred)
    emergent = [started for started, _, _, level in live if level == "emergent"]
    return Board(
        at=now,
        lines=lines,
        with_bot=with_bot,
        asking_for_person=asking,
        with_person=with_person,
        emergent_in_progress=len(emergent),
        longest_emergent_s=max((_seconds(now, t) for t in emergent), default=None),
        on_the_line=on_the_line,
        agents=None
        if not with_agents
        else tuple(
            AgentState(
                name=a.name,
                role=a.role,
                presence=a.presence,
                idle_s=None
                if a.idle_since is None or a.presence != "available"
                else _seconds(now, a.idle_since),
                reason=a.presence_reason,
                in_state_s=None if a.presence_since is None else _seconds(now, a.presence_since),
            )
            for a in agents
        ),
    )


async def _on_the_line(s: AsyncSession, now: datetime) -> tuple[OnTheLine, ...]:
    """The calls in progress bridged to a person (not referred away), with who took each and
    whether a supervisor is on it."""
    calls = (
        await s.execute(
            select(Call.id, Call.started, Call.transfer_queue, Call.triage_level).where(
                Call.ended.is_(None), Call.transferred.is_(True), Call.started >= now - LIVE_HORIZON
            )
        )
    ).all()
    if not calls:
        return ()
    names = {a.id: a.name for a in await s.scalars(select(Agent))}
    events = await s.execute(
        select(CallEvent.call_id, CallEvent.kind, CallEvent.data_enc)
        .where(CallEvent.call_id.in_([c.id for c in calls]), CallEvent.kind.in_(_LINE_EVENTS))
        .order_by(CallEvent.id)
    )
    cipher = cipher_of(s)
    state: dict[str, dict[str, Any]] = defaultdict(dict)
    for call_id, kind, data_enc in events:
        seen = state[call_id]
        seen[kind] = True
        if kind == "transfer_answered":
            seen["agent_id"] = cipher.decrypt_json(data_enc).get("agent_id")
        elif kind in ("monitor_started", "monitor_mode"):
            seen["monitor"] = cipher.decrypt_json(data_enc).get("mode")
        elif kind == "monitor_ended":
            seen["monitor"] = None
        elif kind == "agent_transferred":  # on hold again until the next person takes it
            seen["bridged"] = False
    return tuple(
        OnTheLine(
            call_id=call.id,
            queue=call.transfer_queue,
            level=call.triage_level,
            agent=names.get(state[call.id].get("agent_id") or -1),
            since_s=_seconds(now, call.started),
            monitor=state[call.id].get("monitor"),
        )
        for call in sorted(calls, key=lambda c: c.started)
        if state[call.id].get("bridged") and not state[call.id].get("referred")
    )
