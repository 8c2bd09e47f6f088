"""Opaque context tokens for the consult INVITE's `X-Clinicline-Context` header.

A token is 128 random bits plus an HMAC tag over them; it carries no PHI and means nothing
outside this process. The payload stays here, found by the token until it expires or has been
resolved `max_uses` times. Forged, expired and used-up tokens all resolve to None.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HEADER = "X-Clinicline-Context"
_TAG_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass
class _Entry:
    call_id: str
    payload: dict[str, Any]
    expires: float
    uses_left: int


class ContextTokens:
    """Issue and resolve context tokens; `clock` is injectable so tests need not sleep."""

    def __init__(
        self,
        secret: bytes | None = None,
        *,
        ttl_seconds: float = 120.0,
        max_uses: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = secret or secrets.token_bytes(32)
        self.ttl_seconds = ttl_seconds
        self.max_uses = max_uses
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _tag(self, nonce: str) -> str:
        digest = hmac.new(self._key, nonce.encode("utf-8"), hashlib.sha256).digest()
        return _b64(digest[:_TAG_BYTES])

    def issue(self, call_id: str, payload: dict[str, Any]) -> str:
        """A fresh token for `payload` (header-safe: URL-safe base64 and one dot, ~66 chars)."""
        nonce = _b64(secrets.token_bytes(16))
        with self._lock:
            self._purge()
            self._entries[nonce] = _Entry(
                call_id, payload, self._clock() + self.ttl_seconds, self.max_uses
            )
        return f"{nonce}.{self._tag(nonce)}"

    def resolve(self, token: str) -> dict[str, Any] | None:
        """The payload, once per allowed use and before expiry; None for anything else."""
        entry = self._take(token)
        return None if entry is None else entry.payload

    def resolve_call(self, token: str) -> tuple[str, dict[str, Any]] | None:
        """Like `resolve`, also naming the call the token was issued for."""
        entry = self._take(token)
        return None if entry is None else (entry.call_id, entry.payload)

    def revoke_call(self, call_id: str) -> None:
        """Forget every token of a call (it ended or its transfer was answered elsewhere)."""
        with self._lock:
            for nonce in [n for n, e in self._entries.items() if e.call_id == call_id]:
                del self._entries[nonce]

    def _take(self, token: str) -> _Entry | None:
        if not isinstance(token, str) or len(token) > 128:
            return None
        nonce, sep, tag = token.partition(".")
        if not sep or not hmac.compare_digest(tag.encode(), self._tag(nonce).encode()):
            return None
        with self._lock:
            entry = self._entries.get(nonce)
            if entry is None:
                return None
            if self._clock() >= entry.expires:
                del self._entries[nonce]
                return None
            entry.uses_left -= 1
            if entry.uses_left <= 0:
                del self._entries[nonce]
            return entry

    def _purge(self) -> None:
        now = self._clock()
        for nonce in [n for n, e in self._entries.items() if now >= e.expires]:
            del self._entries[nonce]
