"""Opaque context tokens for the consult INVITE's `X-Clinicline-Context` header.

A token is 256 random bits in URL-safe base64: it carries no PHI and means nothing by
itself. The payload stays in the shared store (`integrations.services.context_tokens`),
encrypted, found by the token's hash until it expires or has been resolved `max_uses` times,
so the agent's desktop may ask any app process. Unknown, expired and used-up tokens all
resolve to None.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.services import context_tokens as rows
from integrations.store import Database

HEADER = "X-Clinicline-Context"
MAX_TOKEN_CHARS = 128


class ContextTokens:
    """Issue and resolve context tokens; `clock` is injectable so tests need not sleep."""

    def __init__(
        self,
        db: Database,
        *,
        ttl_seconds: float = 120.0,
        max_uses: int = 1,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.ttl_seconds = ttl_seconds
        self.max_uses = max_uses
        self._clock = clock

    async def issue(self, call_id: str, payload: dict[str, Any]) -> str:
        """A fresh token for `payload` (header-safe: 43 characters of URL-safe base64)."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        async with self.db.session() as s:
            await rows.store_token(
                s, token, call_id, payload, now=now, uses=self.max_uses,
                expires_at=now + timedelta(seconds=self.ttl_seconds),
            )  # fmt: skip
        return token

    async def resolve(self, token: str) -> dict[str, Any] | None:
        """The payload, once per allowed use and before expiry; None for anything else."""
        found = await self.resolve_call(token)
        return None if found is None else found[1]

    async def resolve_call(self, token: str) -> tuple[str, dict[str, Any]] | None:
        """Like `resolve`, also naming the call the token was issued for."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            return None
        async with self.db.session() as s:
            return await rows.take_token(s, token, now=self._clock())

    async def revoke_call(self, call_id: str) -> None:
        """Forget every token of a call (it ended or its transfer was answered elsewhere)."""
        async with self.db.session() as s:
            await rows.revoke_call(s, call_id)
