"""The transfer coordinator end to end on a real store: offer, answer, decline, fallbacks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import pytest

from integrations.services import calls
from integrations.services.agents import list_agents, presence_of, set_presence
from integrations.services.tasks import open_tasks
from integrations.store import Database
from routing.context import TransferRequest, request_from_store
from routing.cti import PatientContext, TranscriptLine, TriageContext
from routing.errors import UnknownTransfer
from routing.hours import BusinessHours
from routing.hub import ScreenPop
from routing.presence import as_utc
from routing.transfer import TransferCoordinator
from tests.routing.conftest import CLOSED_NOW, OPEN_NOW


@dataclass
class RecordingHub:
    """Stands in for the console: remembers what each agent's screen was sent."""

    offers: list[tuple[int, ScreenPop]] = field(default_factory=list)
    withdrawn: list[tuple[int, str, str]] = field(default_factory=list)
    lines: list[tuple[int, str, str]] = field(default_factory=list)
    ended: list[tuple[int, str]] = field(default_factory=list)
    connected: list[tuple[int, str]] = field(default_factory=list)

    async def offer(self, agent_id: int, pop: ScreenPop) -> bool:
        self.offers.append((agent_id, pop))
        return True

    async def withdraw(self, agent_id: int, call_id: str, reason: str) -> None:
        self.withdrawn.append((agent_id, call_id, reason))

    async def transcript_line(self, agent_id: int, call_id: str, line: TranscriptLine) -> None:
        self.lines.append((agent_id, call_id, line.text))

    async def call_connected(self, agent_id: int, call_id: str) -> None:
        self.connected.append((agent_id, call_id))

    async def call_ended(self, agent_id: int, call_id: str) -> None:
        self.ended.append((agent_id, call_id))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def setup(db: Database, now: datetime, *available: str) -> tuple[
    TransferCoordinator, RecordingHub, Clock, dict[str, int]
]:
    hub, clock = RecordingHub(), Clock(now)
    coordinator = TransferCoordinator(db, hub, hours=BusinessHours.default(), clock=clock)
    async with db.session() as s:
        ids = {a.username: a.agent_id for a in await list_agents(s)}
        for name in available:
            await set_presence(s, ids[name], "available")
        await calls.open_call(s, call_id="call-1", caller_number="+15550100001", started=now)
    return coordinator, hub, clock, ids


def request(emergent: bool = False, queue: str = "nurse") -> TransferRequest:
    level = "emergent" if emergent else "none"
    return TransferRequest(
        call_id="call-1",
        queue=queue,
        reason="caller asked for a nurse",
        emergent=emergent,
        caller_number="+15550100001",
        patient=PatientContext(1, "Maria Lopez", date(1972, 3, 4), True, ("name", "dob")),
        intent="report_symptom",
        triage=TriageContext(level, ("chest_pain",) if emergent else (), ()),
    )


async def test_open_hours_offer_goes_to_a_skilled_agent_with_token(clinic_db: Database) -> None:
    coordinator, hub, _, ids = await setup(clinic_db, OPEN_NOW, "nurse2", "billing1")
    plan = await coordinator.plan(request())
    assert plan.target == "agent" and plan.agent is not None
    assert plan.agent.agent_id == ids["nurse2"] and plan.sip_uri == plan.agent.sip_uri
    assert plan.token and await coordinator.tokens.resolve(plan.token) == plan.payload.to_json()
    [(agent_id, pop)] = hub.offers
    assert agent_id == ids["nurse2"] and pop.whisper.startswith("Verified patient Maria Lopez")


@dataclass
class RecordCheckingHub(RecordingHub):
    """A console that, like the real one, asks the server about the call the moment its pop
    lands: was the offer already in the call's record?"""

    db: Database | None = None
    on_record: list[bool] = field(default_factory=list)

    async def offer(self, agent_id: int, pop: ScreenPop) -> bool:
        assert self.db is not None
        async with self.db.session() as s:
            offered, waiting_for = await calls.offer_state(s, pop.call_id)
        self.on_record.append(agent_id in offered and waiting_for == agent_id)
        return await super().offer(agent_id, pop)


async def test_the_offer_is_on_record_before_the_pop_reaches_the_console(
    clinic_db: Database,
) -> None:
    coordinator, _, _, _ = await setup(clinic_db, OPEN_NOW, "nurse1", "nurse2")
    hub = RecordCheckingHub(db=clinic_db)
    coordinator.hub = hub
    first = await coordinator.plan(request(emergent=True))
    await coordinator.on_declined(first)  # the second offer, to the other nurse
    assert hub.on_record == [True, True]


async def test_answer_records_time_to_answer_and_marks_agent_busy(clinic_db: Database) -> None:
    coordinator, hub, clock, ids = await setup(clinic_db, OPEN_NOW, "nurse2")
    plan = await coordinator.plan(request())
    clock.now += timedelta(seconds=12)
    assert hub.connected == []  # offered and ringing: her card does not say connected yet
    await coordinator.on_answered(plan)
    assert hub.connected == [(ids["nurse2"], "call-1")]
    async with clinic_db.session() as s:
        report = await calls.call_report(s, "call-1")
        agents = {a.agent_id: a.presence for a in await list_agents(s)}
    answered = [e["data"] for e in report["events"] if e["kind"] == "transfer_answered"]
    assert answered[0]["seconds_to_answer"] == 12.0
    assert report["transferred"] and report["transfer_queue"] == "nurse"
    assert report["disposition"] == "transferred"
    assert report["screen_pop"]["schema_version"] == "1.1"
    assert agents[ids["nurse2"]] == "busy"


async def test_decline_moves_to_the_next_agent_and_withdraws_the_card(clinic_db: Database):
    coordinator, hub, _, ids = await setup(clinic_db, OPEN_NOW, "nurse1", "nurse2")
    first = await coordinator.plan(request())
    second = await coordinator.on_declined(first)
    assert second.agent is not None and first.agent is not None
    assert second.agent.agent_id != first.agent.agent_id and second.attempt == 2
    assert hub.withdrawn == [(first.agent.agent_id, "call-1", "declined")]
    assert await coordinator.presence.reserved_for(first.agent.agent_id, OPEN_NOW) is None


async def test_no_answer_marks_the_agent_away(clinic_db: Database) -> None:
    coordinator, _, _, ids = await setup(clinic_db, OPEN_NOW, "nurse2")
    plan = await coordinator.plan(request())
    await coordinator.on_no_answer(plan)
    async with clinic_db.session() as s:
        presence = {a.agent_id: a.presence for a in await list_agents(s)}
    assert presence[ids["nurse2"]] == "away"
    async with clinic_db.session() as s:
        assert (await presence_of(s, ids["nurse2"])).reason == "missed_offer"  # the board's why


async def test_emergent_call_with_nobody_free_rings_the_on_call_line(clinic_db: Database):
    coordinator, _, _, _ = await setup(clinic_db, OPEN_NOW)
    plan = await coordinator.plan(request(emergent=True))
    assert plan.target == "on_call" and plan.sip_uri == BusinessHours.default().on_call_uri
    async with clinic_db.session() as s:
        assert await open_tasks(s) == []  # never a callback for a flagged caller


async def test_emergent_call_after_all_agents_decline_still_rings_on_call(clinic_db: Database):
    coordinator, _, _, _ = await setup(clinic_db, OPEN_NOW, "nurse2")
    plan = await coordinator.plan(request(emergent=True))
    assert plan.target == "agent"
    assert (await coordinator.on_declined(plan)).target == "on_call"


async def test_routine_call_with_nobody_free_leaves_a_callback_task(clinic_db: Database) -> None:
    coordinator, _, _, _ = await setup(clinic_db, OPEN_NOW)
    plan = await coordinator.plan(request(queue="billing"))
    assert plan.target == "callback" and plan.task_id is not None
    async with clinic_db.session() as s:
        [task] = await open_tasks(s, "billing")
    assert task.kind == "callback" and task.call_id == "call-1"


async def test_after_hours_call_goes_to_the_on_call_line(clinic_db: Database) -> None:
    coordinator, _, _, _ = await setup(clinic_db, CLOSED_NOW, "billing1")
    plan = await coordinator.plan(request(queue="billing"))
    assert plan.queue == "on_call_nurse" and plan.target == "on_call"


async def test_abandoned_transfer_is_recorded(clinic_db: Database) -> None:
    coordinator, hub, clock, _ = await setup(clinic_db, OPEN_NOW, "nurse2")
    plan = await coordinator.plan(request())
    clock.now += timedelta(seconds=30)
    await coordinator.on_abandoned(plan)
    async with clinic_db.session() as s:
        report = await calls.call_report(s, "call-1")
    assert report["disposition"] == "abandoned"
    [event] = [e["data"] for e in report["events"] if e["kind"] == "transfer_abandoned"]
    assert event["seconds_waiting"] == 30.0
    assert plan.token is not None and await coordinator.tokens.resolve(plan.token) is None


async def test_call_end_puts_agent_in_wrap_up_and_restarts_idle_clock(clinic_db: Database):
    coordinator, hub, clock, ids = await setup(clinic_db, OPEN_NOW, "nurse2")
    plan = await coordinator.plan(request())
    await coordinator.on_answered(plan)
    await coordinator.transcript_line("call-1", TranscriptLine("caller", "hello", clock.now))
    clock.now += timedelta(minutes=5)
    await coordinator.on_call_ended(plan)
    assert hub.lines == [(ids["nurse2"], "call-1", "hello")]
    assert hub.ended == [(ids["nurse2"], "call-1")]
    assert await coordinator.presence.idle_since(ids["nurse2"]) == as_utc(clock.now)


async def test_console_accept_is_refused_for_an_agent_not_offered(clinic_db: Database) -> None:
    coordinator, _, _, ids = await setup(clinic_db, OPEN_NOW, "nurse2")
    await coordinator.plan(request())
    with pytest.raises(UnknownTransfer):
        await coordinator.accept("call-1", ids["nurse1"])


async def test_request_from_store_reads_flags_words_and_turns(clinic_db: Database) -> None:
    async with clinic_db.session() as s:
        await calls.open_call(s, call_id="c2", caller_number="+15550100001", started=OPEN_NOW)
        await calls.add_turn(
            s, call_id="c2", speaker="caller", text="my chest hurts", start=OPEN_NOW, end=OPEN_NOW
        )
        await calls.add_event(
            s, call_id="c2", kind="triage", data={"level": "emergent", "matched": ["chest hurts"]}
        )
        await calls.set_fields(s, "c2", triage_level="emergent", flags=["chest_pain"],
                               verified_patient_id=1)
        req = await request_from_store(s, "c2", queue="nurse", reason="red flag", emergent=True)
    assert req.triage.trigger_words == ("chest hurts",) and req.triage.flags == ("chest_pain",)
    assert req.patient is not None and req.patient.verified and req.patient.dob is not None
    assert [line.text for line in req.transcript] == ["my chest hurts"]
    assert req.flagged


async def test_a_transfer_cut_off_by_a_restart_leaves_an_urgent_nurse_callback(
    clinic_db: Database,
) -> None:
    coordinator, hub, _, ids = await setup(clinic_db, OPEN_NOW, "nurse2")
    plan = await coordinator.plan(request(emergent=True))
    await coordinator.on_interrupted(plan)
    async with clinic_db.session() as s:
        report = await calls.call_report(s, "call-1")
        [task] = [t for t in await open_tasks(s) if t.call_id == "call-1"]
    assert "transfer_interrupted" in [e["kind"] for e in report["events"]]
    assert task.kind == "nurse_callback" and task.queue == "nurse"
    assert task.note is not None and task.note.startswith("URGENT")
    assert hub.withdrawn == [(ids["nurse2"], "call-1", "call interrupted")]
    assert coordinator.pending("call-1") is None
    assert plan.token is not None and await coordinator.tokens.resolve(plan.token) is None


async def test_a_held_caller_gets_the_agent_who_frees_up_and_keeps_one_callback_task(
    clinic_db: Database,
) -> None:
    coordinator, hub, _, ids = await setup(clinic_db, OPEN_NOW)
    waiting = await coordinator.plan(request(queue="billing"))
    assert waiting.target == "callback" and waiting.task_id is not None
    assert await coordinator.retry_waiting(waiting) is None  # still nobody
    async with clinic_db.session() as s:
        await set_presence(s, ids["billing1"], "available")
    offer = await coordinator.retry_waiting(waiting)
    assert offer is not None and offer.target == "agent" and offer.task_id == waiting.task_id
    assert hub.offers and hub.offers[-1][0] == ids["billing1"]
    # The agent lets it ring out: back to waiting, with the same task, not a second one.
    again = await coordinator.on_no_answer(offer)
    assert again.target == "callback" and again.task_id == waiting.task_id
    async with clinic_db.session() as s:
        assert [t.task_id for t in await open_tasks(s) if t.call_id == "call-1"] == [
            waiting.task_id
        ]
    async with clinic_db.session() as s:
        await set_presence(s, ids["billing1"], "available")
    offer = await coordinator.retry_waiting(again)
    assert offer is not None
    await coordinator.on_answered(offer)
    async with clinic_db.session() as s:
        assert not [t for t in await open_tasks(s) if t.call_id == "call-1"]


async def test_held_callers_are_served_first_come_first_served(clinic_db: Database) -> None:
    coordinator, _, clock, ids = await setup(clinic_db, OPEN_NOW)
    async with clinic_db.session() as s:
        await calls.open_call(s, call_id="call-2", caller_number="+15550100002", started=OPEN_NOW)
    first = await coordinator.plan(request(queue="billing"))
    clock.now += timedelta(seconds=20)
    second = await coordinator.plan(replace(request(queue="billing"), call_id="call-2"))
    assert await coordinator.start_holding(first) == 1
    assert await coordinator.start_holding(second) == 2
    async with clinic_db.session() as s:
        await set_presence(s, ids["billing1"], "available")
    # The one free agent goes to whoever has held longest, even if the other asks first.
    assert await coordinator.retry_waiting(second) is None
    offer = await coordinator.retry_waiting(first)
    assert offer is not None and offer.call_id == "call-1"
    # An offer that rings out sends them back to the line with their place kept.
    back = await coordinator.on_no_answer(offer)
    assert await coordinator.start_holding(back) == 1
    assert await coordinator.place_in_line("call-2") == 2
    await coordinator.stop_holding("call-1")
    assert await coordinator.place_in_line("call-2") == 1
