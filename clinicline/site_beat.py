"""This worker's beat in the shared store, and the site's other processes in its `/health`.

Every few seconds the worker writes how it is (its overall health and its active calls) to
the `processes` table and reads back every process of the site: the other workers and the
SIP front (written by `clinicline serve --workers N`'s supervisor). `/health` then shows the
whole site from any worker, without a request ever waiting on the store.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from clinicline.health import Health, State
from integrations.services import processes
from integrations.store import Database
from voice.worker import VoiceWorker

log = logging.getLogger(__name__)

INTERVAL = 5.0
COMPONENT = "site"


class SiteHeartbeat:
    def __init__(
        self,
        db: Database,
        health: Health,
        worker: VoiceWorker | None,
        name: str,
        sip_address: str | None = None,
    ) -> None:
        """`worker` None: an app process (consoles and routing, no calls), listed as "app"."""
        self._db = db
        self._health = health
        self._worker = worker
        self._name = name
        self._sip_address = sip_address  # announced to a front on another machine
        self._started = datetime.now(UTC)

    async def run(self) -> None:
        while True:
            await self.beat()
            await asyncio.sleep(INTERVAL)

    async def beat(self, state: str | None = None) -> None:
        now = datetime.now(UTC)
        try:
            async with self._db.session() as s:
                await processes.beat(
                    s, self._name, "worker" if self._worker else "app",
                    state or self._health.status, now=now, started_at=self._started,
                    active_calls=self._worker.active_calls if self._worker else 0,
                    sip_address=self._sip_address,
                )  # fmt: skip
                seen = await processes.site(s, now=now)
        except Exception as exc:  # the store is away: say so, beat again next time
            self._health.set(COMPONENT, State.DEGRADED, f"store unreachable ({type(exc).__name__})")
            return
        others = [p for p in seen if p.name != self._name]
        trouble = [p for p in others if p.state not in ("ready", "up")]
        detail = f"{len(seen)} processes" + (
            "; " + ", ".join(f"{p.role} {p.name} {p.state}" for p in trouble) if trouble else ""
        )
        self._health.set(
            COMPONENT, State.DEGRADED if trouble else State.UP, detail,
            processes=[p.to_json() for p in seen],
        )  # fmt: skip
