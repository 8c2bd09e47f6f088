"""Signed outbound webhooks (screen-pop to a CRM, transfer events) with bounded retries.

Each POST carries `X-Clinicline-Timestamp` (Unix seconds) and `X-Clinicline-Signature:
sha256=<hex HMAC-SHA256 over "<timestamp>.<body>">`, so receivers can reject forged and
replayed requests. A delivery that fails every attempt is appended to a dead-letter JSON-lines
file (URL, event, attempts, last error and the body) for a person or a replay job.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

SIGNATURE_HEADER = "X-Clinicline-Signature"
TIMESTAMP_HEADER = "X-Clinicline-Timestamp"
EVENT_HEADER = "X-Clinicline-Event"
log = logging.getLogger(__name__)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance_seconds: float = 300.0,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    first_delay: float = 0.5  # seconds; doubles after each failure
    max_delay: float = 8.0
    timeout: float = 5.0  # per attempt

    def delay_after(self, attempt: int) -> float:
        return float(min(self.max_delay, self.first_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Delivery:
    url: str
    delivered: bool
    attempts: int
    status: int | None
    error: str | None


class WebhookSender:
    """Sends one event to every configured URL, concurrently, each with its own retries."""

    def __init__(
        self,
        urls: Sequence[str],
        secret: bytes,
        dead_letter_file: Path,
        policy: RetryPolicy | None = None,
        encrypt: Callable[[bytes], bytes] | None = None,
    ) -> None:
        if not secret:
            raise ValueError("webhooks need a non-empty signing secret")
        self.urls = tuple(urls)
        self._secret = secret
        self.dead_letter_file = dead_letter_file
        self.policy = policy or RetryPolicy()
        # Bodies may hold PHI; pass the store's cipher (`db.cipher.encrypt`) to keep the
        # dead-letter file encrypted at rest like the rest of the data dir.
        self._encrypt = encrypt

    async def send(self, event: str, data: dict[str, Any]) -> list[Delivery]:
        if not self.urls:
            return []
        body = json.dumps({"event": event, "data": data}, separators=(",", ":")).encode()
        timeout = aiohttp.ClientTimeout(total=self.policy.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            return list(
                await asyncio.gather(*(self._deliver(http, url, event, body) for url in self.urls))
            )

    async def _deliver(
        self, http: aiohttp.ClientSession, url: str, event: str, body: bytes
    ) -> Delivery:
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self.policy.attempts + 1):
            # A fresh timestamp per attempt: a receiver's replay window applies to each try.
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: sign(self._secret, stamp, body),
                EVENT_HEADER: event,
            }
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    status = response.status
                    await response.read()
                if 200 <= status < 300:
                    return Delivery(url, True, attempt, status, None)
                error = f"HTTP {status}"
                if 400 <= status < 500 and status not in (408, 429):
                    break  # the receiver rejects this request; retrying cannot help
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, error = None, type(exc).__name__
            log.warning(
                "webhook %s: attempt %d failed (%s)", event, attempt, error,
                extra={"event": event, "attempt": attempt},
            )  # fmt: skip
            if attempt < self.policy.attempts:
                await asyncio.sleep(self.policy.delay_after(attempt))
        self._dead_letter(url, event, body, attempt, error)
        return Delivery(url, False, attempt, status, error)

    def _dead_letter(
        self, url: str, event: str, body: bytes, attempts: int, error: str | None
    ) -> None:
        stored = body.decode() if self._encrypt is None else self._encrypt(body).decode("ascii")
        record = {
            "at": datetime.now(UTC).isoformat(),
            "url": url,
            "event": event,
            "attempts": attempts,
            "error": error,
            "encrypted": self._encrypt is not None,
            "body": stored,
        }
        self.dead_letter_file.parent.mkdir(parents=True, exist_ok=True)
        with self.dead_letter_file.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        log.error(
            "webhook %s: dead-lettered after %d attempts (%s)", event, attempts, error,
            extra={"event": event, "attempts": attempts},
        )  # fmt: skip
