"""The Flows area's "call me": the line rings the supervisor's own phone and she hears the
draft flow as a caller would, through the real call path (her words recognised, triage first
with the newest red-flag words, the dialogs answering with the chosen model, the real actions),
against the try-it sandbox.

What differs from a clinic call, and why:
- the dialogs, their actions and the call's record are the sandbox's (a copy of the demo
  clinic), never the clinic's own records or numbers;
- a prompt whose newest wording is not published yet is spoken from that wording by the
  clinic's voice; the emergency prompts stay the rendered, published ones (they never wait on
  synthesis, even on a test call);
- a transfer rings nobody: the line says where the call would go, and hangs up; the record
  has a `test_call` event with the queue and disposition `test_call` (no "transfer failed",
  no nurse callback task). A red flag still plays the emergency message first, as it would
  for a patient.

The call is placed by this process's voice worker, from the slots it keeps beyond the reserve
for callers and consult legs; a process without a worker, or a full one, says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from clinicline.callflow.clinic import ClinicConversation
from clinicline.callflow.confirm_recheck import ConfirmRecheck
from clinicline.callflow.date_recheck import DateRecheck
from clinicline.callflow.name_recheck import NameRecheck
from clinicline.callflow.prompts import EMERGENCY_PROMPTS
from clinicline.callflow.when_recheck import WhenRecheck
from clinicline.flows.history import FlowError
from clinicline.flows.tryit import CHAT_CALLER, SandboxGate, TryItChats
from integrations.services import calls as call_records
from nlu.triage import TriageEngine
from voice.asr.base import AnswerKind
from voice.audio.amd import AmdResult, Verdict
from voice.session.actions import (
    Action,
    CallerTurn,
    CallInfo,
    CallOutcome,
    Hangup,
    PlayPrompt,
    Say,
    Transfer,
)
from voice.session.phase import CallPhase

if TYPE_CHECKING:  # the worker is this process's, given by `serve`
    from voice.worker import OutboundCall, VoiceWorker

log = logging.getLogger(__name__)

RING_SECONDS = 30.0


def where_it_would_go(transfer: Transfer) -> str:
    """What the test call says instead of ringing staff."""
    how = "as an emergency, " if transfer.emergent else ""
    return (
        f"This is a test call, so nobody is rung. A caller would now be put through, {how}"
        f"to the {transfer.queue.replace('_', ' ')} queue. Goodbye."
    )


class DraftCallConversation:
    """The product conversation of a test call, with its prompts and transfers changed as
    the module's docstring says. Everything else is the clinic conversation's own."""

    def __init__(
        self, inner: ClinicConversation, draft: Mapping[str, str], published: Mapping[str, str]
    ) -> None:
        self.inner = inner
        # The prompts whose newest words are not the ones the workers have rendered.
        self.spoken = {
            name: text
            for name, text in draft.items()
            if name not in EMERGENCY_PROMPTS and text != published.get(name)
        }
        self.not_placed: list[Transfer] = []  # the transfers the line said instead of placing

    def _changed(self, call: CallInfo, actions: Sequence[Action]) -> list[Action]:
        out: list[Action] = []
        for action in actions:
            if isinstance(action, PlayPrompt) and action.name in self.spoken:
                out.append(Say(self.spoken[action.name], barge_in=action.barge_in))
            elif isinstance(action, Transfer):
                self._not_placed(call, action)
                out += [Say(where_it_would_go(action), barge_in=False), Hangup("test_call")]
                break
            else:
                out.append(action)
        return out

    def _not_placed(self, call: CallInfo, transfer: Transfer) -> None:
        """On the record: the transfer the line chose, and that nobody was rung."""
        self.not_placed.append(transfer)
        self.inner.transfer_not_placed()
        data = {"queue": transfer.queue, "emergent": transfer.emergent, "placed": False}
        self.inner.recorder.submit(
            call.call_id,
            lambda s: call_records.add_event(s, call_id=call.call_id, kind="test_call", data=data),
        )

    async def start(self, call: CallInfo) -> Sequence[Action]:
        return self._changed(call, await self.inner.start(call))

    def screen(
        self, call: CallInfo, text: str, final: bool, phase: CallPhase = CallPhase.LISTENING
    ) -> Sequence[Action]:
        return self._changed(call, self.inner.screen(call, text, final, phase))

    def phase(self, call: CallInfo) -> CallPhase | None:
        return self.inner.phase(call)

    def played(
        self, call: CallInfo, prompt: str, started: datetime, ended: datetime, outcome: str
    ) -> None:
        self.inner.played(call, prompt, started, ended, outcome)

    async def respond(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        return self._changed(call, await self.inner.respond(call, turn))

    def hints(self, call: CallInfo) -> Sequence[str]:
        return self.inner.hints(call)

    def expected_answer(self, call: CallInfo) -> AnswerKind | None:
        return self.inner.expected_answer(call)

    def keys_wanted(self, call: CallInfo) -> bool:
        return self.inner.keys_wanted(call)

    async def silence(self, call: CallInfo, count: int) -> Sequence[Action]:
        return self._changed(call, await self.inner.silence(call, count))

    async def finish(self, call: CallInfo, outcome: CallOutcome) -> str | None:
        if not self.not_placed:
            return await self.inner.finish(call, outcome)
        # A test call that ended where a transfer would have begun.
        await self.inner.finish(call, outcome)
        return "test_call"


class DraftCalls:
    """The test calls this process's worker places, each against the try-it sandbox."""

    def __init__(self, worker: VoiceWorker, chats: TryItChats) -> None:
        self.worker = worker
        self.chats = chats
        self._calls: dict[str, asyncio.Task[OutboundCall]] = {}  # by the supervisor called

    async def ring(
        self,
        uri: str,
        model: Path,
        triage: TriageEngine,
        draft: Mapping[str, str],
        published: Mapping[str, str],
        who: str,
    ) -> None:
        """Ring URI (the supervisor WHO's own phone) with the draft flow: the dialogs on
        MODEL, red flags judged by TRIAGE, the prompts' DRAFT words where they differ from the
        PUBLISHED ones. Returns once the call is placed (it rings and runs in the background);
        SandboxStarting while the sandbox loads MODEL (asked again in a few seconds)."""
        if who in self._calls:
            raise FlowError("your test call is still under way: hang up first")
        if not self.worker.room_to_call_out:
            raise FlowError("the line has no room for a test call now: every spare line is busy")
        client = await self.chats.sandbox.ready_with(model)
        sandbox = self.chats.sandbox
        assert sandbox.db is not None and sandbox.recorder is not None
        db, recorder = sandbox.db, sandbox.recorder
        recognizer = self.worker.plant.recognizer

        def choose(info: CallInfo, amd: AmdResult) -> DraftCallConversation | None:
            if amd.verdict is Verdict.MACHINE:  # her voicemail: nobody to try it on
                return None
            recorder.open(info)
            inner = ClinicConversation(
                triage=triage, dialog=client, gate=SandboxGate(), db=db,
                recorder=recorder, names=NameRecheck(db, recognizer),
                dates=DateRecheck(recognizer), answers=ConfirmRecheck(recognizer),
                whens=WhenRecheck(recognizer),
            )  # fmt: skip
            return DraftCallConversation(inner, draft, published)

        log.info("flows: a test call of the draft flow for %s", who)
        # From the demo patient the chat calls as: her records are the sandbox's.
        placing = self.worker.call_out(
            uri, number=CHAT_CALLER, choose=choose, ring_timeout=RING_SECONDS,
            recorder=recorder, outbound=False,
        )  # fmt: skip
        task = asyncio.get_running_loop().create_task(placing, name=f"draft-call-{who}")
        self._calls[who] = task
        self.chats.test_call_started()
        task.add_done_callback(functools.partial(self._done, who))

    def _done(self, who: str, task: asyncio.Task[OutboundCall]) -> None:
        self._calls.pop(who, None)
        self.chats.test_call_ended()
        if not task.cancelled() and task.exception() is not None:
            log.warning("flows: the test call failed (%s)", type(task.exception()).__name__)

    async def stop(self) -> None:
        for task in list(self._calls.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
