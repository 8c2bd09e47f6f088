"""The clinic's side of a call it placed: a person who answered, or a voicemail box.

`OutreachConversation` is the product conversation (`ClinicConversation`) with another middle:
red flags are screened on every word exactly as on an inbound call (the emergency message,
the nurse transfer, the screening question for a described symptom all come from there), and
"stop calling me" is honoured whenever it is said. What differs is what the bot asks:

1. who it is: the full name, then the date of birth, checked against the patient the campaign
   is calling (`verify_caller`, full threshold, no caller-ID allowance). Nothing about her — not
   even why we call — is said before that; two failed checks end the call politely;
2. then, by campaign kind: a reminder (confirm 1, cancel 2, reschedule 3; a move is offered
   the next two free times with the same provider), a provider-out notice (the same, without
   "confirm"), results ready (never read: a nurse now, or a nurse's call back), or a
   post-discharge check-in (a few questions; an answer that worries gets a nurse callback).

`VoicemailConversation` leaves a message with no PHI after the beep and hangs up. A box taken
for a person (a short greeting that paused before its beep) gives itself away when it beeps
over the bot's opening (`voice.audio.amd.LateBeep`): before anyone has answered, the person's
conversation leaves the same message instead (`OutreachConversation.late_beep`).
The outcome each reaches is read by the dialer (`clinicline.outbound.dialer`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from clinicline.callflow.clinic import ClinicConversation
from dialogs.actions.phrasing import choose, speak_moment, speak_time
from integrations.ehr.desk import AppointmentDesk
from integrations.ehr.fhir_client import EhrUnavailable
from integrations.errors import NotFound, SlotTaken
from integrations.services import scheduling
from integrations.services.campaigns import do_not_call
from integrations.services.identity import verify_caller
from integrations.services.tasks import create_task
from integrations.store.models import Appointment, Patient
from nlu.confirm import yes_no
from nlu.dates import parse_dob
from nlu.outreach import (
    CallLater,
    call_later,
    hours_said,
    no_time_preference,
    reminder_choice,
    wants_no_calls,
)
from nlu.triage import Level
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

log = logging.getLogger(__name__)

# Post-discharge check-in: each answer is screened like any caller's words; the flag says
# which answer asks for a nurse's call back ("no" to the first two, "yes" to the last).
CHECK_IN = (
    ("How have you been feeling since you went home? Are you feeling better?", False),
    ("Have you been able to take your medicines as prescribed?", False),
    ("Do you have any new symptoms, or any that are getting worse?", True),
)


# What a reminder's questions offer to say, by step (`OutreachConversation.hints`).
_OFFERED_WORDS: dict[str, tuple[str, ...]] = {
    "choice": ("confirm", "cancel", "reschedule"),
    "offers": ("the first one", "the second one"),
}


@dataclass(frozen=True)
class Outreach:
    """Whom the campaign calls and why (the number and name are PHI: never logged)."""

    kind: str
    patient_id: int
    appointment_id: int | None
    number: str
    first_name: str
    voicemail_first_name: bool = False


@dataclass(frozen=True)
class ClinicLine:
    name: str
    callback_number: str


def voicemail_message(outreach: Outreach, line: ClinicLine) -> str:
    """What a voicemail box is told: the clinic and its number, no PHI (the patient's first
    name only where the campaign allows it)."""
    whom = f" for {outreach.first_name}" if outreach.voicemail_first_name else ""
    return (
        f"Hello, this is {line.name} calling{whom}. Please call us back at "
        f"{line.callback_number}. Thank you."
    )


@dataclass
class _Outreach:
    step: str = "name"  # name, dob, choice, offers, results, check_in, done
    name_said: str = ""
    failed_checks: int = 0
    verified: bool = False
    offers: list[scheduling.SlotOffer] = field(default_factory=list)
    question: int = 0
    worries: list[str] = field(default_factory=list)
    unclear: int = 0
    outcome: str | None = None


class OutreachConversation(ClinicConversation):
    """A campaign's call answered by a person; see the module docstring."""

    digits_answer = True  # "press 1 to confirm, 2 to cancel"

    def __init__(
        self, *, outreach: Outreach, line: ClinicLine, desk: AppointmentDesk, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.outreach = outreach
        self.line = line
        self.desk = desk
        self.out = _Outreach()
        # Turns the callee has said; a voicemail's late beep is acted on only before the first.
        self._heard = 0
        # A voicemail box after all (its late beep): the message is being left (then, left).
        self._voicemail: str | None = None
        self._patient: tuple[str, date] | None = None
        self._appointment: Appointment | None = None
        self._opted_out = False
        self._later: CallLater | None = None  # she asked to be called another time
        self._asked_when_again = False  # "when would be better?" asked a second time

    # -- what the dialer reads ---------------------------------------------------------
    @property
    def outcome(self) -> str | None:
        """How the call ended for the campaign; None: nobody was reached (dial again)."""
        if self._voicemail == "left":
            return "voicemail_left"
        if self.out.outcome is not None:
            return self.out.outcome
        if self.state.escalated or self.state.flagged_transfer:
            return "escalated"
        if self._later is not None:
            return None  # called again, in the hours she gave
        if self.out.verified:
            return "reached"
        return None

    @property
    def call_later(self) -> CallLater | None:
        """When she asked to be called instead (the dialer settles the attempt with it)."""
        return self._later

    @property
    def opted_out(self) -> bool:
        """She said "stop calling me" (written at once; the dialer writes it again with the
        attempt if the store was down then)."""
        return self._opted_out

    # -- the call ----------------------------------------------------------------------
    async def start(self, call: CallInfo) -> Sequence[Action]:
        try:
            async with self.db.session() as s:
                patient = await s.get(Patient, self.outreach.patient_id)
                if patient is not None:
                    self._patient = (patient.full_name, patient.dob)
                    # Her name sharpens the recogniser; it is never said before she is verified.
                    self._names = [patient.full_name]
                if self.outreach.appointment_id is not None:
                    self._appointment = await s.get(Appointment, self.outreach.appointment_id)
        except Exception:
            log.warning("call %s: the store is unavailable for an outbound call", call.call_id)
        self.state.expecting = "full_name"
        return [
            Say(
                f"Hello, this is {self.line.name} calling with a message for one of our "
                "patients. To protect your privacy, may I have your full name, please?"
            )
        ]

    def expected_answer(self, call: CallInfo) -> AnswerKind | None:
        return {"name": "name", "dob": "date"}.get(self.out.step)  # type: ignore[return-value]

    def hints(self, call: CallInfo) -> Sequence[str]:
        # The words the question just asked offers. CI64: "I need to reschedule it." came out
        # "I need to rescue it." with no hint, and a reminder the patient wanted to move
        # ended unresolved.
        offered = _OFFERED_WORDS.get(self.out.step)
        return offered if offered is not None else super().hints(call)

    def keys_wanted(self, call: CallInfo) -> bool:
        return True  # a date of birth may be keyed at any step

    async def respond(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        if self._voicemail is not None and not self.state.escalated:
            if self.state.level is Level.NONE:
                return []  # words over the message: the box's, or nothing we act on
            return await super().respond(call, turn)
        self._heard += 1
        if not self.state.escalated and wants_no_calls(turn.text or ""):
            if self.state.level is Level.URGENT and not self.state.urgent_offered:
                # "Stop calling me, I've had a fever for days": honoured, but the nurse she
                # needs is offered first rather than hanging up on her.
                await self._honour_opt_out(call)
                return await super().respond(call, turn)
            return await self._opt_out(call)
        if self.out.step == "when_later" and self.state.level is Level.NONE:
            text = turn.text or ""
            hours = hours_said(text, datetime.now())
            given = hours.hours_given or hours.tomorrow or no_time_preference(text)
            if not given and not self._asked_when_again:
                # "Can you call me back" with no hour: the rest of her sentence was lost (a
                # pause on the line split it, or the hour was not understood).
                self._asked_when_again = True
                return [Say("Sorry, what time would suit you best?")]
            return self._call_back_later(call, hours)
        later = self._asks_to_be_called_later(turn)
        if later is not None:
            if not later.hours_given and not later.tomorrow:
                # "I'm driving", "not a good time": she may say when in the same breath (a
                # pause can split it) or if asked; the call ends once she has.
                self.out.step, self._later = "when_later", later  # hangs up now: called later
                self.state.expecting = None
                return [Say("Of course. When would be a better time to call you?")]
            return self._call_back_later(call, later)
        return await super().respond(call, turn)

    def _asks_to_be_called_later(self, turn: CallerTurn) -> CallLater | None:
        """ "Call me back after six" — not on a flagged turn (its path comes first), nor where
        "call me back" answers our own offer of a nurse's call back (a results call)."""
        if self.state.escalated or self.state.level is not Level.NONE:
            return None
        if self.out.step not in ("name", "dob", "choice", "offers", "check_in"):
            return None
        return call_later(turn.text or "", datetime.now())

    def _call_back_later(self, call: CallInfo, later: CallLater) -> Sequence[Action]:
        """Nothing about her is said: when we will call, and the clinic's number."""
        self._later, self.out.step = later, "done"
        self._spawn_event(
            call, "call_later",
            {"after": later.after.isoformat() if later.after else None,
             "before": later.before.isoformat() if later.before else None,
             "tomorrow": later.tomorrow},
        )  # fmt: skip
        self.recorder.fields(call, disposition="call_later")
        kept = " We'll keep to those hours from now on." if later.hours_given else ""
        return [
            Say(
                f"Of course. We'll call you back {_spoken_hours(later)}.{kept} You can also "
                f"reach us at {self.line.callback_number}. Goodbye."
            ),
            Hangup("call later"),
        ]

    def late_beep(self, call: CallInfo) -> Sequence[Action]:
        """A voicemail box whose short greeting paused before its beep was taken for a person:
        its beep came while we asked for the name. Nothing about the patient has been said;
        the box gets the voicemail message instead. Once the callee has answered anything (or
        a red flag was heard), it is a person, and a tone on their side changes nothing."""
        if self._heard or self.state.escalated or self.state.level is not Level.NONE:
            return []
        if self._voicemail is not None or self.out.step != "name":
            return []
        self._voicemail = "leaving"
        self._spawn_event(
            call, "voicemail", {"first_name": self.outreach.voicemail_first_name,
                                "after": "late beep"},
        )  # fmt: skip
        return [Say(voicemail_message(self.outreach, self.line), barge_in=False),
                Hangup("voicemail left")]  # fmt: skip

    async def finish(self, call: CallInfo, outcome: CallOutcome) -> str | None:
        disposition = await super().finish(call, outcome)
        # The message counts as left only when we hung up after saying it to its end.
        left = outcome.hung_up_by == "bot" and not self.state.transferred
        if self._voicemail == "leaving" and left:
            self._voicemail = "left"
            return "voicemail_left"
        return disposition

    async def silence(self, call: CallInfo, count: int) -> Sequence[Action]:
        if self._voicemail is not None:
            return []
        if count > self.silence_reprompts:
            return [
                Say(f"I'll let you go. You can reach us at {self.line.callback_number}. Goodbye."),
                Hangup("silence"),
            ]
        return [Say("Are you still there? " + self._question())]

    async def _dialog_turn(
        self, call: CallInfo, turn: CallerTurn, nurse_declined: bool = False
    ) -> Sequence[Action]:
        """The outreach's own middle (ClinicConversation sends Rasa this turn)."""
        text = turn.text or ""
        step = self.out.step
        if step == "name":
            self.out.name_said = text
            self.out.step = "dob"
            self.state.expecting = "dob"
            return [Say("Thank you. And your date of birth?")]
        if step == "dob":
            return await self._check_identity(call, turn)
        if step == "choice":
            return await self._choice(call, turn)
        if step == "offers":
            return await self._picked(call, turn)
        if step == "results":
            return await self._results_choice(call, turn)
        if step == "check_in":
            return await self._check_in(call, turn)
        return [Say("Thank you. Goodbye."), Hangup("done")]

    def _question(self) -> str:
        return {
            "name": "May I have your full name, please?",
            "dob": "What is your date of birth?",
            "choice": self._choices(),
            "offers": "Which time would you like, the first or the second?",
            "results": "Press 1 to speak with a nurse now, or 2 for a nurse to call you back.",
            "check_in": CHECK_IN[min(self.out.question, len(CHECK_IN) - 1)][0],
            "when_later": "When would be a better time to call you?",
        }.get(self.out.step, "")

    # -- who it is ---------------------------------------------------------------------
    async def _check_identity(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        text = turn.text if turn.text is not None else (turn.digits or "")
        if self.dates is not None and turn.text is not None:
            again = await self.dates.heard_again(text, turn.audio)
            if again is not None:
                self._spawn_event(call, "date_heard_again", {})
                text = again
        dob = parse_dob(text, date.today())
        verified = False
        if dob is not None and self._patient is not None:
            async with self.db.session() as s:
                found = await verify_caller(s, self.out.name_said, dob, None, call_id=call.call_id)
            verified = (
                found.status == "verified"
                and found.patient_id == self.outreach.patient_id
                and not found.needs_confirmation
            )
        self._spawn_event(call, "outreach_identity", {"verified": verified})
        if not verified:
            self.out.failed_checks += 1
            if self.out.failed_checks >= 2:
                self.out.outcome, self.out.step = "not_verified", "done"
                self.recorder.fields(call, disposition="verification_failed")
                return [
                    Say(
                        "I'm sorry, I wasn't able to confirm who I'm speaking with, so I can't "
                        f"go on. Please call us at {self.line.callback_number}. Goodbye."
                    ),
                    Hangup("not verified"),
                ]
            self.out.step, self.state.expecting = "name", "full_name"
            return [
                Say(
                    "I'm sorry, I couldn't match that. Let's try once more. "
                    "Please say your full name."
                )
            ]
        self.out.verified = True
        self.state.expecting = None
        self.recorder.fields(call, verified_patient_id=self.outreach.patient_id)
        return self._purpose()

    def _purpose(self) -> list[Action]:
        """Why we called, said only now that she is verified."""
        kind, appointment = self.outreach.kind, self._appointment
        if kind in ("reminder", "provider_out") and appointment is not None:
            self.out.step = "choice"
            when = speak_moment(appointment.start)
            who = appointment.provider.display_name
            if kind == "provider_out":
                opening = (
                    f"Thank you. {who} is not able to see patients at your appointment on "
                    f"{when}, so it needs to move."
                )
            else:
                opening = f"Thank you. This is a reminder of your appointment with {who} on {when}."
            return [Say(f"{opening} {self._choices()}")]
        if kind == "results_ready":
            self.out.step = "results"
            return [
                Say(
                    "Thank you. Your test results are ready. For your privacy, results are not "
                    "given by this automated call. To speak with a nurse about them now, press 1 "
                    "or say nurse. To have a nurse call you back, press 2 or say call me back."
                )
            ]
        if kind == "post_discharge":
            self.out.step = "check_in"
            return [
                Say(
                    "Thank you. We're calling to check on you since you left the hospital. "
                    + CHECK_IN[0][0]
                )
            ]
        self.out.step, self.out.outcome = "done", "not_needed"
        return [Say("Thank you. There is nothing more we need today. Goodbye."), Hangup("done")]

    def _choices(self) -> str:
        if self.outreach.kind == "provider_out":
            return (
                "To choose a new time, say reschedule or press 3. "
                "To cancel it, say cancel or press 2."
            )
        return (
            "To confirm it, say confirm or press 1. To cancel, say cancel or press 2. "
            "To move it to another time, say reschedule or press 3."
        )

    # -- a reminder --------------------------------------------------------------------
    async def _choice(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        picked = reminder_choice(turn.text, turn.digits)
        if picked == "confirm" and self.outreach.kind == "provider_out":
            picked = None  # that time cannot be kept
        appointment = self._appointment
        assert appointment is not None
        if picked is None:
            return self._unclear(call)
        if picked == "confirm":
            try:
                in_ehr = await self.desk.confirm(
                    call_id=call.call_id,
                    patient_id=self.outreach.patient_id,
                    appointment_id=appointment.id,
                )
            except NotFound:  # cancelled or moved meanwhile (by the front desk, the EHR)
                return await self._desk_down(call, "confirm", task_left=False)
            event: dict[str, object] = {"appointment_id": appointment.id, "in_ehr": in_ehr}
            self._spawn_event(call, "appointment_confirmed", event)
            self.out.outcome, self.out.step = "confirmed", "done"
            self.recorder.fields(call, disposition="appointment_confirmed")
            return [
                Say("Thank you, your appointment is confirmed. We'll see you then. Goodbye."),
                Hangup("done"),
            ]
        if picked == "cancel":
            try:
                await self.desk.cancel(
                    call_id=call.call_id,
                    patient_id=self.outreach.patient_id,
                    appointment_id=appointment.id,
                )
            except EhrUnavailable:
                return await self._desk_down(call, "cancel", task_left=True)
            except NotFound:  # moved meanwhile
                return await self._desk_down(call, "cancel", task_left=False)
            self.out.outcome, self.out.step = "cancelled", "done"
            self.recorder.fields(call, disposition="appointment_cancelled")
            return [
                Say(
                    "Your appointment is cancelled. If you'd like to book another, call us at "
                    f"{self.line.callback_number}. Goodbye."
                ),
                Hangup("done"),
            ]
        try:
            self.out.offers = await self.desk.next_free(appointment.provider_id, datetime.now())
        except EhrUnavailable:
            self.out.offers = []
        self.out.offers = [o for o in self.out.offers if o.start != appointment.start]
        if not self.out.offers:
            return await self._reschedule_later(call)
        self.out.step = "offers"
        times = " or ".join(speak_moment(o.start) for o in self.out.offers)
        return [
            Say(f"I can offer {times}. Which would you like? Say first or second, or press 1 or 2.")
        ]

    async def _picked(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        starts = [o.start for o in self.out.offers]
        key = (turn.digits or "").strip()[:1]
        if key:  # keys are positions ("press 1 or 2"), never hours
            index: int | None = int(key) - 1 if key.isdigit() and key != "0" else None
        else:
            index = choose(turn.text or "", starts, yes_means_first=len(starts) == 1)
        if index is None or index >= len(starts):
            return self._unclear(call)
        offer, appointment = self.out.offers[index], self._appointment
        assert appointment is not None
        try:
            booking = await self.desk.move(
                call_id=call.call_id,
                patient_id=self.outreach.patient_id,
                appointment_id=appointment.id,
                slot_id=offer.slot_id,
            )
        except SlotTaken:
            self.out.step = "choice"
            return await self._choice(call, CallerTurn(digits="3"))
        except EhrUnavailable:
            return await self._desk_down(call, "move", task_left=True)
        except NotFound:  # moved or cancelled meanwhile
            return await self._desk_down(call, "move", task_left=False)
        self.out.outcome, self.out.step = "rescheduled", "done"
        self.recorder.fields(call, disposition="appointment_rescheduled")
        return [
            Say(
                f"Done. Your appointment is now {speak_moment(booking.start)} with "
                f"{booking.provider}. Goodbye."
            ),
            Hangup("done"),
        ]

    async def _reschedule_later(self, call: CallInfo) -> Sequence[Action]:
        await self._task(
            call,
            "scheduling",
            "Campaign call: the patient asked to move her appointment; "
            "no free time was found on the call.",
        )
        self.out.outcome, self.out.step = "reschedule_requested", "done"
        return [
            Say(
                "I don't have another time to offer right now. Someone from scheduling will "
                "call you back to find one. Goodbye."
            ),
            Hangup("done"),
        ]

    async def _desk_down(self, call: CallInfo, what: str, *, task_left: bool) -> list[Action]:
        """Nothing was changed: the EHR was down (its sync has left a callback task then,
        `task_left`) or the appointment changed meanwhile (a task is left here)."""
        if not task_left:
            await self._task(
                call,
                "scheduling",
                f"Campaign call: the patient wanted to {what} her appointment, which had "
                "changed since the campaign began. Call her back.",
            )
        self.out.outcome, self.out.step = "reschedule_requested", "done"
        self.recorder.fields(call, disposition="task_created")
        return [
            Say(
                f"I'm sorry, I can't {what} it right now, and nothing has been changed. Someone "
                "from the clinic will call you back today to finish it. Goodbye."
            ),
            Hangup("done"),
        ]

    # -- results ready -----------------------------------------------------------------
    async def _results_choice(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        said = (turn.text or "").lower()
        key = (turn.digits or "").strip()[:1]
        if key == "1" or "nurse" in said and "back" not in said:
            self.out.outcome, self.out.step = "reached", "done"
            self._mark_transfer(call, "nurse")
            return [
                PlayPrompt("nurse_transfer"),
                Transfer("nurse", "results ready: the patient asked for a nurse"),
            ]
        if key == "2" or "back" in said or yes_no(said) is False:
            await self._task(
                call,
                "nurse",
                "Results-ready call: the patient asked for a nurse to call back about her results.",
            )
            self.out.outcome, self.out.step = "reached", "done"
            return [Say("A nurse will call you back about your results. Goodbye."), Hangup("done")]
        return self._unclear(call)

    # -- post-discharge check-in -------------------------------------------------------
    async def _check_in(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        question, worry_if = CHECK_IN[self.out.question]
        answer = yes_no(turn.text or "")
        self._spawn_event(
            call, "check_in_answer", {"question": self.out.question, "answer": answer}
        )
        if answer is worry_if or self.state.level is not Level.NONE:
            self.out.worries.append(question)
        self.out.question += 1
        if self.out.question < len(CHECK_IN):
            return [Say(CHECK_IN[self.out.question][0])]
        self.out.outcome, self.out.step = "reached", "done"
        if self.out.worries:
            await self._task(
                call,
                "nurse",
                "Post-discharge check-in: answers that need a nurse's call back today.",
            )
            return [
                Say(
                    "Thank you. A nurse will call you back today. If things get worse, call 911 "
                    "or go to the nearest emergency room. Goodbye."
                ),
                Hangup("done"),
            ]
        return [
            Say(
                f"Thank you, that's all. If anything changes, call us at "
                f"{self.line.callback_number}, or 911 in an emergency. Goodbye."
            ),
            Hangup("done"),
        ]

    # -- shared ------------------------------------------------------------------------
    def _unclear(self, call: CallInfo) -> list[Action]:
        """Asked again twice; then a person at the front desk takes it from there."""
        self.out.unclear += 1
        if self.out.unclear > 2:
            self.out.outcome = self.out.outcome or "reached"
            self.out.step = "done"
            self._mark_transfer(call, "front_desk")
            return [PlayPrompt("transfer"), Transfer("front_desk", "campaign call: unclear answer")]
        return [Say("Sorry, I didn't catch that. " + self._question())]

    async def _task(self, call: CallInfo, queue: str, note: str) -> None:
        async with self.db.session() as s:
            await create_task(
                s,
                kind="nurse_callback" if queue == "nurse" else "callback",
                queue=queue,
                patient_id=self.outreach.patient_id,
                call_id=call.call_id,
                note=note,
            )

    async def _opt_out(self, call: CallInfo) -> Sequence[Action]:
        self.out.outcome, self.out.step = "opted_out", "done"
        await self._honour_opt_out(call)
        self.recorder.fields(call, disposition="opted_out")
        return [
            Say("Understood. We won't call this number again with automated calls. Goodbye."),
            Hangup("opted out"),
        ]

    async def _honour_opt_out(self, call: CallInfo) -> None:
        """Her number and record join the do-not-call list (every campaign's pending calls
        to her end), and the call's record says so."""
        self._opted_out = True
        try:
            async with self.db.session() as s:
                await do_not_call(
                    s,
                    number=self.outreach.number,
                    patient_id=self.outreach.patient_id,
                    reason="opt_out",
                    call_id=call.call_id,
                )
        except Exception:
            # Said is said: the dialer writes her entry with the attempt (`opted_out`),
            # retrying until the store is back.
            log.exception("call %s: the opt-out could not be written yet", call.call_id)
        self._spawn_event(call, "opted_out", {})


def _spoken_hours(later: CallLater) -> str:
    """'after 6 PM', 'between 4 PM and 6 PM', 'tomorrow before noon', 'later'."""

    def clock(moment: time) -> str:
        return "noon" if moment == time(12) else speak_time(datetime.combine(date.min, moment))

    if later.after and later.before:
        hours = f"between {clock(later.after)} and {clock(later.before)}"
    elif later.after:
        hours = f"after {clock(later.after)}"
    elif later.before:
        hours = f"before {clock(later.before)}"
    else:
        hours = ""
    words = " ".join(part for part in ("tomorrow" if later.tomorrow else "", hours) if part)
    return words or "later"


class VoicemailConversation(ClinicConversation):
    """Leaves the campaign's message on a voicemail box, with no PHI, then hangs up.

    Still the product conversation underneath: if a person was taken for a machine and says
    a red flag over the message, the emergency path runs as on any call."""

    def __init__(self, *, outreach: Outreach, line: ClinicLine, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outreach, self.line = outreach, line
        self.left = False

    @property
    def outcome(self) -> str | None:
        if self.state.escalated or self.state.flagged_transfer:
            return "escalated"  # a person after all, and one with a red flag
        return "voicemail_left" if self.left else None

    async def start(self, call: CallInfo) -> Sequence[Action]:
        self._spawn_event(call, "voicemail", {"first_name": self.outreach.voicemail_first_name})
        return [Say(voicemail_message(self.outreach, self.line), barge_in=False),
                Hangup("voicemail left")]  # fmt: skip

    async def respond(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        if self.state.escalated or self.state.level is not Level.NONE:
            return await super().respond(call, turn)
        return []  # words over the message: a recording, or nothing we act on

    async def silence(self, call: CallInfo, count: int) -> Sequence[Action]:
        return []

    async def finish(self, call: CallInfo, outcome: CallOutcome) -> str | None:
        disposition = await super().finish(call, outcome)
        # The message counts as left only when we hung up after saying it to its end.
        self.left = outcome.hung_up_by == "bot" and not self.state.transferred
        if self.left:
            return "voicemail_left"
        return disposition
