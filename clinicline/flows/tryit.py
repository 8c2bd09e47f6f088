"""The Flows area's try-it chat: typed sentences go through the path a call's transcripts take
(triage's screen first, then the product conversation, the real Rasa and its real actions),
against a sandbox, never the clinic's own records.

The sandbox is this process's, started on first use and stopped when nobody has typed for
`IDLE_STOP_S`: a copy of the demo clinic in a SQLite file of its own (seeded today), an action
site on it, and a Rasa of its own that answers with the draft model (the newest trained
version's) or the published one, switched with Rasa's PUT /model (no call uses this Rasa).
A chat lives in the process that started it; a console sent to another app process starts a
new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from clinicline.callcheck import differences
from clinicline.callflow.clinic import ClinicConversation
from clinicline.callflow.recorder import StoreRecorder
from clinicline.config import HostPort
from clinicline.flows.history import FlowError
from clinicline.web.action_site import start_action_site
from dialogs.client import RasaClient
from dialogs.server import RasaServer, free_loopback_port
from dialogs.wording import DialogWording
from integrations.seed.demo import seed_demo
from integrations.services.call_report import call_report
from integrations.store import Database
from nlu.triage import TriageEngine
from voice.session.actions import (
    Action,
    CallerTurn,
    CallInfo,
    CallOutcome,
    CollectDigits,
    Hangup,
    PlayPrompt,
    Say,
    Transfer,
)

log = logging.getLogger(__name__)

IDLE_STOP_S = 15 * 60.0
# The golden scripted calls: the project's own, and the shared ones beside a checkout.
GOLDEN_DIRS = (
    ("project", Path(__file__).resolve().parents[2] / "dialogs" / "evaluation" / "calls"),
    ("shared", Path(__file__).resolve().parents[3] / "shared" / "eval" / "calls"),
)
# A scripted call's expectations that need someone to answer the transfer (none does here).
NEEDS_A_PERSON = ("transferred", "screen_pop")
MAX_CHATS = 20
MAX_TURNS = 40
# The demo clinic's Maria Lopez: the chat calls from her number, as a known caller would.
CHAT_CALLER = "+15550100001"


class SandboxStarting(FlowError):
    """The sandbox's Rasa is loading its model; the chat is tried again in a few seconds."""


@dataclass
class ChatLine:
    speaker: str  # "caller", "bot" (what the caller hears), "line" (what the line does)
    text: str

    def as_json(self) -> dict[str, str]:
        return {"speaker": self.speaker, "text": self.text}


@dataclass
class Chat:
    owner: str
    call: CallInfo
    conversation: ClinicConversation
    lines: list[ChatLine] = field(default_factory=list)
    ended: bool = False
    turns: int = 0
    used: float = field(default_factory=time.monotonic)


class SandboxGate:
    """The dialogs' gate for the sandbox: its Rasa is asked only once it answers."""

    available = True


@dataclass
class Sandbox:
    """The demo clinic copy, its action site and its Rasa (see the module's docstring)."""

    work_dir: Path
    wording: DialogWording
    db: Database | None = None
    recorder: StoreRecorder | None = None
    server: RasaServer | None = None
    client: RasaClient | None = None
    model: Path | None = None
    _runner: web.AppRunner | None = None
    _loading: asyncio.Task[None] | None = None

    async def ready_with(self, model: Path) -> RasaClient:
        """The sandbox's Rasa client once it answers with MODEL; SandboxStarting meanwhile
        (the first start takes about a minute here, a model switch less)."""
        if self._loading is not None and not self._loading.done():
            raise SandboxStarting("the try-it dialogs are loading their model: a moment")
        if self._loading is not None:
            failed, self._loading = self._loading.exception(), None
            if failed is not None:
                await self.stop()
                raise FlowError(f"the try-it dialogs could not start: {failed}")
        if self.client is not None and self.model == model:
            return self.client
        self._loading = asyncio.get_running_loop().create_task(self._load(model), name="sandbox")
        raise SandboxStarting("the try-it dialogs are loading their model: a moment")

    async def _load(self, model: Path) -> None:
        if self.db is None:
            await self._open_store()
        if self.server is None:
            assert self.db is not None
            token = secrets.token_urlsafe(32)
            self._runner, actions = await start_action_site(
                self.db, HostPort("127.0.0.1", 0), token, wording=self.wording
            )
            api = secrets.token_urlsafe(32)
            self.server = RasaServer(
                model, port=free_loopback_port(), action_url=actions.url,
                nlg_url=actions.nlg_url, run_dir=self.work_dir / "rasa", api_token=api,
                action_token=token,
            )  # fmt: skip
            await self.server.start()
            await self.server.wait_ready()
            self.client = RasaClient(self.server.base_url, token=api, timeout=30.0)
        elif self.model != model:
            assert self.client is not None
            await self.client.load_model(str(model))
        self.model = model

    async def _open_store(self) -> None:
        if self.work_dir.exists():
            shutil.rmtree(self.work_dir)
        self.work_dir.mkdir(parents=True)
        self.db = await Database.connect(f"sqlite+aiosqlite:///{self._store}")
        await self.db.migrate()
        await seed_demo(self.db, date.today())
        await self.db.engine.dispose()  # the seeded file complete on disk, then kept as it is
        shutil.copy(self._store, self._pristine)
        self.recorder = StoreRecorder(self.db, worker="try-it")
        self.recorder.start()

    @property
    def _store(self) -> Path:
        return self.work_dir / "sandbox.db"

    @property
    def _pristine(self) -> Path:
        return self.work_dir / "sandbox-as-seeded.db"

    async def reset(self) -> None:
        """The demo clinic as seeded again (a golden call must not meet the refills and
        bookings of the chats before it). The store's connections are closed and reopen on
        the fresh copy; the action site keeps the same store object."""
        if self.db is None or self.recorder is None:
            return
        await self.recorder.flush()
        await self.db.engine.dispose()
        for leftover in (
            self._store.with_name("sandbox.db-wal"),
            self._store.with_name("sandbox.db-shm"),
        ):
            leftover.unlink(missing_ok=True)
        shutil.copy(self._pristine, self._store)

    async def stop(self) -> None:
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loading
        self._loading = None
        if self.client is not None:
            await self.client.close()
        if self.server is not None:
            await self.server.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.recorder is not None:
            await self.recorder.stop()
        if self.db is not None:
            await self.db.dispose()
        self.db = self.recorder = self.server = self.client = self.model = self._runner = None


@dataclass
class TryItChats:
    """The chats of this process, against one sandbox."""

    sandbox: Sandbox
    triage: TriageEngine
    chats: dict[str, Chat] = field(default_factory=dict)
    _idle: asyncio.Task[None] | None = None
    # Test calls of the draft flow on the sandbox (`clinicline.flows.callme`): none under way
    # may lose its sandbox to the idle stop, and the last one's end counts as a use.
    test_calls: int = 0
    _last_call: float = 0.0

    def test_call_started(self) -> None:
        self.test_calls += 1
        self._watch_idle()

    def test_call_ended(self) -> None:
        self.test_calls = max(0, self.test_calls - 1)
        self._last_call = time.monotonic()

    async def open(
        self, owner: str, model: Path, texts: Mapping[str, str], caller: str = CHAT_CALLER
    ) -> Chat:
        """A new chat, greeted; SandboxStarting while the sandbox loads MODEL. TEXTS: the
        fixed prompts' words (the newest wording, draft included)."""
        client = await self.sandbox.ready_with(model)
        assert self.sandbox.db is not None and self.sandbox.recorder is not None
        self._forget_old()
        call = CallInfo(f"try-{uuid.uuid4().hex[:12]}", caller, datetime.now(UTC),
                        worker="try-it")  # fmt: skip
        self.sandbox.recorder.open(call)
        conversation = ClinicConversation(
            triage=self.triage, dialog=client, gate=SandboxGate(), db=self.sandbox.db,
            recorder=self.sandbox.recorder,
        )  # fmt: skip
        chat = Chat(owner, call, conversation)
        self.chats[call.call_id] = chat
        await self._carry_out(chat, await conversation.start(call), texts)
        self._watch_idle()
        return chat

    def chat_of(self, chat_id: str, owner: str) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None or chat.owner != owner:
            raise FlowError("no such chat here: start a new one")
        return chat

    async def say(
        self, chat: Chat, text: str, texts: Mapping[str, str], *, digits: bool = False
    ) -> list[ChatLine]:
        """The caller's sentence (or keyed DIGITS) through screen, then the conversation; the
        new lines."""
        if chat.ended:
            raise FlowError("this chat has ended: start a new one")
        if chat.turns >= MAX_TURNS:
            raise FlowError(f"a chat holds at most {MAX_TURNS} sentences: start a new one")
        chat.turns += 1
        chat.used = time.monotonic()
        before = len(chat.lines)
        chat.lines.append(ChatLine("caller", text))
        now = datetime.now(UTC)
        recorder = self.sandbox.recorder
        if recorder is not None and not digits:
            await recorder.turn(chat.call, "caller", text, now - timedelta(seconds=2), now)
        interrupt = [] if digits else chat.conversation.screen(chat.call, text, True)
        if interrupt:
            await self._carry_out(chat, interrupt, texts)
        else:
            turn = (
                CallerTurn(digits=text, start=now, end=now)
                if digits
                else CallerTurn(text=text, start=now - timedelta(seconds=2), end=now)
            )
            await self._carry_out(chat, await chat.conversation.respond(chat.call, turn), texts)
        return chat.lines[before:]

    async def hang_up(self, chat: Chat) -> None:
        """The caller hangs up: the conversation finishes and the record is closed."""
        outcome = CallOutcome(ended=datetime.now(UTC), hung_up_by="caller")
        disposition = await chat.conversation.finish(chat.call, outcome)
        if self.sandbox.recorder is not None:
            await self.sandbox.recorder.closed(chat.call, outcome, disposition)
            await self.sandbox.recorder.flush()
        chat.ended = True

    async def replay(
        self, script: Mapping[str, Any], model: Path, texts: Mapping[str, str]
    ) -> dict[str, Any]:
        """A scripted call's steps as a chat, then its `expect:` block against the sandbox's
        record of it. Audio steps and what needs a person to answer (a transfer completed,
        its screen-pop) cannot be replayed in text: they are listed, not judged."""
        await self.sandbox.ready_with(model)
        await self.sandbox.reset()
        chat = await self.open("golden", model, texts, str(script.get("caller") or CHAT_CALLER))
        skipped: list[str] = []
        for step in script.get("say") or []:
            if chat.ended:
                break
            if isinstance(step, str):
                await self.say(chat, step, texts)
            elif isinstance(step, dict) and "dtmf" in step:
                await self.say(chat, str(step["dtmf"]), texts, digits=True)
            else:
                skipped.append(f"step {step!r}: audio is not replayed in text")
        await self.hang_up(chat)  # the caller's last step, or the transfer the line chose
        assert self.sandbox.db is not None
        async with self.sandbox.db.session() as s:
            record = json.loads(json.dumps(await call_report(s, chat.call.call_id), default=str))
        expect = dict(script.get("expect") or {})
        for key in NEEDS_A_PERSON:
            if expect.pop(key, None) is not None:
                skipped.append(f"{key}: needs a person to answer")
        found = []
        if "transfer_queue" in expect:  # the queue the line asked for; nobody answers here
            queue = str(expect.pop("transfer_queue"))
            asked = [ln.text for ln in chat.lines if ln.speaker == "line" and "transfer" in ln.text]
            if not any(f"to the {queue} queue" in a for a in asked):
                found.append(
                    f"transfer_queue: expected {queue}; the line: {asked or 'no transfer'}"
                )
        found += differences(expect, record)
        return {"script": str(script.get("name", "")), "passed": not found,
                "differences": found, "skipped": skipped,
                "lines": [ln.as_json() for ln in chat.lines]}  # fmt: skip

    async def _carry_out(
        self, chat: Chat, actions: Sequence[Action], texts: Mapping[str, str]
    ) -> None:
        for action in actions:
            if isinstance(action, Say):
                chat.lines.append(ChatLine("bot", action.text))
            elif isinstance(action, PlayPrompt):
                chat.lines.append(ChatLine("bot", texts.get(action.name, f"[{action.name}]")))
                now = datetime.now(UTC)
                chat.conversation.played(chat.call, action.name, now, now, "completed")
            elif isinstance(action, CollectDigits):
                chat.lines.append(ChatLine("line", "waits for keypad digits"))
            elif isinstance(action, Transfer):
                how = "an emergent transfer" if action.emergent else "a transfer"
                chat.lines.append(ChatLine("line", f"{how} to the {action.queue} queue; "
                                                   "the chat ends here"))  # fmt: skip
                chat.ended = True
            elif isinstance(action, Hangup):
                chat.lines.append(ChatLine("line", "hangs up"))
                chat.ended = True

    def _forget_old(self) -> None:
        if len(self.chats) >= MAX_CHATS:
            oldest = min(self.chats.values(), key=lambda c: c.used)
            self.chats.pop(oldest.call.call_id, None)

    def _watch_idle(self) -> None:
        if self._idle is None or self._idle.done():
            self._idle = asyncio.get_running_loop().create_task(self._stop_when_idle())

    async def _stop_when_idle(self) -> None:
        while True:
            await asyncio.sleep(60.0)
            last = max([c.used for c in self.chats.values()] + [self._last_call])
            if self.test_calls == 0 and time.monotonic() - last > IDLE_STOP_S:
                self.chats.clear()
                await self.sandbox.stop()
                return

    async def stop(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._idle
        await self.sandbox.stop()


def golden_scripts(
    dirs: Sequence[tuple[str, Path]] = GOLDEN_DIRS,
) -> list[dict[str, Any]]:
    """Every scripted call (`*.yaml` with `say` and `expect`), named by its file."""
    scripts = []
    for label, folder in dirs:
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(data, dict) and "say" in data and "expect" in data:
                scripts.append({**data, "name": f"{label}/{path.stem}"})
    return scripts


def chat_json(chat: Chat, lines: Sequence[ChatLine]) -> dict[str, Any]:
    return {"chat": chat.call.call_id, "lines": [ln.as_json() for ln in lines],
            "ended": chat.ended}  # fmt: skip
