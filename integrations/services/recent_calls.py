"""The supervisors' list of recent calls: when, how long, what was asked, how urgent, how it
ended. No caller number, name or words (opening one call's record is the audited view)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.crypto import cipher_of
from integrations.store.models import Call, CallEvent

MAX_LIMIT = 200


async def recent_calls(s: AsyncSession, *, limit: int = 50) -> list[dict[str, Any]]:
    """The newest calls first, at most `limit` (capped at MAX_LIMIT)."""
    limit = max(1, min(limit, MAX_LIMIT))
    async with atomic(s):
        rows = list(await s.scalars(select(Call).order_by(Call.started.desc()).limit(limit)))
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
