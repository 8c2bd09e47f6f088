"""The supervisors' list of recent calls, and its search: when, how long, what was asked, how
urgent, how it ended. No caller number, name or words (opening one call's record is the audited
view), and nothing searched by them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.crypto import cipher_of
from integrations.store.models import Call, CallEvent

MAX_LIMIT = 200
# A red flag is one entry of a JSON list: matched here rather than in each backend's JSON
# dialect, over at most this many of the newest calls the other filters leave.
FLAG_SCAN = 5000


@dataclass(frozen=True)
class CallSearch:
    """What a supervisor narrows the list to; None: any."""

    start: datetime | None = None
    end: datetime | None = None  # exclusive
    level: str | None = None  # triage level
    flag: str | None = None  # a red flag that fired
    queue: str | None = None  # the queue a person was asked for
    disposition: str | None = None
    direction: str | None = None  # inbound | outbound


async def recent_calls(
    s: AsyncSession, *, limit: int = 50, search: CallSearch | None = None
) -> list[dict[str, Any]]:
    """The newest calls first that match `search`, at most `limit` (capped at MAX_LIMIT)."""
    limit = max(1, min(limit, MAX_LIMIT))
    search = search or CallSearch()
    query = select(Call).order_by(Call.started.desc())
    for column, value in (
        (Call.triage_level, search.level), (Call.transfer_queue, search.queue),
        (Call.disposition, search.disposition), (Call.direction, search.direction),
    ):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    if search.start is not None:
        query = query.where(Call.started >= search.start)
    if search.end is not None:
        query = query.where(Call.started < search.end)
    async with atomic(s):
        if search.flag is None:
            rows = list(await s.scalars(query.limit(limit)))
        else:
            scanned = await s.scalars(query.limit(FLAG_SCAN))
            rows = [c for c in scanned if search.flag in (c.flags or [])][:limit]
        ids = [c.id for c in rows]
        # Event data is encrypted at rest: the intents' names are read through the cipher.
        intent_rows = (
            await s.execute(
                select(CallEvent.call_id, CallEvent.data_enc)
                .where(CallEvent.call_id.in_(ids), CallEvent.kind == "intent")
                .order_by(CallEvent.id)
            )
        ).all()
        cipher = cipher_of(s)
    intents: dict[str, list[str]] = defaultdict(list)
    for call_id, data in intent_rows:
        name = cipher.decrypt_json(data).get("name")
        if name and str(name) not in intents[call_id]:
            intents[call_id].append(str(name))
    return [
        {
            "call_id": c.id,
            "started": c.started.isoformat(),
            "seconds": None if c.ended is None else round(_seconds(c.ended, c.started), 1),
            "intents": intents.get(c.id, []),
            "triage_level": c.triage_level,
            "transferred": c.transferred,
            "transfer_queue": c.transfer_queue,
            "disposition": c.disposition,
        }
        for c in rows
    ]


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())
