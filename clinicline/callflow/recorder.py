"""Writes each call's timeline to the store without ever blocking or failing the call.

Writes go through one ordered queue per process. When the database is locked or restarting
a write is retried with back-off instead of dropped, so a call record survives a store
outage of up to `max_wait` seconds; what still cannot be written is counted and logged
(without PHI) rather than lost silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import InvalidField, NotFound
from integrations.services import calls as call_records
from integrations.store import Database
from integrations.store.models import Call
from voice.session.actions import CallInfo, CallOutcome

log = logging.getLogger(__name__)

Write = Callable[[Any], Awaitable[None]]
# Told of every transcript line as it is spoken: (call id, speaker, text, end of utterance).
TurnListener = Callable[[str, str, str, datetime], Awaitable[None]]


class StoreRecorder:
    """The `CallRecorder` of the product: turns and events into the call record."""

    def __init__(self, db: Database, max_wait: float = 120.0, *, worker: str | None = None) -> None:
        self.db = db
        self.worker = worker  # named on each call record: its calls are closed if it dies
        self.max_wait = max_wait
        self._queue: asyncio.Queue[tuple[str, Write]] = asyncio.Queue()
        self._opened: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[TurnListener] = []
        self._notifying: set[asyncio.Task[None]] = set()
        self.failed_writes = 0

    def add_turn_listener(self, listener: TurnListener) -> None:
        """Live transcript lines for the console; a slow or failing listener never delays
        the call or the record."""
        self._listeners.append(listener)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._drain(), name="call-recorder")

    async def stop(self, timeout: float = 10.0) -> None:
        """Flush what is queued (up to `timeout`), then stop."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.error("call recorder stopped with %d writes pending", self._queue.qsize())
        if self._task is not None:
            self._task.cancel()

    def submit(self, call_id: str, write: Write) -> None:
        self._queue.put_nowait((call_id, write))

    async def flush(self) -> None:
        await self._queue.join()

    async def _drain(self) -> None:
        while True:
            call_id, write = await self._queue.get()
            try:
                await self._with_retry(call_id, write)
            finally:
                self._queue.task_done()

    async def _with_retry(self, call_id: str, write: Write) -> None:
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + self.max_wait, 0.2
        while True:
            try:
                async with self.db.session() as s:
                    await write(s)
                return
            except (InvalidField, NotFound) as exc:  # a bug, not an outage: retrying won't help
                self.failed_writes += 1
                log.error("call %s: record write rejected: %s", call_id, exc)
                return
            except IntegrityError:
                # The store's own constraints refuse it, and would again: retried, it would
                # hold up every later write of every call on this worker for `max_wait`.
                self.failed_writes += 1
                log.error("call %s: record write refused by the store's constraints", call_id)
                return
            except Exception as exc:  # the store is down, locked or restarting
                if loop.time() > deadline:
                    self.failed_writes += 1
                    log.error("call %s: record write abandoned (%s)", call_id, type(exc).__name__)
                    return
                log.warning(
                    "call %s: record write failed (%s), retrying", call_id, type(exc).__name__
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def recording(self, call: CallInfo, audio: bytes) -> None:
        """Keep the call's recording (a WAV's bytes), encrypted like the rest of its record."""
        self.submit(call.call_id, lambda s: call_records.save_recording(s, call.call_id, audio))

    # -- CallRecorder ----------------------------------------------------------------------
    def open(self, call: CallInfo) -> None:
        if call.call_id in self._opened:
            return
        self._opened.add(call.call_id)
        self.submit(
            call.call_id,
            lambda s: call_records.open_call(
                s, call_id=call.call_id, caller_number=call.caller_number, started=call.started,
                worker=self.worker, direction=call.direction,
            ),  # fmt: skip
        )

    async def turn(
        self, call: CallInfo, speaker: str, text: str, start: datetime, end: datetime
    ) -> None:
        self.open(call)
        self.submit(
            call.call_id,
            lambda s: call_records.add_turn(
                s,
                call_id=call.call_id,
                speaker=speaker,  # type: ignore[arg-type]
                text=text,
                start=start,
                end=end,
            ),
        )
        for listener in self._listeners:
            task = asyncio.get_running_loop().create_task(
                self._notify(listener, call.call_id, speaker, text, end)
            )
            self._notifying.add(task)
            task.add_done_callback(self._notifying.discard)

    @staticmethod
    async def _notify(
        listener: TurnListener, call_id: str, speaker: str, text: str, at: datetime
    ) -> None:
        try:
            await listener(call_id, speaker, text, at)
        except Exception as exc:
            log.warning(
                "call %s: live transcript line not delivered (%s)", call_id, type(exc).__name__
            )

    async def event(self, call: CallInfo, kind: str, data: dict[str, object]) -> None:
        self.open(call)
        self.submit(
            call.call_id,
            lambda s: call_records.add_event(s, call_id=call.call_id, kind=kind, data=data),
        )

    def fields(self, call: CallInfo, **fields: Any) -> None:
        self.open(call)
        self.submit(call.call_id, lambda s: call_records.set_fields(s, call.call_id, **fields))

    async def closed(self, call: CallInfo, outcome: CallOutcome, fallback: str | None) -> None:
        """Close the record; `fallback` is the disposition when the call set none itself."""
        self.open(call)

        async def close(s: AsyncSession) -> None:
            current = await s.scalar(select(Call.disposition).where(Call.id == call.call_id))
            await call_records.close_call(
                s,
                call_id=call.call_id,
                ended=outcome.ended,
                disposition=None if current else fallback,
            )

        self.submit(call.call_id, close)
        self._opened.discard(call.call_id)
