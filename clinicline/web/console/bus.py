"""`ConsoleBus`: console messages between app processes over PostgreSQL LISTEN/NOTIFY.

An agent's console is a WebSocket held by one app process; the call offered to her may be
routed by another. The process with the message writes it to the store (encrypted,
`integrations.services.console_messages`) and NOTIFYs its id; every app process LISTENs and
hands the messages of other origins to its own sockets. SQLite has no NOTIFY: there the
server runs as one app process and needs no bus (`ConsoleBus.for_store` returns None).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from integrations.services import console_messages as messages
from integrations.store import Database

Deliver = Callable[[int, dict[str, Any]], Awaitable[object]]
RECONNECT_SECONDS = 1.0
log = logging.getLogger(__name__)


class ConsoleBus:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Who wrote a message: this process's own are delivered before they are published.
        self.origin = f"{socket.gethostname()[:16]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.channel = f"{messages.CHANNEL}_{db.schema or 'public'}"
        self._deliver: Deliver | None = None
        self._runner: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._pending: set[asyncio.Task[None]] = set()
        self._seen = 0  # the newest message id handled
        self._handled: deque[int] = deque(maxlen=1000)

    @classmethod
    def for_store(cls, db: Database) -> ConsoleBus | None:
        return cls(db) if db.backend == "postgresql" else None

    async def start(self, deliver: Deliver) -> None:
        """Listen until `stop()`; returns once the first LISTEN is in place."""
        self._deliver = deliver
        self._runner = asyncio.create_task(self._run(), name="console-bus")
        await asyncio.wait_for(self._listening.wait(), 30)

    async def publish(self, agent_id: int, body: dict[str, Any]) -> None:
        async with self.db.session() as s:
            await messages.publish(
                s, agent_id, body, origin=self.origin, now=datetime.now(UTC),
                channel=self.channel,
            )  # fmt: skip

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _run(self) -> None:
        """Hold one connection that LISTENs; when it is lost (PostgreSQL restarted), take
        a new one and catch up on what was written meanwhile."""
        async with self.db.session() as s:
            self._seen = await messages.newest_id(s)
        first = True
        while True:
            try:
                async with self.db.engine.connect() as conn:
                    try:
                        raw = (await conn.get_raw_connection()).driver_connection
                        assert raw is not None  # an open connection has its asyncpg one
                        lost = asyncio.Event()
                        raw.add_termination_listener(lambda _c, event=lost: event.set())
                        await raw.add_listener(self.channel, self._on_notify)
                        if not first:
                            log.warning("console bus listening again; catching up")
                            self._spawn(self._catch_up(self._seen))
                        first = False
                        self._listening.set()
                        await lost.wait()
                    finally:
                        # Never back into the pool still LISTENing: close it instead.
                        await conn.invalidate()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any lost link: retry, never die
                log.warning("console bus link lost; retrying", extra={"error": type(exc).__name__})
            await asyncio.sleep(RECONNECT_SECONDS)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload.isdigit():
            self._spawn(self._fetch_and_deliver(int(payload)))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _fetch_and_deliver(self, message_id: int) -> None:
        async with self.db.session() as s:
            message = await messages.fetch(s, message_id)
        if message is not None:
            await self._hand_over(message)

    async def _catch_up(self, after: int) -> None:
        async with self.db.session() as s:
            missed = await messages.fetch_after(s, after)
        for message in missed:
            await self._hand_over(message)

    async def _hand_over(self, message: messages.Message) -> None:
        self._seen = max(self._seen, message.message_id)
        if message.message_id in self._handled:  # a catch-up and a late NOTIFY, both
            return
        self._handled.append(message.message_id)
        if message.origin == self.origin or self._deliver is None:
            return
        try:
            await self._deliver(message.agent_id, message.body)
        except Exception:  # noqa: BLE001 - one bad delivery must not stop the bus
            log.exception("console message not delivered")
