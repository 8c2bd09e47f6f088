"""Context tokens as rows: the CTI payload behind an `X-Clinicline-Context` header, readable
by whichever app process the agent's desktop asks.

A row is found by the SHA-256 of the token (the table alone resolves nothing) and holds the
payload encrypted. Taking a use is one conditional UPDATE … RETURNING, so a single-use token
resolves once even when two processes are asked at the same instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.crypto import cipher_of, secret_digest
from integrations.store.models import ContextToken


async def store_token(
    s: AsyncSession,
    token: str,
    call_id: str,
    payload: dict[str, Any],
    *,
    expires_at: datetime,
    uses: int,
    now: datetime,
) -> None:
    """Keep `payload` behind `token`; tokens that have expired are pruned on the way."""
    async with atomic(s):
        await s.execute(delete(ContextToken).where(ContextToken.expires_at <= now))
        s.add(
            ContextToken(
                token_hash=secret_digest(token), call_id=call_id,
                payload_enc=cipher_of(s).encrypt_json(payload), expires_at=expires_at,
                uses_left=uses,
            )
        )  # fmt: skip


async def take_token(
    s: AsyncSession, token: str, *, now: datetime
) -> tuple[str, dict[str, Any]] | None:
    """(call id, payload) for one use of a live token; None when unknown, used up or expired."""
    stmt = (
        update(ContextToken)
        .where(
            ContextToken.token_hash == secret_digest(token),
            ContextToken.uses_left > 0,
            ContextToken.expires_at > now,
        )
        .values(uses_left=ContextToken.uses_left - 1)
        .returning(ContextToken.call_id, ContextToken.payload_enc)
    )
    async with atomic(s):
        row = (await s.execute(stmt)).first()
        if row is None:
            return None
        call_id, payload_enc = row
        return call_id, cipher_of(s).decrypt_json(payload_enc)


async def revoke_call(s: AsyncSession, call_id: str) -> None:
    """Every token of a call stops resolving (it ended, or its transfer went elsewhere)."""
    async with atomic(s):
        await s.execute(delete(ContextToken).where(ContextToken.call_id == call_id))
