"""Fixtures for the dialog tests: a seeded demo clinic store and a harness that runs our custom
actions through rasa-sdk's executor with the tracker Rasa would send, built here: it stands in
for the Rasa server, so the tests that use it say `tracker_stand_in` in their names (the dialogs
on the real server are tested in test_rasa_server.py and the call-flow tests)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from rasa_sdk.executor import ActionExecutor

from dialogs.actions import build_action_executor
from integrations.seed.demo import seed_demo
from integrations.services import calls
from integrations.services.call_report import call_report
from integrations.store import Database

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "dialogs" / "domain.yml"
# A fixed Monday morning far from the real clock: offers and "next Tuesday" never drift.
TODAY = date(2031, 3, 3)
NOW = datetime.combine(TODAY, time(8, 0))
_calls = itertools.count(1)


@pytest.fixture
async def clinic(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path}/clinic.db", Fernet.generate_key())
    await db.create_all()
    await seed_demo(db, TODAY)
    yield db
    await db.dispose()


@dataclass
class Turn:
    """What one action returned: slot values it set, texts and payloads it sent."""

    slots: dict[str, Any]
    texts: list[str]
    payloads: list[dict[str, Any]]

    @property
    def said(self) -> str:
        return " ".join(self.texts)


@dataclass
class Conversation:
    """A tracker under construction, as Rasa would hold it for one call."""

    executor: ActionExecutor
    domain: dict[str, Any]
    db: Database
    call_id: str = field(default_factory=lambda: f"call-{next(_calls)}")
    slots: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    latest: dict[str, Any] = field(default_factory=dict)
    caller_number: str | None = None

    async def open(self, caller_number: str | None = None) -> Conversation:
        self.caller_number = caller_number
        async with self.db.session() as s:
            await calls.open_call(s, call_id=self.call_id, caller_number=caller_number,
                                  started=NOW)
        return self

    def user(self, text: str, intent: str = "inform", **extra: Any) -> None:
        parse = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
        meta = {"caller_number": self.caller_number, "call_id": self.call_id,
                "triage_level": "none", "verified": bool(self.slots.get("verified")), **extra}
        self.latest = {**parse, "metadata": meta}  # as Rasa's tracker gives it to actions
        self.events.append({"event": "user", "text": text, "parse_data": parse,
                            "metadata": meta})

    def answer(self, slot: str, text: str, intent: str = "inform", **extra: Any) -> None:
        """The caller replies while the form asks for `slot` (Rasa fills it from_text);
        `extra` is more message metadata from the voice worker."""
        self.user(text, intent, **extra)
        self.slots["requested_slot"] = slot
        self.events.append({"event": "slot", "name": slot, "value": text})
        self.slots[slot] = text

    async def to_readback(self, form: str, name: str, dob: str) -> None:
        """Answer `form`'s name and date-of-birth questions: the date is read back next."""
        self.answer("patient_name", name)
        await self.run(f"validate_{form}", form)
        self.answer("dob", dob)
        await self.run(f"validate_{form}", form)

    async def run(self, action: str, form: str | None = None) -> Turn:
        call = {
            "next_action": action,
            "sender_id": self.call_id,
            "version": "3.6.21",
            "domain": self.domain,
            "tracker": {
                "sender_id": self.call_id,
                "slots": dict(self.slots),
                "latest_message": self.latest,
                "events": list(self.events),
                "active_loop": {"name": form} if form else {},
                "latest_action_name": "action_listen",
            },
        }
        result = await self.executor.run(call)
        assert result is not None
        changed = {}
        for event in result.events:
            if event.get("event") == "slot":
                changed[event["name"]] = event["value"]
                self.slots[event["name"]] = event["value"]
        self.events.extend(result.events)
        # Rasa keeps what the actions said in the tracker too (BotUttered events).
        self.events.extend({"event": "bot", "text": r["text"]} for r in result.responses
                           if r.get("text"))  # fmt: skip
        if form and action.startswith("validate_") and "requested_slot" not in changed:
            # The validator kept the domain's slot list: Rasa's FormAction picks the next one.
            required = self.domain["forms"][form]["required_slots"]
            missing = [s for s in required if self.slots.get(s) is None]
            changed["requested_slot"] = self.slots["requested_slot"] = next(iter(missing), None)
        texts = [r["text"] for r in result.responses if r.get("text")]
        payloads = [r["custom"] for r in result.responses if r.get("custom")]
        return Turn(changed, texts, payloads)

    async def report(self) -> dict[str, Any]:
        async with self.db.session() as s:
            return await call_report(s, self.call_id)


async def verified(c: Conversation, form: str, name: str, dob: str, reply: str = "yes") -> None:
    """Answer `form`'s identity questions and `reply` to the date read back."""
    await c.to_readback(form, name, dob)
    c.answer("dob_confirmed", reply)
    await c.run(f"validate_{form}", form)


@pytest.fixture
def domain() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DOMAIN_FILE.read_text())
    return data


@pytest.fixture
async def conversation(clinic: Database, domain: dict[str, Any]) -> Conversation:
    executor = build_action_executor(clinic, clock=lambda: NOW)
    return Conversation(executor, domain, clinic)
