"""The product's conversation: triage first, then the Rasa dialogs, with a keypad fallback.

Order of concerns on every caller turn:
1. `screen` — the deterministic red-flag engine, synchronous, depending on nothing that can
   be down, at every moment of the call (see `voice.session.phase`). An emergent flag plays
   the pre-rendered emergency message (no barge-in) and starts the nurse transfer, turning a
   transfer already under way into the emergent one. No identity check comes first.
2. An urgent flag offers the nurse now (a caller who declines gets a same-day callback task);
   said while a routine transfer is under way, it moves that transfer to the nurse queue.
3. Otherwise the turn goes to Rasa. When Rasa is starting or down, the caller gets a keypad
   menu and a human, never dead air.

The record tells only what happened: the emergency message is marked played when it played
to its end; "transferred" and the transfer dispositions are written by routing once a person
answers; a flagged caller who reached nobody leaves an urgent nurse callback task.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select

from clinicline.callflow.confirm_recheck import ConfirmRecheck
from clinicline.callflow.date_recheck import DateRecheck
from clinicline.callflow.name_recheck import NameRecheck
from clinicline.callflow.prompts import EMERGENCY_PROMPTS
from clinicline.callflow.recorder import StoreRecorder
from clinicline.callflow.screening import (
    Answer,
    SymptomScreen,
    answer_of,
    emergency_actions,
    is_crisis,
    person_now_actions,
)
from clinicline.callflow.vocabulary import caller_hints, patient_hints
from clinicline.callflow.when_recheck import HINTS as WHEN_HINTS
from clinicline.callflow.when_recheck import WhenRecheck
from dialogs.client import BotMessage
from dialogs.errors import DialogUnavailable
from integrations.services.calls import settle_unreached
from integrations.services.tasks import create_task
from integrations.store import Database
from integrations.store.models import Call
from nlu.confirm import mend_no, request_after_no, yes_no
from nlu.triage import Level, TriageEngine, TriageResult
from voice.asr.base import AnswerKind
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
from voice.session.phase import CallPhase

log = logging.getLogger(__name__)

_QUEUES = {"nurse", "front_desk", "pharmacy", "billing", "scheduling"}
# What the dialog said it waits for -> the phase of the call meanwhile.
_EXPECT_PHASES = {
    "full_name": CallPhase.IDENTITY_FORM,
    "spelled_name": CallPhase.IDENTITY_FORM,
    "dob": CallPhase.IDENTITY_FORM,
    "dob_confirmed": CallPhase.IDENTITY_FORM,
    "name_confirmed": CallPhase.IDENTITY_FORM,
}
# Dialog questions whose answers the recogniser hears as such (see `WhisperRecognizer`).
_EXPECT_ANSWERS: dict[str, AnswerKind] = {
    "full_name": "name",
    "dob": "date",
    "spelled_name": "spelling",
    "medication": "medication",
    "when_text": "when",
}
# Questions answered yes or no: the answer is heard again held to yes and no (`ConfirmRecheck`).
_YES_NO_QUESTIONS = frozenset(
    {"dob_confirmed", "name_confirmed", "refill_confirmed", "cancel_confirmed"}
)
# Phases in which a routine transfer is under way: an urgent flag moves it to the nurses.
_TRANSFER_PHASES = frozenset(
    {
        CallPhase.TRANSFER_HOLD,
        CallPhase.CONSULT_RINGING,
        CallPhase.WHISPER,
        CallPhase.QUEUE_CHOICE,
        CallPhase.HOLD_QUEUE,
        CallPhase.BRIDGED,
    }
)
_RANK = {Level.NONE: 0, Level.URGENT: 1, Level.EMERGENT: 2}


class DialogPort(Protocol):
    """The Rasa client as the conversation sees it."""

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[BotMessage]: ...


class DialogGate(Protocol):
    """Whether the dialogs server is up (the supervisor keeps this current)."""

    @property
    def available(self) -> bool: ...


@dataclass
class _State:
    level: Level = Level.NONE
    flags: list[str] = field(default_factory=list)
    escalated: bool = False
    urgent_offered: bool = False
    urgent_pending: bool = False
    transferred: bool = False  # a transfer was asked for (routing records whether answered)
    transfer_queue: str | None = None
    flagged_transfer: bool = False  # a transfer for a red flag (emergent or urgent)
    menu_attempts: int = 0
    in_menu: bool = False
    # In the keypad menu only because the dialogs were down: back to them once they are up.
    menu_for_outage: bool = False
    expecting: str | None = None  # what the dialog's last question asked for
    last_question: Say | PlayPrompt | None = None  # asked again when she says nothing
    ended_by_dialog: bool = False
    symptoms: SymptomScreen = field(default_factory=SymptomScreen)


# The clinic's own prompts that ask the caller something.
_QUESTION_PROMPTS = frozenset({"screening_question", "nurse_offer"})


# A reply that ends by asking the caller to do something is a question too: said again, not
# "How can I help you?", when she is silent (a `make run` call asked her to spell her name,
# heard nothing, and started the call over).
_REQUEST = re.compile(
    r"(please\s+)?(say|tell me|spell|press|enter|type|key in|give me|repeat)\b", re.I
)
# Words that place a question in the reply it came in ("Sure. First, what is the patient's full
# name?"): after "Sorry, I didn't hear anything." they no longer fit and are left out.
_OPENER = re.compile(r"^(?:first|now|next|okay|ok|sure|great|alright|all right|thanks),\s+", re.I)


def _without_opener(sentence: str) -> str:
    rest = _OPENER.sub("", sentence, count=1)
    return sentence if rest == sentence or not rest else rest[0].upper() + rest[1:]


def last_question(actions: Sequence[Action]) -> Say | PlayPrompt | None:
    """The question the caller was last asked in these actions (a reply's last sentence that
    asks something, or asks her to: "Please spell the patient's last name"), with what the
    reply says after it ("Please type the date of birth on your keypad. Two digits for the
    month…": without its second sentence a silent caller heard "How can I help you?"), if any."""
    for action in reversed(actions):
        if isinstance(action, PlayPrompt) and action.name in _QUESTION_PROMPTS:
            return action
        if isinstance(action, Say):
            sentences = re.split(r"(?<=[.!?])\s+", action.text.strip())
            for at in range(len(sentences) - 1, -1, -1):
                if sentences[at].endswith("?") or _REQUEST.match(sentences[at]):
                    return Say(" ".join([_without_opener(sentences[at]), *sentences[at + 1 :]]))
    return None


def asked_for(messages: Sequence[BotMessage]) -> str | None:
    """What the dialog's reply asks the caller for ("dob", "full_name"...), if it says."""
    for message in reversed(messages):
        payload = message.payload or {}
        if payload.get("kind") in ("expect", "collect_digits"):
            return str(payload.get("what") or payload.get("purpose") or "") or None
    return None


def bot_actions(messages: Sequence[BotMessage]) -> list[Action]:
    """Rasa's text and custom payloads as session actions, in order."""
    actions: list[Action] = []
    for message in messages:
        if message.text:
            actions.append(Say(message.text))
        payload = message.payload or {}
        kind = payload.get("kind")
        if kind == "transfer":
            queue = str(payload.get("queue", "front_desk"))
            actions.append(
                Transfer(
                    queue if queue in _QUEUES else "front_desk", str(payload.get("reason", ""))
                )
            )
        elif kind == "hangup":
            actions.append(Hangup("dialog ended"))
        elif kind == "collect_digits":
            actions.append(
                CollectDigits(int(payload.get("max", 8)), str(payload.get("purpose", "")))
            )
        elif kind == "play_prompt":
            actions.append(PlayPrompt(str(payload.get("name", "not_understood"))))
    return actions


class ClinicConversation:
    """One call's conversation; build one per call with `ClinicConversation(...)`."""

    # Whether the conversation's own questions take a digit with no keys asked for (a
    # campaign call's "press 1 to confirm"); the clinic line's questions are answered aloud.
    digits_answer: bool = False

    def __init__(
        self,
        *,
        triage: TriageEngine,
        dialog: DialogPort,
        gate: DialogGate,
        db: Database,
        recorder: StoreRecorder,
        silence_reprompts: int = 2,
        names: NameRecheck | None = None,
        dates: DateRecheck | None = None,
        answers: ConfirmRecheck | None = None,
        whens: WhenRecheck | None = None,
    ) -> None:
        self.triage = triage
        self.dialog = dialog
        self.gate = gate
        self.db = db
        self.recorder = recorder
        self.silence_reprompts = silence_reprompts
        self.names = names
        self.dates = dates
        self.answers = answers
        self.whens = whens
        self.state = _State()
        self._names: list[str] = []  # the patients' names on file for the calling number
        # Medications: the verified patient's first, then those of the number's patients.
        self._medications: list[str] = []
        self._hinted_patient: int | None = None
        self._hint_task: asyncio.Task[None] | None = None
        self._patient_task: asyncio.Task[None] | None = None
        self._patient_hints_failed = False
        self._last_final: TriageResult | None = None  # of the caller's latest utterance

    # -- safety first ------------------------------------------------------------------
    def screen(
        self, call: CallInfo, text: str, final: bool, phase: CallPhase = CallPhase.LISTENING
    ) -> Sequence[Action]:
        actions = self._triage_words(call, text, final, phase)
        if actions:  # the question asked before the red flag is not asked again after it
            self.state.last_question = None
        return actions

    def _triage_words(
        self, call: CallInfo, text: str, final: bool, phase: CallPhase
    ) -> Sequence[Action]:
        # Partials: the lexicon alone (fast, synchronous); final words: the net behind it.
        if final:
            # A name or a date misheard is a run of odd words; a day asked for is not.
            answering = self.expected_answer(call) not in (None, "when")
            result = self._last_final = self.triage.assess_final(text, answering=answering)
        else:
            result = self.triage.assess(text)
        if result.level == Level.NONE:
            return []
        new = [f.category for f in result.flags if f.category not in self.state.flags]
        if self.state.escalated and not new:
            return []
        self._note_flags(call, result, phase)
        context: dict[str, object] = {
            "level": result.level.value,
            "flags": list(self.state.flags),
            "matched": result.matched,
            "phase": phase.value,
            "source": ",".join(dict.fromkeys(result.sources)),
        }
        if result.level == Level.EMERGENT and not self.state.escalated:
            self.state.escalated = True
            self._mark_transfer(call, "nurse", flagged=True)
            return emergency_actions(result, context)
        if (is_crisis(result) or result.net is not None) and self.state.transfer_queue != "nurse":
            # No offer to decline: a person now (never a callback for a flagged caller).
            self.state.urgent_offered = True
            self._mark_transfer(call, "nurse", flagged=True)
            return person_now_actions(result, context)
        bridged = phase is CallPhase.BRIDGED
        rerouted = new and self.state.transfer_queue != "nurse"
        if phase in _TRANSFER_PHASES and (bridged or rerouted):
            # A routine transfer under way goes to the nurses instead; on a bridged call the
            # person on the line is told (the transfer handler takes these in place).
            if not self.state.escalated:
                self._mark_transfer(call, "nurse", flagged=True)
            reason = "urgent: " + ", ".join(self.state.flags)
            return [
                PlayPrompt("nurse_transfer"),
                Transfer("nurse", reason, emergent=self.state.escalated, context=context),
            ]
        return []  # urgent: handled in respond(), without cutting the caller off

    def _note_flags(self, call: CallInfo, result: TriageResult, phase: CallPhase) -> None:
        if _RANK[result.level] > _RANK[self.state.level]:
            self.state.level = result.level
        for flag in result.flags:
            if flag.category not in self.state.flags:
                self.state.flags.append(flag.category)
        self.recorder.fields(
            call, triage_level=self.state.level.value, flags=list(self.state.flags)
        )
        self._spawn_event(
            call,
            "triage",
            {
                "level": result.level.value,
                "flags": [f.category for f in result.flags],
                "matched": result.matched,
                "phase": phase.value,
                "at": datetime.now(UTC).isoformat(),
                "sources": result.sources,
                "net": None
                if result.net is None
                else {"description": result.net.description, "score": round(result.net.score, 3)},
            },
        )

    def phase(self, call: CallInfo) -> CallPhase | None:
        if self.state.in_menu and not self.state.transferred:
            return CallPhase.KEYPAD_MENU
        return _EXPECT_PHASES.get(self.state.expecting or "")

    def played(
        self, call: CallInfo, prompt: str, started: datetime, ended: datetime, outcome: str
    ) -> None:
        if prompt not in EMERGENCY_PROMPTS:
            return
        # For whoever watches the log live (an operator, a test): the record has it as well.
        seconds = (ended - started).total_seconds()
        log.info("call %s: emergency message %s (%.1f s)", call.call_id, outcome, seconds)
        self._spawn_event(
            call,
            "emergency_message",
            {
                "started": started.isoformat(),
                "ended": ended.isoformat(),
                "seconds": round(seconds, 3),
                "outcome": outcome,
            },
        )
        if outcome == "completed":
            self.recorder.fields(call, emergency_message_played=True)

    def _spawn_event(self, call: CallInfo, kind: str, data: dict[str, object]) -> None:
        self.recorder.submit(call.call_id, lambda s: _add_event(s, call.call_id, kind, data))

    # -- the call ----------------------------------------------------------------------
    def hints(self, call: CallInfo) -> Sequence[str]:
        # Month names are deliberately not hinted when a date is asked: measured with whisper
        # tiny.en, a list of them made "July nineteenth nineteen ninety" come out "July, 1990".
        # While a name is asked, only names: on a `make run` call in flite's voice, "Aisha
        # Khan" came out as her medication "sertraline" with her medications in the hints.
        if self.expected_answer(call) in ("name", "spelling"):
            return self._names
        # Which medication: her own list alone (names in the prompt would bias the words too).
        if self.expected_answer(call) == "medication" and self._medications:
            return self._medications
        if self.expected_answer(call) == "when":
            return WHEN_HINTS
        # Anything else: her medications, never her name. On a `make run` call in flite's
        # voice, "I need a refill on my lisinopril" came out "I need Maria Lopez on my
        # lisinopril" with the name on file in the hints, and the request was lost. Measured
        # on 27 opening requests in 3 and 5 voices: word errors 74/731 with her name first,
        # 67/731 without it (her medications after the clinic's words), and no name where
        # none was said (2 before).
        return self._medications

    def expected_answer(self, call: CallInfo) -> AnswerKind | None:
        return _EXPECT_ANSWERS.get(self.state.expecting or "")

    def keys_wanted(self, call: CallInfo) -> bool:
        # With no question asking for keys, a lone 7 waited out the 3 s for more keys before
        # "I can't use the keypad here" on a `make run` call; 0 waited as long for a person.
        return self.digits_answer or self.state.expecting is not None

    async def start(self, call: CallInfo) -> Sequence[Action]:
        # Hints load while the greeting plays: the greeting never waits for the store.
        self._hint_task = asyncio.get_running_loop().create_task(self._load_hints(call))
        if not self.gate.available:
            self.state.in_menu = self.state.menu_for_outage = True
            return [PlayPrompt("greeting"), PlayPrompt("keypad_menu"), CollectDigits(1, "menu")]
        return [PlayPrompt("greeting")]

    async def _load_hints(self, call: CallInfo) -> None:
        try:
            self._names, self._medications = await caller_hints(self.db, call.caller_number)
        except Exception:  # hints only sharpen recognition; the call goes on without them
            log.warning("call %s: no caller hints (store unavailable)", call.call_id)

    async def respond(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        actions = await self._respond(call, turn)
        self.state.last_question = last_question(actions)
        return actions

    async def _respond(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        if self.state.escalated:
            return [PlayPrompt("hold", barge_in=False)] if not self.state.transferred else []
        if self.state.level == Level.URGENT and not self.state.urgent_offered:
            self.state.urgent_offered = self.state.urgent_pending = True
            return [
                Say(
                    "That sounds like something a nurse should look at today. "
                    "Would you like me to connect you with a nurse now?"
                )
            ]
        if self.state.urgent_pending:
            self.state.urgent_pending = False
            answer = yes_no(turn.text or "")
            if answer is not None:
                return await self._urgent_answer(call, answer)
        if self.state.in_menu and self._dialogs_back(turn):
            # The conversation goes on where it stopped: Rasa keeps it in the shared store.
            self.state.in_menu = self.state.menu_for_outage = False
            self.state.menu_attempts = 0
            self._spawn_event(call, "dialogs_back", {})
        if self.state.in_menu:
            return self._menu(call, turn)
        screening = self.state.symptoms
        if screening.pending or screening.offering_nurse:
            actions = self._symptom_answer(call, turn)
            if actions is not None:
                return actions
            said_next = request_after_no(turn.text or "")
            if said_next:
                # "No thanks, I'd rather just book an appointment": she said what she wants.
                screening.held_text = None
                self._spawn_event(call, "nurse_declined", {"then": "their own next request"})
                turn = replace(turn, text=said_next)
                return await self._dialog_turn(call, turn, nurse_declined=True)
            if screening.near_only:
                screening.held_text = None
                self._spawn_event(call, "nurse_declined", {"then": "asked what they need"})
                return [PlayPrompt("nurse_declined")]
            turn = CallerTurn(text=screening.held_text)  # the dialog takes what they first said
            screening.held_text = None
            # They have just said no to a nurse: the symptom words that would lead the dialog
            # to the nurse queue are not a request for one.
            return await self._dialog_turn(call, turn, nurse_declined=True)
        elif screening.should_ask(self._last_final, turn):
            # A symptom nobody flagged never goes straight to self-service.
            self._spawn_event(call, "screening_question", _screening_cause(self._last_final))
            return screening.ask(turn, self._last_final)
        if turn.digits and set(turn.digits) == {"0"} and self.state.expecting is None:
            # 0 is a person on every phone line callers know (and on this one's keypad menu);
            # sent to the dialog it was "Okay. What can I help you with?" on a `make run` call.
            self._spawn_event(call, "operator", {"keys": turn.digits})
            self._mark_transfer(call, "front_desk")
            return [PlayPrompt("transfer"), Transfer("front_desk", "the caller pressed 0")]
        if (
            turn.digits
            and self.state.expecting is None
            and (not self.digits_answer or set(turn.digits) & {"*", "#"})
        ):
            # Sent to the dialog, "*#9" and "7" were "Okay. What can I help you with?" on
            # `make run` calls: as if nothing had happened. No question offers keys then, not
            # even the offered times: "2" was taken for 2 o'clock, not the second time.
            self._spawn_event(call, "keys_not_expected", {"count": len(turn.digits)})
            return [PlayPrompt("keys_not_expected")]
        return await self._dialog_turn(call, turn)

    def _symptom_answer(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action] | None:
        """The caller's answer to the screening question or to the nurse offer; None: on to
        the dialog with what they first said."""
        screening, answer = self.state.symptoms, answer_of(turn)
        if screening.pending:
            if answer is Answer.UNCLEAR and screening.tries == 0:
                screening.tries += 1
                return [PlayPrompt("screening_question")]
            screening.pending = False
            self._spawn_event(call, "screening_question", {"answer": answer.value})
            if answer is Answer.NO:
                screening.offering_nurse = True
                return [PlayPrompt("nurse_offer")]
            # Yes, or still unclear after asking twice: the emergent path (the safe side).
            self.state.escalated = True
            self.state.level = Level.EMERGENT
            self.state.flags.append("screening_positive")
            self.recorder.fields(call, triage_level="emergent", flags=list(self.state.flags))
            self._mark_transfer(call, "nurse", flagged=True)
            reason = f"screening question: {answer.value}"
            prompt = "emergency_crisis" if screening.crisis else "emergency"
            return [
                PlayPrompt(prompt, barge_in=False),
                Transfer("nurse", reason, emergent=True, context={"level": "emergent"},
                         emergency_prompt=prompt),
            ]
        screening.offering_nurse = False
        if answer is Answer.YES:
            self._mark_transfer(call, "nurse")
            transfer = Transfer("nurse", "symptom: the caller chose a nurse")
            return [PlayPrompt("nurse_transfer"), transfer]
        return None

    async def _dialog_turn(
        self, call: CallInfo, turn: CallerTurn, nurse_declined: bool = False
    ) -> Sequence[Action]:
        text = mend_no(turn.text) if turn.text is not None else (turn.digits or "")
        if self.state.expecting == "dob" and self.dates is not None and turn.text is not None:
            again = await self.dates.heard_again(text, turn.audio)
            if again is not None:
                self._spawn_event(call, "date_heard_again", {})
                text = again
        elif self.state.expecting in _YES_NO_QUESTIONS and self.answers is not None:
            again = await self.answers.heard_again(text, turn.audio)
            if again is not None:
                self._spawn_event(call, "answer_heard_again", {"yes": yes_no(again)})
                text = again
        elif self.state.expecting == "when_text" and self.whens is not None and turn.text:
            again = await self.whens.heard_again(text, turn.audio)
            if again is not None:
                self._spawn_event(call, "when_heard_again", {})
                text = again
        # No caller number: the actions read it from the call record, and Rasa's tracker
        # need not hold it.
        # Nothing read from the store before the turn: the actions read who is verified from
        # the store themselves, never from what the worker sends.
        metadata = {
            "call_id": call.call_id,
            "triage_level": self.state.level.value,
            **await self._name_heard_again(turn, text),
        }
        try:
            messages = await self.dialog.send(call.call_id, text, metadata)
        except DialogUnavailable:
            log.warning("call %s: dialogs unavailable, keypad menu", call.call_id)
            self.state.in_menu = self.state.menu_for_outage = True
            self._spawn_event(call, "dialogs_unavailable", {})
            return [PlayPrompt("keypad_menu"), CollectDigits(1, "menu")]
        self.state.expecting = asked_for(messages)
        just_verified = any((m.payload or {}).get("kind") == "verified" for m in messages)
        if just_verified and (self._patient_task is None or self._patient_task.done()):
            # While the reply plays: the caller is verified, listen for her own words. Whom
            # comes from the call record, read only now, not after every turn.
            self._patient_task = asyncio.get_running_loop().create_task(
                self._hear_for_patient(call.call_id)
            )
        actions = bot_actions(messages)
        if nurse_declined and any(isinstance(a, Transfer) and a.queue == "nurse" for a in actions):
            self._spawn_event(call, "nurse_declined", {"dialog_offered": "nurse"})
            return [PlayPrompt("nurse_declined")]
        for action in actions:
            if isinstance(action, Transfer):
                self._mark_transfer(call, action.queue)
            if isinstance(action, Hangup):
                self.state.ended_by_dialog = True
        return actions or [PlayPrompt("not_understood")]

    async def _name_heard_again(self, turn: CallerTurn, said: str) -> dict[str, Any]:
        """Keep the audio of the caller's name; once she gives her date of birth, the name is
        heard again with the names of the patients born that day, and the identity check that
        follows gets both hearings."""
        names, expecting = self.names, self.state.expecting
        if names is None:
            return {}
        if expecting == "full_name":
            names.heard_name(turn.audio)
            names.heard_date(said)  # both at once: "Maria Lopez, March fourth seventy-two"
        elif expecting == "dob":
            names.heard_date(said)
        elif expecting in ("dob_confirmed", "name_confirmed"):
            names.heard_date(said)  # a corrected date, if that is what she said
            again = await names.result()
            if again is not None:
                return {"name_heard_again": again.as_metadata()}
        elif expecting == "spelled_name":
            spelled = await names.spelled(turn.audio, said)
            if spelled is not None:
                return {"spelling_heard_again": spelled}
        return {}

    async def _urgent_answer(self, call: CallInfo, accept: bool) -> Sequence[Action]:
        if accept:
            transfer = Transfer("nurse", "urgent: " + ", ".join(self.state.flags))
            self._mark_transfer(call, "nurse", flagged=True)
            return [PlayPrompt("nurse_transfer"), transfer]
        async with self.db.session() as s:
            await create_task(
                s,
                kind="nurse_callback",
                queue="nurse",
                patient_id=None,
                call_id=call.call_id,
                note="Same-day nurse callback: caller declined a live transfer. Flags: "
                + ", ".join(self.state.flags),
            )
        self.recorder.fields(call, disposition="task_created")
        return [
            Say(
                "All right. A nurse will call you back today. "
                "Is there anything else I can help with?"
            )
        ]

    def _dialogs_back(self, turn: CallerTurn) -> bool:
        """Words (not keys) from a caller sent to the keypad by an outage that is over."""
        return (
            self.state.menu_for_outage
            and bool(turn.text and turn.text.strip())
            and not turn.digits
            and self.gate.available
        )

    def _menu(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        choice = (turn.digits or "").strip()
        if choice in ("1", "0"):
            queue = "nurse" if choice == "1" else "front_desk"
            transfer = Transfer(queue, "keypad menu")
            self._mark_transfer(call, queue)
            return [PlayPrompt("nurse_transfer" if queue == "nurse" else "transfer"), transfer]
        self.state.menu_attempts += 1
        if self.state.menu_attempts >= 2:
            transfer = Transfer("front_desk", "keypad menu: no valid choice")
            self._mark_transfer(call, "front_desk")
            return [PlayPrompt("transfer"), transfer]
        return [PlayPrompt("keypad_menu"), CollectDigits(1, "menu")]

    def _mark_transfer(self, call: CallInfo, queue: str, *, flagged: bool = False) -> None:
        # Only the queue asked for: `transferred` and the transfer dispositions are written
        # by routing once a person actually answers.
        self.state.transferred = True
        self.state.transfer_queue = queue
        self.state.flagged_transfer = self.state.flagged_transfer or flagged
        self.recorder.fields(call, transfer_queue=queue)

    def transfer_not_placed(self) -> None:
        """The transfer asked for was never placed (a test call says where it would go and
        hangs up): the call's end is not a transfer nobody answered, with no callback task."""
        self.state.transferred = False
        self.state.flagged_transfer = False

    async def _hear_for_patient(self, call_id: str) -> None:
        """Once the call has a verified patient, her own medications come first in the hints."""
        try:
            async with self.db.session() as s:
                patient = await s.scalar(select(Call.verified_patient_id).where(Call.id == call_id))
            if patient is not None and patient != self._hinted_patient:
                self._hinted_patient = patient
                own = await patient_hints(self.db, patient)
                self._medications = list(dict.fromkeys([*own, *self._medications]))
        except Exception:  # hints only sharpen recognition; the call goes on without them
            if not self._patient_hints_failed:  # once a call, not after every turn
                log.warning("call %s: no patient hints (store unavailable)", call_id)
            self._patient_hints_failed = True

    async def silence(self, call: CallInfo, count: int) -> Sequence[Action]:
        if count > self.silence_reprompts:
            self.state.ended_by_dialog = True
            return [PlayPrompt("silence_goodbye", barge_in=False), Hangup("silence")]
        if self.state.in_menu and not self.state.transferred:
            # "How can I help you?" would invite words the keypad menu cannot take.
            return [PlayPrompt("keypad_menu"), CollectDigits(1, "menu")]
        if self.state.last_question is not None:
            # Asked for a date of birth, "How can I help you?" would start the call over.
            return [PlayPrompt("reprompt_question"), self.state.last_question]
        return [PlayPrompt("reprompt")]

    async def finish(self, call: CallInfo, outcome: CallOutcome) -> str | None:
        """The disposition to use when the dialogs set none."""
        if self.names is not None:
            self.names.close()
        if self.state.transferred:
            # Routing has written the outcome if a person answered; if nobody did, say so,
            # and a flagged caller is called back by a nurse at once.
            if outcome.hung_up_by == "caller":
                unreached = "abandoned"
            elif outcome.reason == "callback":
                unreached = "task_created"
            else:
                unreached = "transfer_failed"
            note = None
            if self.state.flagged_transfer:
                note = (
                    "URGENT: red-flag caller ended the call before reaching a nurse. Call back "
                    "now and make sure they reached emergency care. Flags: "
                    + ", ".join(self.state.flags)
                )
            self.recorder.submit(
                call.call_id,
                lambda s: settle_unreached(
                    s, call.call_id, disposition=unreached, urgent_callback_note=note
                ),
            )
            return unreached
        if outcome.hung_up_by == "caller":
            return "caller_hung_up"
        return "abandoned" if outcome.reason == "silence" else None


async def _add_event(s: Any, call_id: str, kind: str, data: dict[str, object]) -> None:
    from integrations.services.calls import add_event

    await add_event(s, call_id=call_id, kind=kind, data=data)


def _screening_cause(result: TriageResult | None) -> dict[str, object]:
    """Why the screening question was asked, for the record: symptom words, or what the net
    found the words close to."""
    cause: dict[str, object] = {"asked": True}
    if result is not None and result.symptom:
        cause["symptom"] = True
    elif result is not None and result.near is not None:
        cause["near"] = {"category": result.near.category, "score": result.near.score}
    return cause
