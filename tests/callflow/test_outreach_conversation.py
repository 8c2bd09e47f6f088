"""The campaign call's conversation on a real SQLite store, turn by turn (no SIP: the calls
themselves are in test_campaign_calls.py). No Rasa is asked anything here: the dialog stand-in
fails the test if it is."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from clinicline.callflow.recorder import StoreRecorder
from clinicline.outbound.conversation import (
    ClinicLine,
    Outreach,
    OutreachConversation,
    VoicemailConversation,
)
from integrations.ehr.desk import AppointmentDesk
from integrations.errors import EhrUnavailable
from integrations.services.absences import Absence
from integrations.services.call_report import call_report
from integrations.services.tasks import open_tasks
from integrations.store import Database
from integrations.store.models import Appointment, DoNotCall, Patient, Slot
from nlu.outreach import CallLater
from nlu.triage import TriageEngine
from voice.session.actions import Action, CallerTurn, CallInfo, CallOutcome, Hangup, Say, Transfer

LINE = ClinicLine("Riverside Family Clinic", "555-0100")


class NoDialogStandIn:
    """Stands in for Rasa, which a campaign call must never reach."""

    available = True

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[Any]:
        raise AssertionError(f"the outreach dialog asked Rasa: {text!r}")


class DownEhrStandIn:
    """Stands in for an EHR that is down (the desk's EHR path)."""

    async def cancel(self, **_: Any) -> None:
        raise EhrUnavailable("connection refused")

    async def before_slots(self, *_: Any) -> bool:
        raise EhrUnavailable("connection refused")


async def _maria(db: Database) -> tuple[int, int]:
    async with db.session() as s:
        patient = await s.scalar(select(Patient).where(Patient.mrn == "DEMO0001"))
        assert patient is not None
        appointment = await s.scalar(
            select(Appointment).where(
                Appointment.patient_id == patient.id, Appointment.status == "booked"
            )
        )
        assert appointment is not None
        return patient.id, appointment.id


def _call() -> CallInfo:
    now = datetime.now(UTC)
    return CallInfo(f"out-{now.timestamp()}", "+15550100001", now, direction="outbound")


async def _outreach(
    db: Database, recorder: StoreRecorder, kind: str = "reminder", ehr: Any = None
) -> tuple[OutreachConversation, CallInfo]:
    patient_id, appointment_id = await _maria(db)
    outreach = Outreach(
        kind, patient_id, appointment_id if kind in ("reminder", "provider_out") else None,
        "+15550100001", "Maria",
    )  # fmt: skip
    dialog = NoDialogStandIn()
    conversation = OutreachConversation(
        outreach=outreach, line=LINE, desk=AppointmentDesk(db, ehr),
        triage=TriageEngine.default(), dialog=dialog, gate=dialog, db=db, recorder=recorder,
    )  # fmt: skip
    call = _call()
    recorder.open(call)
    return conversation, call


def _said(actions: Any) -> str:
    return " ".join(a.text for a in actions if isinstance(a, Say))


async def _verified(conversation: OutreachConversation, call: CallInfo) -> str:
    opening = _said(await conversation.start(call))
    assert "Maria" not in opening and "appointment" not in opening
    asked = _said(await conversation.respond(call, CallerTurn(text="Maria Lopez")))
    assert "date of birth" in asked and "appointment" not in asked
    return _said(await conversation.respond(call, CallerTurn(text="March 4th, 1972")))


async def _report(recorder: StoreRecorder, db: Database, call: CallInfo) -> dict[str, Any]:
    await recorder.flush()
    async with db.session() as s:
        return await call_report(s, call.call_id)


async def test_a_reminder_confirmed_by_keypad(db: Database, recorder: StoreRecorder) -> None:
    conversation, call = await _outreach(db, recorder)
    purpose = await _verified(conversation, call)
    assert "reminder of your appointment with Dr." in purpose and "press 1" in purpose
    actions = await conversation.respond(call, CallerTurn(digits="1"))
    assert "confirmed" in _said(actions) and isinstance(actions[-1], Hangup)
    assert conversation.outcome == "confirmed"
    report = await _report(recorder, db, call)
    assert report["verified"] and report["disposition"] == "appointment_confirmed"
    assert report["direction"] == "outbound"


async def test_a_move_picked_by_key_two(db: Database, recorder: StoreRecorder) -> None:
    conversation, call = await _outreach(db, recorder)
    await _verified(conversation, call)
    offered = _said(await conversation.respond(call, CallerTurn(text="I need to reschedule")))
    assert offered.startswith("I can offer") and " or " in offered
    second = conversation.out.offers[1]
    done = _said(await conversation.respond(call, CallerTurn(digits="2")))
    assert done.startswith("Done.") and conversation.outcome == "rescheduled"
    async with db.session() as s:
        moved = await s.scalar(select(Appointment).where(Appointment.slot_id == second.slot_id))
    assert moved is not None and moved.status == "booked"


async def test_the_recogniser_is_given_the_words_each_question_offers(
    db: Database, recorder: StoreRecorder
) -> None:
    """CI64: "I need to reschedule it." came out "I need to rescue it." with no hint."""
    conversation, call = await _outreach(db, recorder)
    await conversation.start(call)
    assert "reschedule" not in conversation.hints(call)  # her name is asked: no choice words
    await _verified(conversation, call)
    assert list(conversation.hints(call)) == ["confirm", "cancel", "reschedule"]
    await conversation.respond(call, CallerTurn(text="I need to reschedule"))
    assert list(conversation.hints(call)) == ["the first one", "the second one"]


async def test_two_failed_identity_checks_end_the_call_saying_nothing_about_her(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _outreach(db, recorder)
    heard = _said(await conversation.start(call))
    for name, born in (("Mario Lopes", "May 5th, 1980"), ("I don't know", "no idea")):
        heard += _said(await conversation.respond(call, CallerTurn(text=name)))
        actions = await conversation.respond(call, CallerTurn(text=born))
        heard += _said(actions)
    assert isinstance(actions[-1], Hangup) and conversation.outcome == "not_verified"
    for secret in ("Maria", "appointment", "Dr.", "results"):
        assert secret not in heard
    assert (await _report(recorder, db, call))["verified"] is False


async def test_stop_calling_me_before_verification_joins_the_do_not_call_list(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _outreach(db, recorder)
    await conversation.start(call)
    actions = await conversation.respond(call, CallerTurn(text="take me off your list"))
    assert "won't call this number again" in _said(actions) and isinstance(actions[-1], Hangup)
    assert conversation.outcome == "opted_out"
    async with db.session() as s:
        entry = await s.scalar(select(DoNotCall))
    assert entry is not None and entry.reason == "opt_out" and entry.number_index


async def test_provider_out_cannot_be_confirmed(db: Database, recorder: StoreRecorder) -> None:
    conversation, call = await _outreach(db, recorder, "provider_out")
    purpose = await _verified(conversation, call)
    assert "is not able to see patients" in purpose and "press 1" not in purpose
    again = _said(await conversation.respond(call, CallerTurn(digits="1")))
    assert again.startswith("Sorry, I didn't catch that")
    assert conversation.outcome == "reached"


async def test_provider_out_offers_only_times_after_her_days_out_and_blocks_the_freed_slot(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _outreach(db, recorder, "provider_out")
    async with db.session() as s:
        appointment = await s.get(Appointment, conversation.outreach.appointment_id)
        assert appointment is not None
        # Out from today to two days past the visit: her next free times (the ones offered
        # without an absence) all fall inside it.
        out = Absence(
            appointment.provider_id, date.today(), appointment.start.date() + timedelta(days=2)
        )
        old_slot = appointment.slot_id
    await AppointmentDesk(db).declare_out(out, actor="super1")
    await _verified(conversation, call)
    offered = _said(await conversation.respond(call, CallerTurn(digits="3")))
    assert offered.startswith("I can offer"), offered
    assert conversation.out.offers and all(
        o.start.date() > out.last_day for o in conversation.out.offers
    ), conversation.out.offers
    done = _said(await conversation.respond(call, CallerTurn(digits="1")))
    assert done.startswith("Done.") and conversation.outcome == "rescheduled"
    async with db.session() as s:
        freed = await s.get(Slot, old_slot)
    assert freed is not None and freed.status == "blocked"  # she is still out that day


async def test_results_are_never_read_and_a_nurse_call_back_is_a_task(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _outreach(db, recorder, "results_ready")
    purpose = await _verified(conversation, call)
    assert "results are ready" in purpose and "not given by this automated call" in purpose
    actions = await conversation.respond(call, CallerTurn(text="please have a nurse call me back"))
    assert isinstance(actions[-1], Hangup)
    async with db.session() as s:
        tasks = await open_tasks(s, "nurse")
    assert [t.call_id for t in tasks if t.call_id == call.call_id] == [call.call_id]


async def test_a_worrying_check_in_answer_leaves_a_nurse_callback(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _outreach(db, recorder, "post_discharge")
    assert "since you left the hospital" in await _verified(conversation, call)
    await conversation.respond(call, CallerTurn(text="yes, better"))
    await conversation.respond(call, CallerTurn(text="no, I ran out of them"))
    actions = await conversation.respond(call, CallerTurn(text="no"))
    assert "A nurse will call you back today" in _said(actions)
    async with db.session() as s:
        tasks = await open_tasks(s, "nurse")
    assert any(t.call_id == call.call_id for t in tasks)


async def test_a_red_flag_on_a_campaign_call_is_the_inbound_emergency_path(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _outreach(db, recorder, "post_discharge")
    await conversation.start(call)
    actions: list[Action] = list(
        conversation.screen(call, "my husband collapsed and he is not breathing", True)
    )
    assert any(isinstance(a, Transfer) and a.emergent and a.queue == "nurse" for a in actions)
    assert conversation.outcome == "escalated"


async def test_stop_calling_me_with_an_urgent_symptom_is_honoured_and_offers_the_nurse_first(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _outreach(db, recorder)
    await conversation.start(call)
    said = "stop calling me, I have had a fever of 103 for three days"
    assert list(conversation.screen(call, said, True)) == []  # urgent: answered in respond
    offered = _said(await conversation.respond(call, CallerTurn(text=said)))
    assert "connect you with a nurse now" in offered, offered  # not a hang-up
    assert conversation.opted_out and conversation.outcome is None
    async with db.session() as s:
        entry = await s.scalar(select(DoNotCall))
    assert entry is not None and entry.reason == "opt_out"
    actions = await conversation.respond(call, CallerTurn(text="yes please"))
    assert any(isinstance(a, Transfer) and a.queue == "nurse" for a in actions)


async def test_call_me_after_six_ends_the_call_saying_when_and_nothing_about_her(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _outreach(db, recorder)
    opening = _said(await conversation.start(call))
    actions = await conversation.respond(
        call, CallerTurn(text="I'm driving, can you call me back after 6")
    )
    said = _said(actions)
    assert said.startswith("Of course. We'll call you back after 6 PM."), said
    assert "keep to those hours" in said and isinstance(actions[-1], Hangup)
    for secret in ("Maria", "appointment", "Dr."):
        assert secret not in opening + said
    assert conversation.call_later == CallLater(time(18), None)
    assert conversation.outcome is None  # called again: the dialer settles it as call_later
    assert (await _report(recorder, db, call))["disposition"] == "call_later"


async def test_not_a_good_time_is_asked_when_and_the_answer_kept(
    db: Database, recorder: StoreRecorder
) -> None:
    """A pause can split "I'm driving right now. Can you call me back after six?" in two."""
    conversation, call = await _outreach(db, recorder)
    await conversation.start(call)
    asked = await conversation.respond(call, CallerTurn(text="Sorry, I'm driving right now."))
    assert _said(asked) == "Of course. When would be a better time to call you?"
    assert conversation.outcome is None and conversation.call_later == CallLater()
    actions = await conversation.respond(call, CallerTurn(text="Can you call me back after six?"))
    said = _said(actions)
    assert said.startswith("Of course. We'll call you back after 6 PM."), said
    assert isinstance(actions[-1], Hangup) and conversation.call_later == CallLater(time(18))
    # Not said at all: called later, no hours kept.
    conversation, call = await _outreach(db, recorder)
    await conversation.start(call)
    await conversation.respond(call, CallerTurn(text="this isn't a good time"))
    said = _said(await conversation.respond(call, CallerTurn(text="I don't know, whenever")))
    assert said.startswith("Of course. We'll call you back later.") and "keep" not in said
    # The hour lost (a pause split her sentence, or it was misheard): asked once more.
    conversation, call = await _outreach(db, recorder)
    await conversation.start(call)
    await conversation.respond(call, CallerTurn(text="I'm driving"))
    again = await conversation.respond(call, CallerTurn(text="Can you call me back"))
    assert _said(again) == "Sorry, what time would suit you best?"
    assert not any(isinstance(a, Hangup) for a in again)
    said = _said(await conversation.respond(call, CallerTurn(text="after six")))
    assert said.startswith("Of course. We'll call you back after 6 PM."), said
    assert conversation.call_later == CallLater(time(18))
    # Asked once only: a second answer without hours ends the call, called later.
    conversation, call = await _outreach(db, recorder)
    await conversation.start(call)
    await conversation.respond(call, CallerTurn(text="I'm driving"))
    await conversation.respond(call, CallerTurn(text="Can you call me back"))
    actions = await conversation.respond(call, CallerTurn(text="the usual"))
    assert _said(actions).startswith("Of course. We'll call you back later.")
    assert isinstance(actions[-1], Hangup)


async def test_on_a_results_call_call_me_back_is_the_nurses_call_back(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _outreach(db, recorder, "results_ready")
    await _verified(conversation, call)
    await conversation.respond(call, CallerTurn(text="call me back later please"))
    assert conversation.call_later is None
    async with db.session() as s:
        tasks = await open_tasks(s, "nurse")
    assert any(t.call_id == call.call_id for t in tasks)


async def test_an_ehr_that_is_down_changes_nothing_and_says_so(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _outreach(db, recorder, ehr=DownEhrStandIn())
    await _verified(conversation, call)
    actions = await conversation.respond(call, CallerTurn(text="cancel it"))
    assert "nothing has been changed" in _said(actions)
    async with db.session() as s:
        appointment = await s.get(Appointment, conversation.outreach.appointment_id)
    assert appointment is not None and appointment.status == "booked"


async def test_a_voicemail_message_names_no_one_unless_the_campaign_says_so(
    db: Database, recorder: StoreRecorder
) -> None:
    patient_id, _ = await _maria(db)
    dialog = NoDialogStandIn()
    for named in (False, True):
        outreach = Outreach("reminder", patient_id, None, "+15550100001", "Maria", named)
        box = VoicemailConversation(
            outreach=outreach, line=LINE, triage=TriageEngine.default(), dialog=dialog,
            gate=dialog, db=db, recorder=recorder,
        )  # fmt: skip
        call = _call()
        recorder.open(call)
        message = _said(await box.start(call))
        assert ("Maria" in message) is named and "appointment" not in message
        assert "555-0100" in message
        await box.finish(call, CallOutcome(datetime.now(UTC), "bot"))
        assert box.outcome == "voicemail_left"


async def test_an_appointment_cancelled_since_the_campaign_began_is_never_confirmed(
    db: Database, recorder: StoreRecorder
) -> None:
    from integrations.services import scheduling

    conversation, call = await _outreach(db, recorder)
    await _verified(conversation, call)
    patient_id, appointment_id = await _maria(db)
    async with db.session() as s:  # the front desk cancels it while the call goes on
        await scheduling.cancel(
            s, call_id="desk", patient_id=patient_id, appointment_id=appointment_id
        )
    actions = await conversation.respond(call, CallerTurn(text="yes I'll be there"))
    assert "nothing has been changed" in _said(actions)
    assert conversation.outcome == "reschedule_requested"
    async with db.session() as s:
        tasks = await open_tasks(s, "scheduling")
    assert any(t.call_id == call.call_id for t in tasks)
    assert (await _report(recorder, db, call))["disposition"] == "task_created"


async def test_a_late_beep_before_any_answer_leaves_the_message_after_one_changes_nothing(
    db: Database, recorder: StoreRecorder
) -> None:
    """A box taken for a person beeps while the bot asks for the name: the message (no PHI)
    instead, counted left only once the bot hung up after it. A callee who has answered is a
    person: a tone on their side later changes nothing."""
    conversation, call = await _outreach(db, recorder)
    await conversation.start(call)
    actions = conversation.late_beep(call)
    message = _said(actions)
    assert "call us back" in message.lower() and "555-0100" in message
    assert "Maria" not in message and "appointment" not in message
    assert isinstance(actions[-1], Hangup)
    assert conversation.late_beep(call) == []  # once
    assert await conversation.respond(call, CallerTurn(text="beep")) == []
    assert conversation.outcome is None  # not left until it was said to its end
    disposition = await conversation.finish(call, CallOutcome(datetime.now(UTC), "bot"))
    assert disposition == conversation.outcome == "voicemail_left"
    report = await _report(recorder, db, call)
    assert [e["data"] for e in report["events"] if e["kind"] == "voicemail"] == [
        {"first_name": False, "after": "late beep"}
    ]

    person, call = await _outreach(db, recorder)
    await person.start(call)
    await person.respond(call, CallerTurn(text="Maria Lopez"))
    assert person.late_beep(call) == []
