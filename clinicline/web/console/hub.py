"""`WebSocketHub`: routing's `ConsoleHub` over the agents' open console WebSockets.

Every screen-pop or transcript line that reaches a screen is a view of PHI, so each delivery
writes an audit event under the receiving agent's name.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from aiohttp import WSCloseCode, web

from integrations.services.audit import record_access
from integrations.store import Database
from routing.cti import TranscriptLine
from routing.hub import FlagAlert, ScreenPop

log = logging.getLogger(__name__)


class WebSocketHub:
    """Open console sockets per agent; implements `routing.hub.ConsoleHub`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sockets: dict[int, dict[web.WebSocketResponse, str]] = defaultdict(dict)
        self._registered: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self._transcript_audited: set[tuple[int, str]] = set()
        self._patients: dict[str, int | None] = {}

    def register(self, agent_id: int, username: str, ws: web.WebSocketResponse) -> None:
        self._sockets[agent_id][ws] = username
        self._registered[agent_id].set()

    def unregister(self, agent_id: int, ws: web.WebSocketResponse) -> None:
        self._sockets[agent_id].pop(ws, None)
        if not self._sockets[agent_id]:
            del self._sockets[agent_id]
            self._registered[agent_id].clear()

    def connected(self, agent_id: int) -> bool:
        return bool(self._sockets.get(agent_id))

    async def wait_connected(self, agent_id: int, timeout: float = 5.0) -> None:
        """Until the agent has a console open (tests: push only once the page is listening)."""
        await asyncio.wait_for(self._registered[agent_id].wait(), timeout)

    async def _send(self, agent_id: int, message: dict[str, Any]) -> list[str]:
        """Send to each of the agent's sockets; the usernames of those that received it."""
        delivered: list[str] = []
        for ws, username in list(self._sockets.get(agent_id, {}).items()):
            try:
                await ws.send_json(message)
                delivered.append(username)
            except (ConnectionError, RuntimeError):
                self.unregister(agent_id, ws)
        return delivered

    async def offer(self, agent_id: int, pop: ScreenPop) -> bool:
        patient = pop.payload.patient
        patient_id = None if patient is None else patient.patient_id
        self._patients[pop.call_id] = patient_id
        delivered = await self._send(agent_id, {"type": "offer", "pop": pop.to_json()})
        await self._audit(delivered, "screen_pop", pop.call_id, {"queue": pop.queue})
        return bool(delivered)

    async def _audit(
        self, delivered: list[str], action: str, call_id: str, detail: dict[str, Any] | None = None
    ) -> None:
        """A delivery that reached a screen is a view of PHI: one audit row, under the
        first receiving agent's name."""
        if not delivered:
            return
        async with self.db.session() as s:
            await record_access(
                s,
                actor=delivered[0],
                action=action,
                patient_id=self._patients.get(call_id),
                call_id=call_id,
                detail=detail,
            )

    async def withdraw(self, agent_id: int, call_id: str, reason: str) -> None:
        await self._send(agent_id, {"type": "withdraw", "call_id": call_id, "reason": reason})

    async def transcript_line(self, agent_id: int, call_id: str, line: TranscriptLine) -> None:
        delivered = await self._send(
            agent_id, {"type": "transcript", "call_id": call_id, "line": line.to_json()}
        )
        # One audit row per agent and call for the live transcript, not one per line.
        if delivered and (agent_id, call_id) not in self._transcript_audited:
            self._transcript_audited.add((agent_id, call_id))
            await self._audit(delivered, "live_transcript", call_id)

    async def call_ended(self, agent_id: int, call_id: str) -> None:
        await self._send(agent_id, {"type": "ended", "call_id": call_id})

    async def flag(self, agent_id: int, call_id: str, alert: FlagAlert) -> None:
        delivered = await self._send(
            agent_id, {"type": "flag", "call_id": call_id, "alert": alert.to_json()}
        )
        await self._audit(delivered, "red_flag_alert", call_id, {"level": alert.level})

    async def notify(self, agent_id: int, message: dict[str, Any]) -> None:
        """A non-PHI message to the agent's consoles (presence changes, task updates)."""
        await self._send(agent_id, message)

    async def close_all(self, app: web.Application | None = None) -> None:
        """Close every socket (on shutdown: AppRunner.cleanup otherwise waits for them)."""
        for agent_id in list(self._sockets):
            for ws in list(self._sockets.get(agent_id, {})):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        self._sockets.clear()
