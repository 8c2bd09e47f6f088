"""What every custom action needs: the store, a clock, and the facts of the call.

Rasa's tracker is dialog state, not a source of truth: slots and message metadata are only as
trustworthy as whoever could write to that conversation. Who is verified, which patient, and
the caller's number are therefore read from the call record in the store, keyed by the call
id (Rasa's sender id, which only our token-holding voice worker can choose).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from rasa_sdk import Action, Tracker

from dialogs.wording import DialogWording
from integrations.ehr.desk import AppointmentDesk
from integrations.ehr.sync import EhrSync
from integrations.errors import NotFound
from integrations.services import calls
from integrations.store.database import Database
from integrations.store.models import Call
from routing.hours import BusinessHours

log = logging.getLogger(__name__)


def _local_now() -> datetime:
    return datetime.now().replace(microsecond=0)


@dataclass(frozen=True)
class CallFacts:
    """What the store knows about a call; a call it never opened knows nothing."""

    exists: bool = False
    verified_patient_id: int | None = None
    pending_patient_id: int | None = None
    caller_number: str | None = None
    triage_level: str = "none"


@dataclass(frozen=True)
class Deps:
    """Dependencies injected into every action instance by `build_action_executor`."""

    db: Database
    clock: Callable[[], datetime] = field(default=_local_now)
    hours: BusinessHours = field(default_factory=BusinessHours.default)
    # The clinic's EHR when it is the source of truth (`--ehr`); None: the local store is.
    ehr: EhrSync | None = None
    # The replies' words: the file's, or those published in the console (kept up to date
    # by the server's `PublishedDialogWording`).
    wording: DialogWording = field(default_factory=DialogWording.from_file)

    def say(self, reply: str, /, **words: object) -> str:
        """The words of a reply (`dialogs/wording.yaml`), with its words in braces filled."""
        return self.wording.say(reply, **words)

    def now(self) -> datetime:
        return self.clock()

    @property
    def desk(self) -> AppointmentDesk:
        """Where bookings, moves and cancellations go: the EHR first, if there is one."""
        return AppointmentDesk(self.db, self.ehr)

    def hours_now(self) -> datetime:
        """The moment for the clinic's hours: the machine's own clock made time-zone aware
        (the hours file converts it to the clinic's zone); an injected clock as given."""
        now = self.clock()
        return now.astimezone() if self.clock is _local_now and now.tzinfo is None else now

    def today(self) -> date:
        return self.clock().date()

    async def record(self, call_id: str, *, intent: str | None = None, **fields: Any) -> None:
        """Set call-record fields (disposition, transfer…) and note the request served; a call
        the worker never opened is only logged, because a dialog must not fail on bookkeeping."""
        async with self.db.session() as s:
            try:
                if intent:
                    await calls.add_event(s, call_id=call_id, kind="intent", data={"name": intent})
                await calls.set_fields(s, call_id, **fields)
            except NotFound:
                log.warning("call record missing", extra={"call_id": call_id})

    async def facts(self, call_id: str) -> CallFacts:
        """The call record's identity facts (the only ones any action trusts)."""
        async with self.db.session() as s:
            call = await s.get(Call, call_id)
            if call is None:
                return CallFacts()
            return CallFacts(
                True,
                call.verified_patient_id,
                call.pending_patient_id,
                call.caller_number,
                call.triage_level,
            )

    async def patient_id(self, tracker: Tracker) -> int | None:
        """The patient verified on this call, or None: every patient-specific action asks."""
        return (await self.facts(call_id(tracker))).verified_patient_id

    async def event(self, call_id: str, kind: str, data: dict[str, Any]) -> None:
        """Append an event (intent, verification…) to the call record, tolerating no record."""
        async with self.db.session() as s:
            try:
                await calls.add_event(s, call_id=call_id, kind=kind, data=data)
            except NotFound:
                log.warning("call record missing", extra={"call_id": call_id})


def call_id(tracker: Tracker) -> str:
    """The voice worker uses the call id as Rasa's sender id."""
    return str(tracker.sender_id)


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def latest_intent(tracker: Tracker) -> str | None:
    intent = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    return str(name) if name else None


def intent_of(event: dict[str, Any]) -> str | None:
    """The intent the NLU gave a tracker event (a caller's message), if any."""
    name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return str(name) if name else None


def text_of_last(tracker: Tracker, intents: set[str]) -> tuple[str | None, str]:
    """The latest caller message classified as one of `intents`: (intent, text)."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        name = intent_of(event)
        if name in intents:
            return str(name), str(event.get("text") or "")
    return None, ""


class ActionWithDeps(Action):
    """An action given the dependencies: the store, the clock, and the words it says."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
