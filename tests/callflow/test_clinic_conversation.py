"""The product conversation's own rules, on a real SQLite store.

The Rasa server is replaced here by stand-ins (a dialog that records what it was asked, and
one that is unreachable): these tests are about what happens before and around Rasa. The
real server is exercised in tests/dialogs and tests/callflow/test_scripted_calls.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from clinicline.callflow.clinic import ClinicConversation
from clinicline.callflow.recorder import StoreRecorder
from dialogs.client import BotMessage
from dialogs.errors import DialogUnavailable
from integrations.seed.demo import seed_demo
from integrations.services.call_report import call_report
from integrations.services.tasks import open_tasks
from integrations.store import Database
from nlu.triage import TriageEngine
from voice.session.actions import CallerTurn, CallInfo, CollectDigits, PlayPrompt, Say, Transfer


class RecordingDialogStandIn:
    """Stands in for the Rasa server: answers a fixed line and remembers every message."""

    available = True

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        self.sent.append(text)
        return [BotMessage("What is the patient's full name?", None)]


class UnreachableDialogStandIn:
    """Stands in for a Rasa server that is down."""

    available = False

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        raise DialogUnavailable("connection refused")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    store = await Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}")
    await store.migrate()
    await seed_demo(store, date.today())
    yield store
    await store.dispose()


@pytest.fixture
async def recorder(db: Database) -> AsyncIterator[StoreRecorder]:
    rec = StoreRecorder(db)
    rec.start()
    yield rec
    await rec.stop()


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
    assert report["triage_level"] == "emergent" and report["emergency_message_played"]


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
