"""The product conversation's own rules, on a real SQLite store.

The Rasa server is replaced here by stand-ins (a dialog that records what it was asked, and
one that is unreachable): these tests are about what happens before and around Rasa. The
real server is exercised in tests/dialogs and tests/callflow/test_scripted_calls.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinicline.callflow.clinic import ClinicConversation
from clinicline.callflow.recorder import StoreRecorder
from dialogs.client import BotMessage
from dialogs.errors import DialogUnavailable
from integrations.services.call_report import call_report
from integrations.services.calls import set_fields
from integrations.services.refills import active_medications
from integrations.services.tasks import open_tasks
from integrations.store import Database
from integrations.store.models import Patient
from nlu.triage import TriageEngine
from voice.session.actions import (
    CallerTurn,
    CallInfo,
    CallOutcome,
    CollectDigits,
    Hangup,
    PlayPrompt,
    Say,
    Transfer,
)
from voice.session.phase import CallPhase


class RecordingDialogStandIn:
    """Stands in for the Rasa server: answers a fixed line and remembers every message."""

    available = True

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        self.sent.append(text)
        return [BotMessage("What is the patient's full name?", None)]


class AsksForStandIn(RecordingDialogStandIn):
    """Stands in for a Rasa server whose every reply asks for one answer (full_name, dob...)."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        self.sent.append(text)
        return [BotMessage(f"Your {self.what}?", {"kind": "expect", "what": self.what})]


class UnreachableDialogStandIn:
    """Stands in for a Rasa server that is down."""

    available = False

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        raise DialogUnavailable("connection refused")


def _call(number: str = "+15550100001") -> CallInfo:
    return CallInfo(
        call_id=f"test-{number}-{datetime.now(UTC).timestamp()}",
        caller_number=number,
        started=datetime.now(UTC),
    )


def _conversation(db: Database, recorder: StoreRecorder, dialog: Any) -> ClinicConversation:
    return ClinicConversation(
        triage=TriageEngine.default(), dialog=dialog, gate=dialog, db=db, recorder=recorder
    )


async def test_emergent_flag_interrupts_identity_check(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    await conversation.start(call)
    await conversation.respond(call, CallerTurn(text="I need to reschedule"))
    actions = conversation.screen(
        call, "wait my wife just collapsed and she is not breathing", True
    )
    assert isinstance(actions[0], PlayPrompt) and actions[0].name == "emergency"
    assert actions[0].barge_in is False
    assert isinstance(actions[1], Transfer) and actions[1].queue == "nurse" and actions[1].emergent
    assert dialog.sent == ["I need to reschedule"]  # the red flag never went to the dialog
    await recorder.flush()
    async with db.session() as s:
        report = await call_report(s, call.call_id)
    assert report["triage_level"] == "emergent"
    # Screening decided; nothing has played yet, and the record says so.
    assert not report["emergency_message_played"] and report["disposition"] is None


async def test_after_an_emergency_nothing_else_is_asked(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    conversation.screen(call, "I took a whole bottle of my pills", True)
    assert conversation.screen(call, "I also have chest pain", True) == []  # one escalation
    await conversation.respond(call, CallerTurn(text="hello?"))
    assert dialog.sent == []


async def test_urgent_caller_declining_the_nurse_gets_a_same_day_callback_task(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    assert (
        conversation.screen(
            call, "I've been throwing up since yesterday and can't keep water down", True
        )
        == []
    )
    offer = await conversation.respond(
        call, CallerTurn(text="I've been throwing up since yesterday")
    )
    assert isinstance(offer[0], Say) and "nurse" in offer[0].text
    answer = await conversation.respond(call, CallerTurn(text="no thanks I'll wait"))
    assert isinstance(answer[0], Say) and "call you back today" in answer[0].text
    async with db.session() as s:
        tasks = await open_tasks(s, "nurse")
    assert any(t.kind == "nurse_callback" and t.call_id == call.call_id for t in tasks)


async def test_urgent_caller_accepting_is_transferred_to_the_nurse(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = _conversation(db, recorder, RecordingDialogStandIn()), _call()
    recorder.open(call)
    conversation.screen(call, "my blood sugar is over 500", True)
    await conversation.respond(call, CallerTurn(text="my blood sugar is over 500"))
    actions = await conversation.respond(call, CallerTurn(text="yes please"))
    assert any(isinstance(a, Transfer) and a.queue == "nurse" and not a.emergent for a in actions)


async def test_dialogs_down_gives_keypad_menu_then_a_person(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = _conversation(db, recorder, UnreachableDialogStandIn()), _call()
    recorder.open(call)
    opening = await conversation.start(call)
    assert [a.name for a in opening if isinstance(a, PlayPrompt)] == ["greeting", "keypad_menu"]
    assert isinstance(opening[-1], CollectDigits)
    again = await conversation.respond(call, CallerTurn(digits="7"))
    assert isinstance(again[0], PlayPrompt) and again[0].name == "keypad_menu"
    transfer = await conversation.respond(call, CallerTurn(digits="1"))
    assert any(isinstance(a, Transfer) and a.queue == "nurse" for a in transfer)


async def test_rasa_dying_mid_call_falls_back_to_the_keypad(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    await conversation.start(call)
    conversation.dialog = UnreachableDialogStandIn()
    actions = await conversation.respond(call, CallerTurn(text="I need a refill"))
    assert isinstance(actions[0], PlayPrompt) and actions[0].name == "keypad_menu"


async def test_words_after_an_outage_go_back_to_the_dialog_once_it_is_up(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    await conversation.start(call)
    await conversation.respond(call, CallerTurn(text="I'd like to make an appointment"))
    conversation.dialog = conversation.gate = UnreachableDialogStandIn()
    down = await conversation.respond(call, CallerTurn(text="hello is anybody there"))
    assert isinstance(down[0], PlayPrompt) and down[0].name == "keypad_menu"
    # Silence in the menu replays the menu, not "how can I help you?"
    quiet = await conversation.silence(call, 1)
    assert isinstance(quiet[0], PlayPrompt) and quiet[0].name == "keypad_menu"
    # Still down: words are not a choice; the menu again.
    again = await conversation.respond(call, CallerTurn(text="Aisha Khan"))
    assert isinstance(again[0], PlayPrompt) and again[0].name == "keypad_menu"
    conversation.dialog = conversation.gate = dialog  # Rasa is back
    back = await conversation.respond(call, CallerTurn(text="Aisha Khan"))
    assert dialog.sent == ["I'd like to make an appointment", "Aisha Khan"]
    assert isinstance(back[0], Say) and "full name" in back[0].text
    report = await _report(db, recorder, call)
    kinds = [e["kind"] for e in report["events"]]
    assert kinds.index("dialogs_unavailable") < kinds.index("dialogs_back")


async def test_keys_after_an_outage_are_still_a_menu_choice_when_the_dialog_is_back(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    conversation.gate = UnreachableDialogStandIn()
    await conversation.start(call)  # down from the start: the keypad menu
    conversation.gate = dialog
    actions = await conversation.respond(call, CallerTurn(digits="1"))
    assert any(isinstance(a, Transfer) and a.queue == "nurse" for a in actions)
    assert dialog.sent == []


async def _keypad_choice(
    db: Database, recorder: StoreRecorder, digits: str
) -> tuple[ClinicConversation, CallInfo]:
    """A call on the keypad menu (dialogs down) that pressed `digits` (0 front desk, 1 nurse)."""
    conversation, call = _conversation(db, recorder, UnreachableDialogStandIn()), _call()
    recorder.open(call)
    await conversation.start(call)
    await conversation.respond(call, CallerTurn(digits=digits))
    return conversation, call


async def _report(db: Database, recorder: StoreRecorder, call: CallInfo) -> dict[str, Any]:
    await recorder.flush()
    async with db.session() as s:
        return await call_report(s, call.call_id)


@pytest.mark.parametrize(
    ("outcomes", "played"),
    [
        (["completed"], True),
        (["caller_hung_up"], False),
        (["interrupted"], False),
        (["completed", "caller_hung_up"], True),  # heard once to the end, cut the second time
    ],
)
async def test_the_emergency_message_counts_as_played_only_when_it_played_to_the_end(
    db: Database, recorder: StoreRecorder, outcomes: list[str], played: bool
) -> None:
    conversation, call = _conversation(db, recorder, RecordingDialogStandIn()), _call()
    recorder.open(call)
    conversation.screen(call, "my husband collapsed and he is not breathing", True)
    start = datetime.now(UTC)
    for i, outcome in enumerate(outcomes):
        began = start + timedelta(seconds=10 * i)
        conversation.played(call, "emergency", began, began + timedelta(seconds=6.5), outcome)
    conversation.played(call, "greeting", start, start, "completed")  # other prompts: no entry
    report = await _report(db, recorder, call)
    assert report["emergency_message_played"] is played
    plays = report["emergency_messages"]
    assert [p["outcome"] for p in plays] == outcomes
    assert plays[0]["started"] == start.isoformat() and plays[0]["seconds"] == 6.5


async def test_a_flagged_caller_who_hangs_up_before_anyone_answers_is_abandoned_not_transferred(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = _conversation(db, recorder, RecordingDialogStandIn()), _call()
    recorder.open(call)
    conversation.screen(call, "I have crushing chest pain", True)
    fallback = await conversation.finish(call, CallOutcome(datetime.now(UTC), "caller", "BYE"))
    await recorder.closed(call, CallOutcome(datetime.now(UTC), "caller", "BYE"), fallback)
    report = await _report(db, recorder, call)
    assert report["disposition"] == "abandoned" and not report["transferred"]
    assert report["transfer_queue"] == "nurse"
    async with db.session() as s:
        tasks = [t for t in await open_tasks(s, "nurse") if t.call_id == call.call_id]
    assert [t.kind for t in tasks] == ["nurse_callback"] and tasks[0].note.startswith("URGENT")


async def test_an_answered_emergent_transfer_keeps_its_disposition_when_the_call_ends(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = _conversation(db, recorder, RecordingDialogStandIn()), _call()
    recorder.open(call)
    conversation.screen(call, "I have crushing chest pain", True)
    await recorder.flush()
    async with db.session() as s:  # what routing writes when the nurse answers
        await set_fields(s, call.call_id, transferred=True, disposition="emergency_transferred")
    outcome = CallOutcome(datetime.now(UTC), "caller", "BYE")
    await recorder.closed(call, outcome, await conversation.finish(call, outcome))
    report = await _report(db, recorder, call)
    assert report["disposition"] == "emergency_transferred" and report["transferred"]
    async with db.session() as s:
        assert not [t for t in await open_tasks(s, "nurse") if t.call_id == call.call_id]


async def test_a_routine_transfer_nobody_answered_is_recorded_as_failed_not_transferred(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _keypad_choice(db, recorder, "0")
    outcome = CallOutcome(datetime.now(UTC), "bot", "nobody answered")
    await recorder.closed(call, outcome, await conversation.finish(call, outcome))
    report = await _report(db, recorder, call)
    assert report["disposition"] == "transfer_failed" and not report["transferred"]
    async with db.session() as s:  # a routine caller gets no urgent callback
        assert not [t for t in await open_tasks(s, "nurse") if t.call_id == call.call_id]


@pytest.mark.parametrize(
    "phase",
    [
        CallPhase.TRANSFER_HOLD,
        CallPhase.CONSULT_RINGING,
        CallPhase.WHISPER,
        CallPhase.QUEUE_CHOICE,
        CallPhase.HOLD_QUEUE,
    ],
)
async def test_an_urgent_flag_during_a_front_desk_transfer_moves_it_to_the_nurses(
    db: Database, recorder: StoreRecorder, phase: CallPhase
) -> None:
    conversation, call = await _keypad_choice(db, recorder, "0")  # the front desk
    actions = conversation.screen(call, "my blood sugar is over 500", True, phase)
    transfers = [a for a in actions if isinstance(a, Transfer)]
    assert [(t.queue, t.emergent) for t in transfers] == [("nurse", False)]
    assert transfers[0].context["phase"] == phase.value
    # Said again, the same flag changes nothing more.
    assert conversation.screen(call, "my blood sugar is over 500", True, phase) == []


async def test_an_urgent_flag_while_a_nurse_transfer_rings_changes_nothing(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _keypad_choice(db, recorder, "1")  # the nurse line already
    assert conversation.screen(call, "my blood sugar is over 500", True,
                               CallPhase.CONSULT_RINGING) == []  # fmt: skip


async def test_a_flag_on_a_bridged_call_is_handed_to_the_transfer_whatever_its_level(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _keypad_choice(db, recorder, "1")
    actions = conversation.screen(call, "my blood sugar is over 500", True, CallPhase.BRIDGED)
    assert any(isinstance(a, Transfer) for a in actions)
    report = await _report(db, recorder, call)
    phases = [e["data"]["phase"] for e in report["events"] if e["kind"] == "triage"]
    assert phases == ["bridged"]


async def test_the_dialog_phase_follows_what_the_bot_asked(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = _conversation(db, recorder, AsksForStandIn("dob")), _call()
    recorder.open(call)
    assert conversation.phase(call) is None
    await conversation.respond(call, CallerTurn(text="Aisha Khan"))
    assert conversation.phase(call) is CallPhase.IDENTITY_FORM
    conversation.dialog = RecordingDialogStandIn()
    conversation.dialog.sent = []
    await conversation.respond(call, CallerTurn(text="what are your hours"))
    assert conversation.phase(call) is None
    keypad = _conversation(db, recorder, UnreachableDialogStandIn())
    await keypad.start(call)
    assert keypad.phase(call) is CallPhase.KEYPAD_MENU


async def test_an_answer_to_the_name_question_is_held_to_the_nets_answer_floor(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = _conversation(db, recorder, AsksForStandIn("full_name")), _call()
    recorder.open(call)
    await conversation.respond(call, CallerTurn(text="I need to cancel an appointment"))
    assert conversation.expected_answer(call) == "name"
    # An unknown surname as the recogniser wrote it (names bench): no nurse for that.
    assert conversation.screen(call, "Free port wet, the only rope.", True) == []
    # A description said instead of a name still reaches the nurse at once.
    actions = conversation.screen(call, "he is all clammy and pale", True)
    assert isinstance(actions[0], PlayPrompt) and actions[0].name == "nurse_now"


async def test_a_described_heart_attack_no_rule_matches_goes_to_a_nurse_at_once(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    text = "my husband is dripping with sweat and says his whole upper body feels heavy"
    assert conversation.triage.assess(text).level.value == "none"  # the lexicon is silent
    actions = conversation.screen(call, text, True)
    assert isinstance(actions[0], PlayPrompt) and actions[0].name == "nurse_now"
    transfer = actions[1]
    assert isinstance(transfer, Transfer) and transfer.queue == "nurse"
    assert not transfer.emergent and "described" in transfer.reason
    report = await _report(db, recorder, call)
    triage = [e["data"] for e in report["events"] if e["kind"] == "triage"]
    assert triage[0]["sources"] == ["net"] and triage[0]["net"]["score"] > 0, triage
    assert report["triage_level"] == "urgent" and dialog.sent == []


@pytest.mark.parametrize(
    ("said", "prompt", "emergent"),
    [
        ("I want to kill myself", "emergency_crisis", True),
        ("I've been thinking about not being here anymore", "crisis", False),
        ("I just feel hopeless and like nothing will get better", "crisis", False),
    ],
)
async def test_a_caller_speaking_of_self_harm_hears_the_crisis_line_and_reaches_a_person(
    db: Database, recorder: StoreRecorder, said: str, prompt: str, emergent: bool
) -> None:
    conversation, call = _conversation(db, recorder, RecordingDialogStandIn()), _call()
    recorder.open(call)
    actions = conversation.screen(call, said, True)
    assert [a.name for a in actions if isinstance(a, PlayPrompt)] == [prompt]
    transfers = [a for a in actions if isinstance(a, Transfer)]
    assert [(t.queue, t.emergent) for t in transfers] == [("nurse", emergent)]
    # No offer to decline, now or later.
    later = await conversation.respond(call, CallerTurn(text="no thanks"))
    assert not any(isinstance(a, Say) and "connect you with a nurse" in a.text for a in later)


async def _answers(conversation: ClinicConversation, call: CallInfo, *said: str) -> list[list[Any]]:
    replies = []
    for text in said:
        conversation.screen(call, text, True)  # as the session does before respond()
        replies.append(list(await conversation.respond(call, CallerTurn(text=text))))
    return replies


async def test_a_symptom_no_layer_flags_gets_the_screening_question_and_yes_is_an_emergency(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    question, after_yes = await _answers(conversation, call, "my leg hurts", "yes")
    assert [a.name for a in question] == ["screening_question"]
    assert isinstance(after_yes[0], PlayPrompt) and after_yes[0].name == "emergency"
    assert isinstance(after_yes[1], Transfer) and after_yes[1].emergent
    assert dialog.sent == []  # the symptom never reached self-service
    report = await _report(db, recorder, call)
    assert report["triage_level"] == "emergent" and "screening_positive" in report["flags"]


async def test_no_to_the_screening_question_offers_the_nurse_line_before_the_dialog(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    said = "my knee has been sore for a few weeks and I want to see the doctor"
    question, offer, onwards = await _answers(conversation, call, said, "no", "no thank you")
    assert [a.name for a in question] == ["screening_question"]
    assert [a.name for a in offer] == ["nurse_offer"]
    assert dialog.sent == [said]  # then the dialog takes what they first said
    assert isinstance(onwards[0], Say)
    # Asked once per call: a second symptom goes straight on.
    await _answers(conversation, call, "and my throat is sore too")
    assert dialog.sent == [said, "and my throat is sore too"]


@pytest.mark.parametrize(
    ("first", "decline", "sent"),
    [
        # New-user call, 2026-12-05: "sore throat" (a symptom, held), then a decline that says
        # what she wants. She was asked "What can I help you with today?" as if unsaid.
        ("I've had a sore throat and a bit of a cough for a few days",
         "No thanks, I'd rather just book an appointment.", "I'd rather just book an appointment"),
        ("my daughter seems a bit fed up",  # words only near a red flag: nothing held
         "no thank you, I just need to cancel her appointment",
         "I just need to cancel her appointment"),
    ],
)  # fmt: skip
async def test_a_decline_that_says_what_she_wants_reaches_the_dialog_stand_in_as_her_request(
    db: Database, recorder: StoreRecorder, first: str, decline: str, sent: str
) -> None:
    dialog = NurseRoutingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    question, offer, onwards = await _answers(conversation, call, first, "no", decline)
    assert [a.name for a in question] == ["screening_question"]
    assert [a.name for a in offer] == ["nurse_offer"]
    assert dialog.sent == [sent]
    # Even a dialog that files it under symptoms does not send her to the nurse she declined.
    assert not [a for a in onwards if isinstance(a, Transfer)], onwards
    report = await _report(db, recorder, call)
    declined = [e["data"] for e in report["events"] if e["kind"] == "nurse_declined"]
    assert declined and declined[0] == {"then": "their own next request"}, declined


async def test_words_only_close_to_a_red_flag_get_the_screening_question_too(
    db: Database, recorder: StoreRecorder
) -> None:
    # No symptom word and no flag: the net finds it close to a red flag, not enough to raise.
    said = "my daughter seems a bit fed up"
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    question, offer, declined = await _answers(conversation, call, said, "no", "no thank you")
    assert [a.name for a in question] == ["screening_question"]
    assert [a.name for a in offer] == ["nurse_offer"]
    # A worry described, no request: she is asked what she needs, nothing is guessed from it.
    assert declined == [PlayPrompt("nurse_declined")]
    assert dialog.sent == []
    await _answers(conversation, call, "I need to book a check-up")
    assert dialog.sent == ["I need to book a check-up"]
    report = await _report(db, recorder, call)
    asked = [e["data"] for e in report["events"] if e["kind"] == "screening_question"][0]
    assert "symptom" not in asked and asked["near"]["category"], asked
    assert report["triage_level"] == "none"


async def test_yes_after_words_close_to_hopelessness_hears_the_crisis_line(
    db: Database, recorder: StoreRecorder
) -> None:
    # Closest to the bank's hopelessness descriptions, not close enough to raise the call.
    said = "my daughter seems a bit fed up"
    conversation, call = _conversation(db, recorder, RecordingDialogStandIn()), _call()
    recorder.open(call)
    question, after_yes = await _answers(conversation, call, said, "yes")
    assert [a.name for a in question] == ["screening_question"]
    assert isinstance(after_yes[0], PlayPrompt) and after_yes[0].name == "emergency_crisis"
    assert isinstance(after_yes[1], Transfer) and after_yes[1].emergent
    report = await _report(db, recorder, call)
    asked = [e["data"] for e in report["events"] if e["kind"] == "screening_question"][0]
    assert asked["near"]["category"] == "depression_hopelessness", asked


class NurseRoutingDialogStandIn(RecordingDialogStandIn):
    """Stands in for Rasa filing a symptom under report_symptom: it sends the caller to a nurse."""

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        self.sent.append(text)
        transfer = {"kind": "transfer", "queue": "nurse", "reason": "report_symptom"}
        return [BotMessage("I'll connect you with a nurse now.", transfer)]


async def test_a_caller_who_declined_the_nurse_is_not_sent_to_one_by_the_dialog(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = NurseRoutingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    said = "I have had a rash on my arm for a week and want to see someone"
    *_, onwards = await _answers(conversation, call, said, "no", "no thanks")
    assert dialog.sent == [said]
    assert not [a for a in onwards if isinstance(a, Transfer)], onwards
    assert [a.name for a in onwards if isinstance(a, PlayPrompt)] == ["nurse_declined"]
    # What they ask next goes to the dialog as usual.
    await _answers(conversation, call, "I need to book an appointment")
    assert dialog.sent == [said, "I need to book an appointment"]


async def test_a_caller_who_wants_the_nurse_after_the_screening_question_gets_one(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    *_, chose = await _answers(conversation, call, "I have a rash on my arm", "no", "yes please")
    transfers = [a for a in chose if isinstance(a, Transfer)]
    assert [(t.queue, t.emergent) for t in transfers] == [("nurse", False)]
    assert dialog.sent == []


async def test_an_unclear_answer_to_the_screening_question_twice_takes_the_safe_side(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = _conversation(db, recorder, RecordingDialogStandIn()), _call()
    recorder.open(call)
    replies = await _answers(conversation, call, "my ear hurts", "banana", "what")
    assert replies[1] == [PlayPrompt("screening_question")]  # asked again once
    assert any(isinstance(a, Transfer) and a.emergent for a in replies[2])


async def test_a_request_without_a_symptom_goes_straight_to_the_dialog(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    await _answers(conversation, call, "I need a refill of my lisinopril")
    assert dialog.sent == ["I need a refill of my lisinopril"]


async def test_once_the_caller_is_verified_her_own_medications_are_listened_for_first(
    db: Database, recorder: StoreRecorder
) -> None:
    """The store is read after the dialog's turn that verified her, while its reply plays,
    not before every turn: the turn sends the dialog no word of verification (the actions
    read it from the store), and the dialog's "verified" says when to look, not whom."""
    sent: list[dict[str, Any]] = []

    class MetadataStandIn(RecordingDialogStandIn):
        async def send(
            self, sender_id: str, text: str, metadata: dict[str, Any]
        ) -> list[BotMessage]:
            sent.append(metadata)
            if text == "March fourth nineteen seventy two":
                return [BotMessage("Thank you, you're verified.", {"kind": "verified"})]
            return await super().send(sender_id, text, metadata)

    conversation = _conversation(db, recorder, MetadataStandIn())
    call = _call("+15550100999")  # a number not on file: no hints to start with
    recorder.open(call)
    await conversation.start(call)
    await conversation.respond(call, CallerTurn(text="I need a refill"))
    await asyncio.sleep(0.2)
    assert list(conversation.hints(call)) == []
    async with db.session() as s:
        patient = await s.scalar(select(Patient).order_by(Patient.id).limit(1))
        assert patient is not None
        own = [m.name for m in await active_medications(s, patient.id)]
    assert own
    await recorder.flush()
    async with db.session() as s:  # what the identity check writes once she is verified
        await set_fields(s, call.call_id, verified_patient_id=patient.id)
    await conversation.respond(call, CallerTurn(text="the blue ones"))
    await asyncio.sleep(0.2)
    assert list(conversation.hints(call)) == []  # no "verified" from the dialog: not looked up
    await conversation.respond(call, CallerTurn(text="March fourth nineteen seventy two"))
    for _ in range(50):
        if list(conversation.hints(call))[: len(own)] == own:
            break
        await asyncio.sleep(0.05)
    assert list(conversation.hints(call))[: len(own)] == own
    assert sent and not any("verified" in m for m in sent)


class AsksFor(RecordingDialogStandIn):
    """Stands in for a dialog whose every reply asks for WHAT (an `expect` payload)."""

    def __init__(self, question: str, what: str) -> None:
        super().__init__()
        self.question, self.what = question, what

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        self.sent.append(text)
        return [BotMessage(self.question, {"kind": "expect", "what": self.what})]


async def _hints_loaded(
    db: Database, recorder: StoreRecorder, dialog: RecordingDialogStandIn, number: str
) -> tuple[ClinicConversation, CallInfo]:
    """A call from NUMBER under way, its hints loaded (they load while the greeting plays)."""
    conversation = _conversation(db, recorder, dialog)
    call = _call(number)
    recorder.open(call)
    await conversation.start(call)
    for _ in range(50):
        if conversation.hints(call):
            break
        await asyncio.sleep(0.05)
    return conversation, call


async def _asked_by(
    db: Database, recorder: StoreRecorder, dialog: AsksFor, number: str
) -> tuple[ClinicConversation, CallInfo]:
    """A call from NUMBER whose hints have loaded, after the caller's first request."""
    conversation, call = await _hints_loaded(db, recorder, dialog, number)
    assert conversation.expected_answer(call) is None
    await conversation.respond(call, CallerTurn(text="I need a refill"))
    return conversation, call


async def test_an_open_question_hints_her_medications_and_never_her_name(
    db: Database, recorder: StoreRecorder
) -> None:
    """With the name on file in the hints, flite's "I need a refill on my lisinopril" came out
    "I need Maria Lopez on my lisinopril" on a `make run` call, and the request was lost."""
    aisha_khans = "+15550100003"
    conversation, call = await _hints_loaded(db, recorder, RecordingDialogStandIn(), aisha_khans)
    assert conversation.expected_answer(call) is None
    assert list(conversation.hints(call)) == ["albuterol inhaler", "sertraline"]


async def test_while_a_name_is_asked_only_names_are_hinted_to_the_recogniser(
    db: Database, recorder: StoreRecorder
) -> None:
    """A medication in the hints made "Aisha Khan" come out as "sertraline" (flite's voice,
    a `make run` call): while the name is asked, the hints are the names on file alone."""
    dialog = AsksFor("What is the patient's full name?", "full_name")
    conversation, call = await _asked_by(db, recorder, dialog, "+15550100003")  # Aisha Khan's
    assert conversation.expected_answer(call) == "name"
    assert list(conversation.hints(call)) == ["Aisha Khan"]


async def test_while_a_medication_is_asked_only_medications_are_hinted_to_the_recogniser(
    db: Database, recorder: StoreRecorder
) -> None:
    """Asked which medication, the caller's answer is decoded as an answer (her list alone in
    the prompt, the lower confidence floor): at the usual floor a third of the names spoken
    by flite and espeak-ng came out empty."""
    dialog = AsksFor("Which medication do you need refilled?", "medication")
    conversation, call = await _asked_by(db, recorder, dialog, "+15550100003")
    assert conversation.expected_answer(call) == "medication"
    assert list(conversation.hints(call)) == ["albuterol inhaler", "sertraline"]


class ReplyStandIn(RecordingDialogStandIn):
    """Stands in for a Rasa server that answers each message with the next of `replies`."""

    def __init__(self, *replies: list[BotMessage]) -> None:
        super().__init__()
        self.replies = list(replies)

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        self.sent.append(text)
        return self.replies.pop(0)


async def test_silence_after_a_question_asks_that_question_again(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = ReplyStandIn(
        [BotMessage("Sorry, I didn't get that date.", None),
         BotMessage("And the date of birth?", {"kind": "expect", "what": "dob"})],
        [BotMessage("Thank you. I have sent it on. Is there anything else?", None)],
        [BotMessage("Goodbye.", None)],
    )  # fmt: skip
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    greeted = await conversation.start(call)
    assert greeted == [PlayPrompt("greeting")]
    # Nothing asked yet but the greeting's question: the general reprompt.
    assert await conversation.silence(call, 1) == [PlayPrompt("reprompt")]
    await conversation.respond(call, CallerTurn(text="I'd like to book a visit"))
    # Asked for a date of birth, she says nothing: the question again, not the call over.
    assert await conversation.silence(call, 1) == [
        PlayPrompt("reprompt_question"), Say("And the date of birth?")
    ]  # fmt: skip
    assert await conversation.silence(call, 2) == [
        PlayPrompt("reprompt_question"), Say("And the date of birth?")
    ]  # fmt: skip
    assert isinstance((await conversation.silence(call, 3))[-1], Hangup)
    await conversation.respond(call, CallerTurn(text="March fourth 1972"))
    # Only the reply's question is asked again, not what it said before it.
    assert (await conversation.silence(call, 1))[1] == Say("Is there anything else?")
    await conversation.respond(call, CallerTurn(text="no thanks"))
    assert await conversation.silence(call, 1) == [PlayPrompt("reprompt")]


async def _after_a_reply(
    db: Database, recorder: StoreRecorder, said: str, *replies: list[BotMessage]
) -> tuple[ClinicConversation, CallInfo]:
    """A call whose dialog (a stand-in giving `replies` in turn) has answered `said`."""
    conversation, call = _conversation(db, recorder, ReplyStandIn(*replies)), _call()
    recorder.open(call)
    await conversation.start(call)
    await conversation.respond(call, CallerTurn(text=said))
    return conversation, call


async def test_silence_after_a_request_to_spell_asks_her_to_spell_again(
    db: Database, recorder: StoreRecorder
) -> None:
    spell = "Please spell the patient's last name for me, one letter at a time."
    conversation, call = await _after_a_reply(
        db, recorder, "yes that's right",
        [BotMessage("I couldn't find that name with that date of birth.", None),
         BotMessage(spell, {"kind": "expect", "what": "spelled_name"})],
        [BotMessage("Thank you. Is there anything else?", None)],
    )  # fmt: skip
    assert await conversation.silence(call, 1) == [PlayPrompt("reprompt_question"), Say(spell)]
    # A statement that asks nothing leaves the general reprompt.
    await conversation.respond(call, CallerTurn(text="L O P E Z"))
    assert (await conversation.silence(call, 1))[1] == Say("Is there anything else?")


async def test_silence_asks_the_question_again_without_its_opening_word(
    db: Database, recorder: StoreRecorder
) -> None:
    """On a `make run` call a silent caller heard "Sorry, I didn't hear anything. First, what is
    the patient's full name?": "First," belongs to the reply the question came in."""
    conversation, call = await _after_a_reply(
        db, recorder, "I need to cancel my appointment",
        [BotMessage("Sure. First, what is the patient's full name?",
                    {"kind": "expect", "what": "full_name"})],
    )  # fmt: skip
    assert await conversation.silence(call, 1) == [
        PlayPrompt("reprompt_question"), Say("What is the patient's full name?")
    ]  # fmt: skip


async def test_silence_after_the_keypad_request_asks_for_the_keys_again(
    db: Database, recorder: StoreRecorder
) -> None:
    """The keypad request's last sentence asks nothing ("Two digits for the month…"): on a
    `make run` call a silent caller then heard "How can I help you?" mid-check."""
    keypad = ("Please type the date of birth on your keypad. Two digits for the month, two for "
              "the day, and four for the year.")  # fmt: skip
    conversation, call = await _after_a_reply(
        db, recorder, "yeah",
        [BotMessage("Sorry, I didn't get that date.", None),
         BotMessage(keypad, {"kind": "collect_digits", "max": 8, "purpose": "dob"})],
    )  # fmt: skip
    assert await conversation.silence(call, 1) == [PlayPrompt("reprompt_question"), Say(keypad)]


async def _asked_for_the_date_of_birth(
    db: Database, recorder: StoreRecorder
) -> tuple[ClinicConversation, CallInfo]:
    """A call whose dialog (a stand-in) has just asked for the date of birth."""
    dialog = ReplyStandIn([BotMessage("And the date of birth?", {"kind": "expect", "what": "dob"})])
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    await conversation.start(call)
    assert not conversation.keys_wanted(call)  # nothing has asked for keys yet
    await conversation.respond(call, CallerTurn(text="I'd like to book a visit"))
    return conversation, call


async def test_keys_are_waited_for_once_a_question_may_take_them_stand_in(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _asked_for_the_date_of_birth(db, recorder)
    assert conversation.keys_wanted(call)  # 03041972 may follow its first key


async def test_silence_after_a_red_flag_does_not_ask_the_question_before_it(
    db: Database, recorder: StoreRecorder
) -> None:
    conversation, call = await _asked_for_the_date_of_birth(db, recorder)
    assert conversation.screen(call, "he collapsed and is not breathing", True)
    assert Say("And the date of birth?") not in await conversation.silence(call, 1)


async def test_zero_on_the_keypad_reaches_the_front_desk_and_stray_keys_are_told_stand_in(
    db: Database, recorder: StoreRecorder
) -> None:
    dialog = RecordingDialogStandIn()
    conversation, call = _conversation(db, recorder, dialog), _call()
    recorder.open(call)
    await conversation.start(call)
    # Keys nobody asked for are told they do nothing here, a digit alone too; the dialog
    # hears none of them.
    assert not conversation.keys_wanted(call)  # so the hearing hands a lone key on at once
    for keys in ("7", "*#9"):
        assert await conversation.respond(call, CallerTurn(digits=keys)) == [
            PlayPrompt("keys_not_expected")
        ]
    actions = await conversation.respond(call, CallerTurn(digits="00"))
    assert actions[0] == PlayPrompt("transfer")
    assert isinstance(actions[1], Transfer) and actions[1].queue == "front_desk"
    assert dialog.sent == []
    report = await _report(db, recorder, call)
    assert [e["data"] for e in report["events"] if e["kind"] == "operator"] == [{"keys": "00"}]
    # How many keys, never which: a caller may type her date of birth anywhere.
    assert [e["data"] for e in report["events"] if e["kind"] == "keys_not_expected"] == [
        {"count": 1},
        {"count": 3},
    ]
