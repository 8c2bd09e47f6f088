"""Presence that follows the console: an agent whose console is closed is not offered calls.

Every app process beats `console_seen_at` in the store for each agent whose console socket it
holds; then it sets `away` the agents marked available whose console no process has seen for
`grace` seconds — the tab was closed, the laptop slept, the network or their app process went.
The grace lets a console that reconnects (a reload, a moved app process) keep its presence.
An agent who never opened a console (a phone-only line set available by a supervisor) is left
as set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from aiohttp import web

from clinicline.web.console.hub import WebSocketHub
from integrations.services import presence as presence_store
from integrations.store import Database

log = logging.getLogger(__name__)

BEAT_SECONDS = 10.0
GRACE_SECONDS = 30.0  # three beats: one late beat on a busy machine does not set anyone away
# While the store is down, one line per this many failed beats (not a traceback per beat).
QUIET_EVERY = 30


class ConsoleAttendance:
    def __init__(
        self,
        db: Database,
        hub: WebSocketHub,
        *,
        grace: float = GRACE_SECONDS,
        beat_seconds: float = BEAT_SECONDS,
    ) -> None:
        self.db = db
        self.hub = hub
        self.grace = timedelta(seconds=grace)
        self.beat_seconds = beat_seconds
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> list[int]:
        """Mark the consoles open here as seen; set away the agents whose console is gone.
        Returns the agents set away."""
        now = datetime.now(UTC)
        async with self.db.session() as s:
            await presence_store.console_seen(s, self.hub.agents_connected(), now)
            lapsed = await presence_store.lapse_absent_consoles(s, now=now, grace=self.grace)
        for agent_id in lapsed:
            log.info(
                "agent %d set away: no console open for %.0f s",
                agent_id, self.grace.total_seconds(),
            )  # fmt: skip
        return lapsed

    async def run(self) -> None:
        failed = 0  # beats failed in a row: the first is logged in full, the rest counted
        while True:
            try:
                await self.beat()
                if failed:
                    log.info("console attendance beats again after %d failed", failed)
                failed = 0
            except Exception as exc:  # the store briefly away: the next beat tries again
                failed += 1
                if failed == 1:
                    log.exception("console attendance beat failed")
                elif failed % QUIET_EVERY == 0:
                    log.warning(
                        "console attendance beat still failing (%d in a row): %s",
                        failed, type(exc).__name__,
                    )  # fmt: skip
            await asyncio.sleep(self.beat_seconds)

    async def start(self, _app: web.Application | None = None) -> None:
        self._task = asyncio.create_task(self.run(), name="console-attendance")

    async def stop(self, _app: web.Application | None = None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
