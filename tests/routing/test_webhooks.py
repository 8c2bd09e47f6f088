"""Signed webhooks against a real local HTTP server: signature, retries, back-off, dead letters."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from routing.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    RetryPolicy,
    WebhookSender,
    sign,
    verify,
)

SECRET = b"test-webhook-secret"
FAST = RetryPolicy(attempts=3, first_delay=0.05, max_delay=0.2, timeout=0.5)


@dataclass
class Receiver:
    """A real aiohttp server whose answers each test scripts."""

    url: str
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    seen: list[tuple[dict[str, str], bytes, float]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(url="")

    async def hook(request: web.Request) -> web.Response:
        rec.seen.append((dict(request.headers), await request.read(), time.monotonic()))
        if rec.delay:
            await asyncio.sleep(rec.delay)
        status = rec.statuses.pop(0) if rec.statuses else 200
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield rec
    finally:
        await runner.cleanup()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def dead_letters(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_delivery_is_signed_over_timestamp_and_body(receiver: Receiver, tmp_path: Path):
    sender = WebhookSender([receiver.url], SECRET, tmp_path / "dead.jsonl", FAST)
    [result] = await sender.send("transfer.offered", {"call_id": "c1"})
    assert result.delivered and result.attempts == 1
    headers, body, _ = receiver.seen[0]
    assert headers[SIGNATURE_HEADER].startswith("sha256=")
    assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert json.loads(body) == {"event": "transfer.offered", "data": {"call_id": "c1"}}


def test_receiver_check_rejects_tampered_body_wrong_key_and_old_timestamp() -> None:
    stamp = str(int(time.time()))
    signature = sign(SECRET, stamp, b'{"a":1}')
    assert not verify(SECRET, stamp, b'{"a":2}', signature)
    assert not verify(b"other", stamp, b'{"a":1}', signature)
    old = str(int(time.time()) - 3600)
    assert not verify(SECRET, old, b'{"a":1}', sign(SECRET, old, b'{"a":1}'))
    assert not verify(SECRET, "not-a-number", b"", signature)


async def test_server_error_then_success_is_retried_with_growing_delay(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.statuses = [500, 500, 200]
    sender = WebhookSender([receiver.url], SECRET, tmp_path / "dead.jsonl", FAST)
    [result] = await sender.send("transfer.answered", {"call_id": "c1"})
    assert result.delivered and result.attempts == 3
    times = [t for _, _, t in receiver.seen]
    assert times[2] - times[1] > times[1] - times[0] >= 0.04
    assert dead_letters(tmp_path / "dead.jsonl") == []


async def test_server_that_is_down_ends_in_the_dead_letter_file(tmp_path: Path) -> None:
    dead = tmp_path / "data" / "webhooks-dead.jsonl"
    sender = WebhookSender([closed_port_url()], SECRET, dead, FAST)
    [result] = await sender.send("transfer.offered", {"call_id": "c9"})
    assert not result.delivered and result.attempts == FAST.attempts
    [record] = dead_letters(dead)
    assert record["event"] == "transfer.offered" and record["attempts"] == 3
    assert json.loads(record["body"])["data"]["call_id"] == "c9"


async def test_slow_server_times_out_and_is_retried(receiver: Receiver, tmp_path: Path) -> None:
    receiver.delay = 1.0  # longer than the 0.5 s per-attempt timeout
    policy = RetryPolicy(attempts=2, first_delay=0.01, max_delay=0.01, timeout=0.3)
    sender = WebhookSender([receiver.url], SECRET, tmp_path / "dead.jsonl", policy)
    [result] = await sender.send("transfer.offered", {})
    assert not result.delivered and result.error == "TimeoutError"
    assert len(receiver.seen) == 2
    assert len(dead_letters(tmp_path / "dead.jsonl")) == 1


async def test_client_error_is_not_retried(receiver: Receiver, tmp_path: Path) -> None:
    receiver.statuses = [401]
    sender = WebhookSender([receiver.url], SECRET, tmp_path / "dead.jsonl", FAST)
    [result] = await sender.send("transfer.offered", {})
    assert not result.delivered and result.attempts == 1 and result.status == 401


async def test_dead_letters_can_be_kept_encrypted(tmp_path: Path) -> None:
    fernet = Fernet(Fernet.generate_key())
    dead = tmp_path / "dead.jsonl"
    sender = WebhookSender([closed_port_url()], SECRET, dead, FAST, encrypt=fernet.encrypt)
    await sender.send("transfer.offered", {"patient": "Test Person"})
    [record] = dead_letters(dead)
    assert record["encrypted"] and "Test Person" not in record["body"]
    assert b"Test Person" in fernet.decrypt(record["body"].encode())


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(attempts=6, first_delay=0.5, max_delay=3.0)
    assert [policy.delay_after(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
