"""A diagnostic dialog: greets, repeats what it heard, reads back keyed digits.

Used to check the audio path end to end (`clinicline serve --dialog echo`) without Rasa.
Triage still screens every word first, exactly as in the product dialog.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from nlu.triage import Level, TriageEngine
from voice.asr.base import AnswerKind
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


class DiagnosticDialog:
    """The Conversation hooks a diagnostic dialog has no use for: no recogniser vocabulary,
    no phases of its own beyond listening, nothing to note when a prompt was played."""

    def hints(self, call: CallInfo) -> Sequence[str]:
        return ()

    def expected_answer(self, call: CallInfo) -> AnswerKind | None:
        return None

    def keys_wanted(self, call: CallInfo) -> bool:
        return True  # the diagnostic dialogs say back whatever was keyed, all of it

    def phase(self, call: CallInfo) -> CallPhase | None:
        return None

    def played(
        self, call: CallInfo, prompt: str, started: datetime, ended: datetime, outcome: str
    ) -> None:
        return None


class EchoConversation(DiagnosticDialog):
    def __init__(self, triage: TriageEngine, recorder_finish: object | None = None) -> None:
        self.triage = triage
        self.escalated = False

    async def start(self, call: CallInfo) -> Sequence[Action]:
        return [PlayPrompt("greeting")]

    def screen(
        self, call: CallInfo, text: str, final: bool, phase: CallPhase = CallPhase.LISTENING
    ) -> Sequence[Action]:
        if self.escalated or self.triage.assess(text).level != Level.EMERGENT:
            return []
        self.escalated = True
        return [
            PlayPrompt("emergency", barge_in=False),
            Transfer("nurse", "red flag", emergent=True),
        ]

    async def respond(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        if turn.digits is not None:
            return [Say("You pressed " + " ".join(turn.digits) + ".")]
        text = (turn.text or "").strip()
        if text.lower().rstrip(".!") in {"goodbye", "bye", "good bye"}:
            return [PlayPrompt("goodbye", barge_in=False), Hangup("caller said goodbye")]
        return [Say(f"I heard: {text}")]

    async def silence(self, call: CallInfo, count: int) -> Sequence[Action]:
        if count >= 3:
            return [PlayPrompt("goodbye", barge_in=False), Hangup("silence")]
        return [PlayPrompt("reprompt")]

    async def finish(self, call: CallInfo, outcome: CallOutcome) -> str | None:
        return "caller_hung_up" if outcome.hung_up_by == "caller" else "info_given"
