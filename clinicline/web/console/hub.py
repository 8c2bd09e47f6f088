"""`WebSocketHub`: routing's `ConsoleHub` over the agents' open console WebSockets.

Every screen-pop or transcript line that reaches a screen is a view of PHI, so each delivery
writes an audit event under the receiving agent's name. Messages for agents whose console is
open on another app process travel through `ConsoleBus` (PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiohttp import WSCloseCode, web

from clinicline.web.console.bus import ConsoleBus
from integrations.services.audit import record_access
from integrations.store import Database
from routing.cti import TranscriptLine
from routing.hub import FlagAlert, ScreenPop

log = logging.getLogger(__name__)
# How long routing waits for another process to show an offer before ringing the phone:
# the bus's round trip is milliseconds; an agent with no console open anywhere costs this.
OFFER_SHOWN_WAIT = 0.3


class WebSocketHub:
    """Open console sockets per agent; implements `routing.hub.ConsoleHub`.

    With a `ConsoleBus` (PostgreSQL), every message is also published for the other app
    processes, which hand it to the sockets they hold for the agent; each process audits
    what reached its own screens.
    """

    def __init__(self, db: Database, bus: ConsoleBus | None = None) -> None:
        self.db = db
        self.bus = bus
        # Routing's handler for answers given on another process's console (set by whoever
        # builds the coordinator).
        self.on_answer: Callable[[str, int, str], Awaitable[None]] | None = None
        # The worker's handler for a supervisor asking to listen to, whisper on or barge into
        # a call (call id, supervisor's agent id, mode); None in a process with no calls.
        self.on_monitor: Callable[[str, int, str], Awaitable[None]] | None = None
        # The worker's handler for the agent on a bridged call passing it to another queue
        # (call id, agent id, queue, note, a colleague first); None in a process with no calls.
        self.on_handoff: Callable[[str, int, str, str, int | None], Awaitable[None]] | None = None
        self._sockets: dict[int, dict[web.WebSocketResponse, str]] = defaultdict(dict)
        self._registered: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        # Per live call, forgotten when the call ends for the agent: whose patient it is
        # (for the audit rows of later messages), and whose screens got its transcript.
        self._transcript_audited: set[tuple[int, str]] = set()
        self._patients: dict[str, int | None] = {}
        # Offers sent over the bus, waiting for the word that a console showed them.
        self._awaiting_shown: dict[tuple[int, str], asyncio.Future[bool]] = {}

    async def forward_answer(self, agent_id: int, call_id: str, answer: str) -> bool:
        """An agent's Accept or Decline for a call another process routes: sent over the bus
        to whichever process holds the transfer. False when there is no bus."""
        if self.bus is None:
            return False
        body = {"type": "routing_answer", "call_id": call_id, "answer": answer}
        await self.bus.publish(agent_id, body)
        return True

    async def request_monitor(self, supervisor_id: int, call_id: str, mode: str) -> None:
        """A supervisor's listen / whisper / barge / stop for a live call."""
        await self._to_call_worker(
            supervisor_id, {"type": "monitor", "call_id": call_id, "mode": mode}
        )

    async def request_handoff(
        self, agent_id: int, call_id: str, queue: str, note: str, to_agent: int | None = None
    ) -> None:
        """The agent on a bridged call passes it to `queue` (to colleague `to_agent` first)."""
        body = {
            "type": "handoff", "call_id": call_id, "queue": queue, "note": note,
            "to_agent": to_agent,
        }  # fmt: skip
        await self._to_call_worker(agent_id, body)

    async def _to_call_worker(self, agent_id: int, body: dict[str, Any]) -> None:
        """To this process's worker, and over the bus to every other process: whichever
        bridges the call acts, the others ignore it."""
        await self.deliver(agent_id, body)
        if self.bus is not None:
            await self.bus.publish(agent_id, body)

    async def start(self) -> None:
        """Start receiving other app processes' messages (when there is a bus)."""
        if self.bus is not None:
            await self.bus.start(partial(self.deliver, from_bus=True))

    def register(self, agent_id: int, username: str, ws: web.WebSocketResponse) -> None:
        self._sockets[agent_id][ws] = username
        self._registered[agent_id].set()

    def unregister(self, agent_id: int, ws: web.WebSocketResponse) -> None:
        self._sockets[agent_id].pop(ws, None)
        if not self._sockets[agent_id]:
            del self._sockets[agent_id]
            self._registered[agent_id].clear()

    def agents_connected(self) -> list[int]:
        """The agents with a console socket open on this process."""
        return [agent_id for agent_id, sockets in self._sockets.items() if sockets]

    def connected(self, agent_id: int) -> bool:
        return bool(self._sockets.get(agent_id))

    async def wait_connected(self, agent_id: int, timeout: float = 5.0) -> None:
        """Until the agent has a console open (tests: push only once the page is listening)."""
        await asyncio.wait_for(self._registered[agent_id].wait(), timeout)

    async def _send(self, agent_id: int, message: dict[str, Any]) -> bool:
        """To the agent's sockets here and, through the bus, elsewhere; True when a socket
        here received it (what other processes delivered is not waited for)."""
        delivered = await self.deliver(agent_id, message)
        if self.bus is not None:
            try:
                await self.bus.publish(agent_id, message)
            except Exception:  # noqa: BLE001 - the call goes on; the agent's phone still rings
                log.exception("console message not published to other app processes")
        return delivered

    async def deliver(
        self, agent_id: int, message: dict[str, Any], *, from_bus: bool = False
    ) -> bool:
        """Hand `message` to the sockets this process holds for the agent, and audit the
        views of PHI it made. The bus calls this with other processes' messages."""
        if message.get("type") == "routing_answer":  # for routing, never for a screen
            if self.on_answer is not None:
                await self.on_answer(str(message["call_id"]), agent_id, str(message["answer"]))
            return False
        if message.get("type") == "monitor":  # for the worker bridging the call
            if self.on_monitor is not None:
                await self.on_monitor(str(message["call_id"]), agent_id, str(message["mode"]))
            return False
        if message.get("type") == "handoff":  # for the worker bridging the call
            if self.on_handoff is not None:
                colleague = message.get("to_agent")
                await self.on_handoff(
                    str(message["call_id"]), agent_id, str(message["queue"]),
                    str(message.get("note", "")), None if colleague is None else int(colleague),
                )  # fmt: skip
            return False
        if message.get("type") == "offer_shown":  # another process showed our offer
            waiter = self._awaiting_shown.get((agent_id, str(message["call_id"])))
            if waiter is not None and not waiter.done():
                waiter.set_result(True)
            return False
        received: list[str] = []
        for ws, username in list(self._sockets.get(agent_id, {}).items()):
            try:
                await ws.send_json(message)
                received.append(username)
            except (ConnectionError, RuntimeError):
                self.unregister(agent_id, ws)
        await self._audit(agent_id, received, message)
        if from_bus and received and message.get("type") == "offer" and self.bus is not None:
            # Whoever routes the call may be waiting for this before ringing her phone.
            shown = {"type": "offer_shown", "call_id": message["pop"]["call_id"]}
            await self.bus.publish(agent_id, shown)
        return bool(received)

    async def _audit(self, agent_id: int, received: list[str], message: dict[str, Any]) -> None:
        """A message that reached a screen is a view of PHI: one audit row, under the first
        receiving agent's name (one per agent and call for the live transcript)."""
        kind, call_id = message.get("type"), str(message.get("call_id", ""))
        if kind == "offer":
            pop = message["pop"]
            call_id = pop["call_id"]
            patient = pop["payload"].get("patient") or {}
            self._patients[call_id] = patient.get("id")
        elif kind in ("ended", "withdraw"):  # a new offer of the call sets it again
            self._patients.pop(call_id, None)
            self._transcript_audited.discard((agent_id, call_id))
        if not received:
            return
        if kind == "offer":
            action, detail = "screen_pop", {"queue": message["pop"]["queue"]}
        elif kind == "flag":
            action, detail = "red_flag_alert", {"level": message["alert"]["level"]}
        elif kind == "transcript" and (agent_id, call_id) not in self._transcript_audited:
            self._transcript_audited.add((agent_id, call_id))
            action, detail = "live_transcript", None
        else:
            return
        async with self.db.session() as s:
            await record_access(
                s, actor=received[0], action=action, patient_id=self._patients.get(call_id),
                call_id=call_id, detail=detail,
            )  # fmt: skip

    async def offer(self, agent_id: int, pop: ScreenPop) -> bool:
        """True once a console of the agent's shows the card. When none is open here, the
        process holding hers says so over the bus: waiting (briefly) for that word keeps the
        card ahead of her phone ringing, wherever her console is open."""
        message = {"type": "offer", "pop": pop.to_json()}
        if self.bus is None or self.connected(agent_id):
            return await self._send(agent_id, message)
        shown = asyncio.get_running_loop().create_future()
        key = (agent_id, pop.call_id)
        self._awaiting_shown[key] = shown
        try:
            await self._send(agent_id, message)
            return await asyncio.wait_for(shown, OFFER_SHOWN_WAIT)
        except TimeoutError:
            return False  # no console open anywhere (or the bus is slow): her phone rings
        finally:
            self._awaiting_shown.pop(key, None)

    async def withdraw(self, agent_id: int, call_id: str, reason: str) -> None:
        await self._send(agent_id, {"type": "withdraw", "call_id": call_id, "reason": reason})

    async def transcript_line(self, agent_id: int, call_id: str, line: TranscriptLine) -> None:
        await self._send(
            agent_id, {"type": "transcript", "call_id": call_id, "line": line.to_json()}
        )

    async def call_connected(self, agent_id: int, call_id: str) -> None:
        await self._send(agent_id, {"type": "connected", "call_id": call_id})

    async def call_ended(self, agent_id: int, call_id: str) -> None:
        await self._send(agent_id, {"type": "ended", "call_id": call_id})

    async def flag(self, agent_id: int, call_id: str, alert: FlagAlert) -> None:
        await self._send(agent_id, {"type": "flag", "call_id": call_id, "alert": alert.to_json()})

    async def notify(self, agent_id: int, message: dict[str, Any]) -> None:
        """A non-PHI message to the agent's consoles (presence changes, task updates)."""
        await self._send(agent_id, message)

    async def close_all(self, app: web.Application | None = None) -> None:
        """Close every socket (on shutdown: AppRunner.cleanup otherwise waits for them) and
        stop listening to the other app processes."""
        if self.bus is not None:
            await self.bus.stop()
        for agent_id in list(self._sockets):
            for ws in list(self._sockets.get(agent_id, {})):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        self._sockets.clear()
