"""`TransferCoordinator`: from the dialog's transfer decision to a ringing agent, and onward.

It picks the queue for the hour, picks and reserves the longest-idle agent, builds the CTI
payload, pops it on the agent's console, fires webhooks and issues the context token, then
hands a `TransferPlan` to the SIP layer, which reports back answered / declined / no answer.
A flagged caller never ends in a callback: with nobody free they go to the on-call line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from integrations.services import agents as agent_service
from integrations.services import calls, hold_line, tasks
from integrations.services.agents import AgentInfo
from integrations.store import Database
from routing.context import TransferRequest
from routing.cti import CtiPayload, TranscriptLine, TriageContext, summary_sentence
from routing.errors import RoutingError, UnknownTransfer
from routing.hours import BusinessHours
from routing.hub import ConsoleHub, FlagAlert, ScreenPop
from routing.presence import Presence
from routing.selection import pick_agent
from routing.tokens import ContextTokens
from routing.webhooks import WebhookSender

Target = Literal["agent", "on_call", "callback"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferPlan:
    """Where the SIP layer should send the caller now; `token` goes in X-Clinicline-Context."""

    call_id: str
    target: Target
    queue: str
    agent: AgentInfo | None
    sip_uri: str | None
    token: str | None
    payload: CtiPayload
    whisper: str
    attempt: int = 1
    tried: frozenset[int] = frozenset()
    task_id: int | None = None  # the callback task, when target == "callback"
    offered_at: datetime = field(default_factory=lambda: datetime.now(UTC))


PlanListener = Callable[[str, TransferPlan], Awaitable[None]]


class TransferCoordinator:
    """One per server; the voice worker calls `plan()` and the `on_*` hooks."""

    def __init__(
        self,
        db: Database,
        hub: ConsoleHub,
        *,
        hours: BusinessHours,
        presence: Presence | None = None,
        tokens: ContextTokens | None = None,
        webhooks: WebhookSender | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not hours.on_call_uri:
            raise RoutingError("business hours need on_call.sip_uri: emergent calls must ring")
        self.db = db
        self.hub = hub
        self.hours = hours
        self.presence = presence or Presence(db)
        self.tokens = tokens or ContextTokens(db)
        self.webhooks = webhooks
        self._clock = clock
        self._pending: dict[str, TransferPlan] = {}
        self._connected: dict[str, TransferPlan] = {}
        self._listeners: list[PlanListener] = []
        self._background: set[asyncio.Task[None]] = set()

    # -- queries used by the console -------------------------------------------------------
    def pending(self, call_id: str) -> TransferPlan | None:
        return self._pending.get(call_id)

    def connected(self, call_id: str) -> TransferPlan | None:
        return self._connected.get(call_id)

    def add_listener(self, listener: PlanListener) -> None:
        """Called with ("accepted" | "replanned", plan) when the console changes a transfer."""
        self._listeners.append(listener)

    # -- the SIP layer's calls ---------------------------------------------------------------
    async def plan(self, request: TransferRequest) -> TransferPlan:
        now = self._clock()
        queue = self.hours.route_queue(request.queue, now)
        payload = CtiPayload(
            call_id=request.call_id,
            caller_number=request.caller_number,
            patient=request.patient,
            intent=request.intent,
            reason=request.reason,
            triage=request.triage,
            queue=queue,
            summary="",
            transcript=request.transcript,
            slots=request.slots,
            call_started=request.call_started or now,
            transfer_requested=now,
            emergent=request.emergent,
        )
        whisper = summary_sentence(payload)
        payload = replace(payload, summary=whisper)
        return await self._next(
            request.flagged, payload, whisper, frozenset(), attempt=1, prefer=request.prefer_agent
        )

    async def on_answered(self, plan: TransferPlan, at: datetime | None = None) -> None:
        """The agent (or on-call line) took the call: record time to answer, mark them busy."""
        at = at or self._clock()
        self._pending.pop(plan.call_id, None)
        await self.stop_holding(plan.call_id)
        self._connected[plan.call_id] = plan
        seconds = (at - plan.payload.transfer_requested).total_seconds()
        disposition = "emergency_transferred" if plan.payload.emergent else "transferred"
        async with self.db.session() as s:
            await calls.add_event(
                s,
                call_id=plan.call_id,
                kind="transfer_answered",
                data={**self._event_data(plan), "seconds_to_answer": round(seconds, 3)},
            )
            await calls.set_fields(
                s,
                plan.call_id,
                transferred=True,
                transfer_queue=plan.queue,
                screen_pop=plan.payload.to_json(),
                disposition=disposition,
            )
            if plan.agent is not None:
                await agent_service.set_presence(s, plan.agent.agent_id, "busy")
            if plan.task_id is not None:  # they held rather than wait for the callback
                await tasks.complete_task(
                    s, plan.task_id, note="Caller held and reached the team; no callback needed."
                )
        if plan.agent is not None:
            await self.hub.call_connected(plan.agent.agent_id, plan.call_id)
        self._fire("transfer.answered", plan)

    async def on_declined(self, plan: TransferPlan, at: datetime | None = None) -> TransferPlan:
        return await self._move_on(plan, "transfer_declined", away=False)

    async def on_no_answer(self, plan: TransferPlan, at: datetime | None = None) -> TransferPlan:
        # An agent who lets a transfer ring out is marked away, so the next call skips them.
        return await self._move_on(plan, "transfer_no_answer", away=True)

    async def start_holding(self, plan: TransferPlan) -> int:
        """A routine caller chose to hold; returns their place in line (1 = next).

        Callers keep the place they first took, also when an offer to an agent fails and
        they go back to holding. The line is in the store: one line across every worker.
        """
        now = self._clock()
        async with self.db.session() as s:
            await hold_line.join(s, plan.call_id, plan.queue, now=now)
            return await hold_line.place(s, plan.call_id, now=now) or 1

    async def stop_holding(self, call_id: str) -> None:
        """The caller left the line for good (answered, hung up, took the callback)."""
        async with self.db.session() as s:
            await hold_line.leave(s, call_id)

    async def place_in_line(self, call_id: str) -> int | None:
        """Their place (1 = next), or None for a caller not holding."""
        async with self.db.session() as s:
            return await hold_line.place(s, call_id, now=self._clock())

    async def retry_waiting(self, plan: TransferPlan) -> TransferPlan | None:
        """A caller holding for the next free person: an agent plan if someone is free now
        and nobody has held longer, else None (their callback task stands, so hanging up
        loses nothing)."""
        place = await self.place_in_line(plan.call_id)
        if place is not None and place > 1:
            return None  # first come, first served
        now = self._clock()
        async with self.db.session() as s:
            # Everyone is eligible again: whoever declined a while ago may be free now.
            agent = await pick_agent(
                s, plan.queue, exclude=set(), now=now, reserve_for=plan.call_id,
                lease=self.presence.lease,
            )  # fmt: skip
        if agent is None:
            return None
        return await self._offer(
            agent, plan.payload, plan.whisper, plan.tried, plan.attempt + 1, now, plan.task_id
        )

    async def on_abandoned(self, plan: TransferPlan, at: datetime | None = None) -> None:
        """The caller hung up before anyone answered."""
        at = at or self._clock()
        await self._drop_offer(plan, "caller hung up")
        self._pending.pop(plan.call_id, None)
        await self.stop_holding(plan.call_id)
        await self.tokens.revoke_call(plan.call_id)
        waited = (at - plan.payload.transfer_requested).total_seconds()
        async with self.db.session() as s:
            await calls.add_event(
                s,
                call_id=plan.call_id,
                kind="transfer_abandoned",
                data={**self._event_data(plan), "seconds_waiting": round(waited, 3)},
            )
            await calls.set_fields(s, plan.call_id, disposition="abandoned")
        self._fire("transfer.abandoned", plan)

    async def on_interrupted(self, plan: TransferPlan, at: datetime | None = None) -> None:
        """The server is stopping with this caller mid-transfer: withdraw the offer and leave
        a callback task (urgent wording for a flagged caller) unless one is already open."""
        at = at or self._clock()
        await self._drop_offer(plan, "call interrupted")
        self._pending.pop(plan.call_id, None)
        await self.stop_holding(plan.call_id)
        self._connected.pop(plan.call_id, None)
        await self.tokens.revoke_call(plan.call_id)
        payload = plan.payload
        flagged = payload.emergent or payload.triage.level != "none"
        async with self.db.session() as s:
            await calls.add_event(
                s, call_id=plan.call_id, kind="transfer_interrupted", data=self._event_data(plan)
            )
            if plan.task_id is None:
                patient_id = None if payload.patient is None else payload.patient.patient_id
                note = (
                    "URGENT: red-flag caller cut off mid-transfer (system restart). Call back now."
                    if flagged
                    else f"Caller cut off mid-transfer (system restart): {payload.reason}"
                )
                await tasks.create_task(
                    s,
                    kind="nurse_callback" if flagged or payload.queue == "nurse" else "callback",
                    queue="nurse" if flagged else payload.queue,
                    patient_id=patient_id,
                    call_id=plan.call_id,
                    note=note[:500],
                )
        self._fire("transfer.interrupted", plan)

    async def on_escalated(self, plan: TransferPlan) -> None:
        """A red flag turned this transfer into another one (the emergent transfer, or the
        nurse queue for an urgent flag): this offer is withdrawn and its reservation freed;
        the new transfer plans afresh. A held caller's callback task stays open."""
        await self._drop_offer(plan, "red flag: moved to the nurse line")
        self._pending.pop(plan.call_id, None)
        await self.stop_holding(plan.call_id)
        await self.tokens.revoke_call(plan.call_id)
        async with self.db.session() as s:
            await calls.add_event(
                s, call_id=plan.call_id, kind="transfer_escalated", data=self._event_data(plan)
            )
        self._fire("transfer.escalated", plan)

    async def escalate_in_place(
        self, plan: TransferPlan, alert: FlagAlert, *, emergent: bool
    ) -> TransferPlan:
        """A red flag while a nurse (or the on-call line) is already on the consult leg: keep
        her and tell her. The payload takes the new level and flags, her console card is
        replaced by the emergent one, and the returned plan's whisper says what changed."""
        old = plan.payload.triage
        triage = TriageContext(
            level=alert.level,
            flags=tuple(dict.fromkeys([*old.flags, *alert.flags])),
            trigger_words=tuple(dict.fromkeys([*old.trigger_words, *alert.trigger_words])),
            flagged_at=old.flagged_at or datetime.fromisoformat(alert.at),
        )
        payload = replace(plan.payload, triage=triage, emergent=plan.payload.emergent or emergent)
        whisper = "Update. " + summary_sentence(payload)
        payload = replace(payload, summary=whisper)
        new = replace(plan, payload=payload, whisper=whisper)
        if plan.call_id in self._pending:
            self._pending[plan.call_id] = new
        if new.agent is not None:
            pop = ScreenPop(new.call_id, payload, whisper, new.queue, payload.emergent)
            await self.hub.offer(new.agent.agent_id, pop)
        async with self.db.session() as s:
            await calls.add_event(
                s,
                call_id=plan.call_id,
                kind="transfer_escalated",
                data={**self._event_data(new), "in_place": True},
            )
        self._fire("transfer.escalated", new)
        return new

    async def flag_on_call(self, plan: TransferPlan, alert: FlagAlert) -> None:
        """A red flag said on a bridged call: the person on the line sees it on her console
        now (the bot stays quiet: she is talking with the caller)."""
        if plan.agent is not None:
            await self.hub.flag(plan.agent.agent_id, plan.call_id, alert)
        async with self.db.session() as s:
            await calls.add_event(
                s,
                call_id=plan.call_id,
                kind="flag_on_call",
                data={**self._event_data(plan), "level": alert.level, "flags": list(alert.flags)},
            )
        self._fire("call.flagged", plan)

    async def on_handed_off(self, plan: TransferPlan) -> None:
        """The caller was handed to the agent's phone (REFER): we no longer see the call.

        The agent stays busy until they change their presence; their context token stays
        valid (until it expires) so the console can still show the caller.
        """
        self._connected.pop(plan.call_id, None)

    async def on_call_ended(self, plan: TransferPlan, at: datetime | None = None) -> None:
        """The bridged call ended: the agent goes to wrap-up and their idle clock restarts."""
        at = at or self._clock()
        self._connected.pop(plan.call_id, None)
        await self.tokens.revoke_call(plan.call_id)
        if plan.agent is None:
            return
        await self.presence.call_ended(plan.agent.agent_id, at)
        async with self.db.session() as s:
            await agent_service.set_presence(s, plan.agent.agent_id, "wrap_up")
        await self.hub.call_ended(plan.agent.agent_id, plan.call_id)

    async def transcript_line(self, call_id: str, line: TranscriptLine) -> None:
        """Forward a live transcript line to the agent the call is offered or connected to."""
        plan = self._pending.get(call_id) or self._connected.get(call_id)
        if plan is not None and plan.agent is not None:
            await self.hub.transcript_line(plan.agent.agent_id, call_id, line)

    # -- the console's calls -----------------------------------------------------------------
    async def accept(self, call_id: str, agent_id: int) -> TransferPlan:
        plan = self._plan_for(call_id, agent_id)
        for listener in self._listeners:
            await listener("accepted", plan)
        return plan

    async def decline(self, call_id: str, agent_id: int) -> TransferPlan:
        nxt = await self.on_declined(self._plan_for(call_id, agent_id))
        for listener in self._listeners:
            await listener("replanned", nxt)
        return nxt

    async def answer_from_elsewhere(self, call_id: str, agent_id: int, answer: str) -> None:
        """An Accept or Decline the agent gave on another app process's console: acted on
        here if this process holds that transfer and it still waits for her, else ignored."""
        if call_id not in self._pending:
            return
        try:
            if answer == "accepted":
                await self.accept(call_id, agent_id)
            elif answer == "declined":
                await self.decline(call_id, agent_id)
        except UnknownTransfer:
            log.info("console answer arrived for an offer that had moved on")

    async def aclose(self) -> None:
        """Wait for webhook deliveries still in flight (call on shutdown)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- internals ---------------------------------------------------------------------------
    def _plan_for(self, call_id: str, agent_id: int) -> TransferPlan:
        plan = self._pending.get(call_id)
        if plan is None or plan.agent is None or plan.agent.agent_id != agent_id:
            raise UnknownTransfer(f"no transfer of call {call_id!r} is waiting for this agent")
        return plan

    async def _move_on(self, plan: TransferPlan, kind: str, *, away: bool) -> TransferPlan:
        await self._drop_offer(plan, kind.removeprefix("transfer_").replace("_", " "))
        async with self.db.session() as s:
            await calls.add_event(s, call_id=plan.call_id, kind=kind, data=self._event_data(plan))
            if away and plan.agent is not None:
                # Rang out unanswered: away, and the boards say why.
                await agent_service.set_presence(
                    s, plan.agent.agent_id, "away", reason="missed_offer"
                )
        tried = plan.tried | ({plan.agent.agent_id} if plan.agent else set())
        flagged = plan.payload.emergent or plan.payload.triage.level != "none"
        return await self._next(
            flagged, plan.payload, plan.whisper, tried, plan.attempt + 1, plan.task_id
        )

    async def _drop_offer(self, plan: TransferPlan, reason: str) -> None:
        if plan.agent is not None:
            await self.presence.release(plan.agent.agent_id, plan.call_id)
            await self.hub.withdraw(plan.agent.agent_id, plan.call_id, reason)

    async def _next(
        self,
        flagged: bool,
        payload: CtiPayload,
        whisper: str,
        tried: frozenset[int],
        attempt: int,
        task_id: int | None = None,
        prefer: int | None = None,
    ) -> TransferPlan:
        now = self._clock()
        call_id, queue = payload.call_id, payload.queue
        async with self.db.session() as s:
            agent = await pick_agent(
                s, queue, exclude=set(tried), now=now, reserve_for=call_id,
                lease=self.presence.lease, prefer=prefer,
            )  # fmt: skip
        if agent is not None:
            return await self._offer(agent, payload, whisper, tried, attempt, now, task_id)
        if flagged or queue == self.hours.on_call_queue:
            token = await self.tokens.issue(call_id, payload.to_json())
            plan = TransferPlan(
                call_id=call_id, target="on_call", queue=queue, agent=None,
                sip_uri=self.hours.on_call_uri, token=token,
                payload=payload, whisper=whisper, attempt=attempt, tried=tried, offered_at=now,
            )
            self._pending[call_id] = plan
        else:
            plan = await self._callback(payload, whisper, tried, attempt, now, task_id)
            self._pending.pop(call_id, None)
        await self._offered_event(plan)
        return plan

    async def _offer(
        self,
        agent: AgentInfo,
        payload: CtiPayload,
        whisper: str,
        tried: frozenset[int],
        attempt: int,
        now: datetime,
        task_id: int | None,
    ) -> TransferPlan:
        """Offer the call to `agent`: a context token, the offer in the call's record, then
        the pop on their console (recorded first: the console asks for the patient panel as
        soon as the pop lands, and the server grants it only to agents the record names)."""
        call_id = payload.call_id
        plan = TransferPlan(
            call_id=call_id, target="agent", queue=payload.queue, agent=agent,
            sip_uri=agent.sip_uri, token=await self.tokens.issue(call_id, payload.to_json()),
            payload=payload, whisper=whisper, attempt=attempt, tried=tried, task_id=task_id,
            offered_at=now,
        )
        self._pending[call_id] = plan
        await self._offered_event(plan)
        pop = ScreenPop(call_id, payload, whisper, payload.queue, payload.emergent)
        if not await self.hub.offer(agent.agent_id, pop):
            log.info("agent has no console open", extra={"call_id": call_id})
        return plan

    async def _offered_event(self, plan: TransferPlan) -> None:
        async with self.db.session() as s:
            await calls.add_event(
                s, call_id=plan.call_id, kind="transfer_offered", data=self._event_data(plan)
            )
        self._fire("transfer.offered", plan)

    async def _callback(
        self,
        payload: CtiPayload,
        whisper: str,
        tried: frozenset[int],
        attempt: int,
        now: datetime,
        task_id: int | None,
    ) -> TransferPlan:
        """Nobody is free for a routine caller: a callback task (one per call, reused when
        a held caller comes round again), whatever the caller then chooses."""
        if task_id is None:
            patient_id = None if payload.patient is None else payload.patient.patient_id
            kind = "nurse_callback" if payload.queue == "nurse" else "callback"
            async with self.db.session() as s:
                task_id = await tasks.create_task(
                    s, kind=kind, queue=payload.queue, patient_id=patient_id,
                    call_id=payload.call_id, note=f"Callback requested: {payload.reason}"[:500],
                )
        return TransferPlan(
            call_id=payload.call_id, target="callback", queue=payload.queue, agent=None,
            sip_uri=None, token=None, payload=payload, whisper=whisper, attempt=attempt,
            tried=tried, task_id=task_id, offered_at=now,
        )

    @staticmethod
    def _event_data(plan: TransferPlan) -> dict[str, object]:
        # No PHI here beyond ids: events are encrypted, but they also feed metrics.
        return {
            "target": plan.target,
            "queue": plan.queue,
            "agent_id": None if plan.agent is None else plan.agent.agent_id,
            "attempt": plan.attempt,
            "emergent": plan.payload.emergent,
        }

    def _fire(self, event: str, plan: TransferPlan) -> None:
        if self.webhooks is None or not self.webhooks.urls:
            return
        data = {
            **self._event_data(plan),
            "call_id": plan.call_id,
            "payload": plan.payload.to_json(),
        }
        task = asyncio.create_task(self._send(event, data))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send(self, event: str, data: dict[str, object]) -> None:
        assert self.webhooks is not None
        await self.webhooks.send(event, dict(data))
