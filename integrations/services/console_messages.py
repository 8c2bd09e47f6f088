"""Messages for agents' consoles, handed between app processes through the store.

The process that has something for an agent's screen (a screen-pop, a transcript line, a
red-flag alert) writes it here, encrypted; on PostgreSQL it also sends the row's id with
NOTIFY in the same transaction, so the other app processes fetch it the moment it commits.
Rows are kept only minutes: a console that was not connected then has missed nothing it can
still act on (offers are withdrawn or re-made within seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.crypto import cipher_of
from integrations.store.models import ConsoleMessage

KEEP = timedelta(minutes=5)
CHANNEL = "clinicline_console"


@dataclass(frozen=True)
class Message:
    message_id: int
    agent_id: int
    origin: str
    body: dict[str, Any]


async def publish(
    s: AsyncSession, agent_id: int, body: dict[str, Any], *, origin: str, now: datetime,
    channel: str | None,
) -> int:  # fmt: skip
    """Write the message; with `channel` (PostgreSQL), NOTIFY its id there on commit."""
    async with atomic(s):
        await s.execute(delete(ConsoleMessage).where(ConsoleMessage.created_at < now - KEEP))
        message_id = await s.scalar(
            insert(ConsoleMessage)
            .values(
                agent_id=agent_id, origin=origin, created_at=now,
                message_enc=cipher_of(s).encrypt_json(body),
            )  # fmt: skip
            .returning(ConsoleMessage.id)
        )
        assert message_id is not None
        if channel is not None:
            await s.execute(select(func.pg_notify(channel, str(message_id))))
        return message_id


async def fetch(s: AsyncSession, message_id: int) -> Message | None:
    async with atomic(s):
        row = await s.get(ConsoleMessage, message_id)
        if row is None:
            return None
        return Message(row.id, row.agent_id, row.origin, cipher_of(s).decrypt_json(row.message_enc))


async def newest_id(s: AsyncSession) -> int:
    async with atomic(s):
        return await s.scalar(select(func.coalesce(func.max(ConsoleMessage.id), 0))) or 0


async def fetch_after(s: AsyncSession, message_id: int, *, limit: int = 200) -> list[Message]:
    """Messages written after `message_id`, oldest first (the catch-up after a lost link)."""
    async with atomic(s):
        rows = await s.scalars(
            select(ConsoleMessage)
            .where(ConsoleMessage.id > message_id)
            .order_by(ConsoleMessage.id)
            .limit(limit)
        )
        cipher = cipher_of(s)
        return [
            Message(r.id, r.agent_id, r.origin, cipher.decrypt_json(r.message_enc)) for r in rows
        ]
