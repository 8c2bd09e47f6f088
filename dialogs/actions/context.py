"""What every custom action needs: the store, a clock, and the call facts carried by the tracker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from rasa_sdk import Tracker

from integrations.errors import NotFound
from integrations.services import calls
from integrations.store.database import Database

log = logging.getLogger(__name__)


def _local_now() -> datetime:
    return datetime.now().replace(microsecond=0)


@dataclass(frozen=True)
class Deps:
    """Dependencies injected into every action instance by `build_action_executor`."""

    db: Database
    clock: Callable[[], datetime] = field(default=_local_now)

    def now(self) -> datetime:
        return self.clock()

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


def metadata(tracker: Tracker) -> dict[str, Any]:
    """Metadata of the latest caller message ({caller_number, triage_level, verified, call_id})."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            meta = event.get("metadata") or {}
            return dict(meta) if isinstance(meta, dict) else {}
    return {}


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def latest_intent(tracker: Tracker) -> str | None:
    intent = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    return str(name) if name else None


def text_of_last(tracker: Tracker, intents: set[str]) -> tuple[str | None, str]:
    """The latest caller message classified as one of `intents`: (intent, text)."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if name in intents:
            return str(name), str(event.get("text") or "")
    return None, ""


def patient_id(tracker: Tracker) -> int | None:
    """The verified patient, or None: every patient-specific action checks this first."""
    if not tracker.get_slot("verified"):
        return None
    value = tracker.get_slot("patient_id")
    return int(value) if value is not None else None
