"""A clinic conversation on a store of its own, its Rasa a stand-in asking for one answer: for
the tests of what a second hearing hands the dialog and writes in the record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clinicline.callflow.clinic import ClinicConversation
from clinicline.callflow.recorder import StoreRecorder
from integrations.services.call_report import call_report
from integrations.store import Database
from nlu.triage import TriageEngine
from tests.callflow.test_clinic_conversation import AsksForStandIn
from voice.session.actions import CallInfo


@dataclass
class StandInCall:
    conversation: ClinicConversation
    dialog: AsksForStandIn  # `sent`: what reached the dialog
    call: CallInfo
    recorder: StoreRecorder
    db: Database

    async def event_data(self, kind: str) -> list[Any]:
        """The data of the call record's events of this kind, once the recorder has written."""
        await self.recorder.flush()
        async with self.db.session() as s:
            report = await call_report(s, self.call.call_id)
        return [e["data"] for e in report["events"] if e["kind"] == kind]


@asynccontextmanager
async def stand_in_call(
    tmp_path: Path, asks_for: str, call_id: str, **hearing: Any
) -> AsyncIterator[StandInCall]:
    """A call under way whose dialog asks for `asks_for`; `hearing` are the conversation's
    second hearings (`dates=`, `answers=`)."""
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}")
    await db.migrate()
    recorder = StoreRecorder(db)
    recorder.start()
    try:
        dialog = AsksForStandIn(asks_for)
        conversation = ClinicConversation(
            triage=TriageEngine.default(), dialog=dialog, gate=dialog, db=db, recorder=recorder,
            **hearing,
        )  # fmt: skip
        call = CallInfo(call_id=call_id, caller_number=None, started=datetime.now(UTC))
        recorder.open(call)
        yield StandInCall(conversation, dialog, call, recorder, db)
    finally:
        await recorder.stop()
        await db.dispose()
