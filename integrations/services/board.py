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
from integrations.store.models import Agent, Call, HoldLine

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
class Board:
    at: datetime
    lines: tuple[QueueLine, ...]
    with_bot: int  # calls the bot is handling
    asking_for_person: int  # a transfer asked for, nobody has answered yet
    with_person: int  # bridged or referred to a person
    emergent_in_progress: int
    longest_emergent_s: float | None
    agents: tuple[AgentState, ...] | None  # None: not shown to this viewer

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
                select(Call.started, Call.transfer_queue, Call.transferred, Call.triage_level)
                .where(Call.ended.is_(None), Call.started >= now - LIVE_HORIZON)
            )
        ).all()
        agents = list(await s.scalars(select(Agent).order_by(Agent.name))) if with_agents else []

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
