"""Schedule, reschedule, cancel and look up appointments for the verified caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from dialogs.actions import payloads
from dialogs.actions.context import ActionWithDeps, Deps, call_id
from dialogs.actions.identity import Slots
from dialogs.actions.offers import SlotOfferingValidation, by_provider
from dialogs.actions.phrasing import choose, speak_moment
from dialogs.actions.transfers import DECLINED, finish_handoff
from integrations.errors import EhrUnavailable
from integrations.services.scheduling import AppointmentInfo, upcoming
from nlu.confirm import yes_no

FLOW_SLOTS = ("when_text", "slot_choice", "offered_slots", "booking", "appointment_choice",
              "appointment_id", "appointments", "cancel_confirmed")


def appointment_to_slot(item: AppointmentInfo) -> dict[str, Any]:
    return {"appointment_id": item.appointment_id, "start": item.start.isoformat(),
            "provider": item.provider, "location": item.location}


MAX_APPOINTMENT_CHOICE_RETRIES = 2


def _times_said(tracker: Tracker, text: str, form: str) -> int:
    """How often `text` was said since `form` last began: a caller who asks twice in one call
    starts afresh the second time."""
    times = 0
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") == form:
            break
        times += event.get("event") == "bot" and event.get("text") == text
    return times


def describe(item: dict[str, Any]) -> str:
    return f"{speak_moment(datetime.fromisoformat(item['start']))} with {item['provider']}"


async def load_upcoming(deps: Deps, tracker: Tracker) -> list[dict[str, Any]]:
    pid = await deps.patient_id(tracker)
    if pid is None:
        return []
    if deps.ehr is not None:
        await deps.ehr.before_appointments(pid, deps.now())
    async with deps.db.session() as s:
        return [appointment_to_slot(a) for a in await upcoming(s, pid)]


class ValidateScheduleForm(SlotOfferingValidation):
    form = "schedule_form"


class AppointmentChoiceValidation(SlotOfferingValidation):
    """Forms about an existing appointment: pick it first (automatically when there is one)."""

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("appointments") == []:
            return []  # nothing to change; the submit action says so
        return await super().required_slots(domain_slots, dispatcher, tracker, domain)

    async def prefill(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Slots:
        items = await load_upcoming(self.deps, tracker)
        if len(items) == 1:
            return {"appointments": items, "appointment_id": items[0]["appointment_id"],
                    "appointment_choice": items[0]["start"]}
        return {"appointments": items}

    async def validate_appointment_choice(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        items: list[dict[str, Any]] = tracker.get_slot("appointments") or []
        starts = [datetime.fromisoformat(i["start"]) for i in items]
        said = str(value or "")
        # "The one with Dr. Okafor", when she has only one with that provider (before the
        # times: "the one" is not the first).
        index = by_provider(said, items)
        if index is not None and [i["provider"] for i in items].count(
            items[index]["provider"]
        ) > 1:
            index = None
        if index is None:
            index = choose(said, starts, yes_means_first=False)
        if index is None:
            again = self.deps.say("which_appointment_again")
            if _times_said(tracker, again, self.form) >= MAX_APPOINTMENT_CHOICE_RETRIES:
                # A `make run` caller was asked "which one?" four times over: people can
                # sort out which appointment she means.
                return {"appointment_choice": None, "handoff": "unclear_appointment"}
            dispatcher.utter_message(text=again)
            return {"appointment_choice": None}
        return {"appointment_choice": items[index]["start"],
                "appointment_id": items[index]["appointment_id"]}


class ValidateRescheduleForm(AppointmentChoiceValidation):
    form = "reschedule_form"


class ValidateCancelForm(AppointmentChoiceValidation):
    form = "cancel_form"

    async def absorb(self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> Slots:
        return {}

    async def validate_cancel_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        answer = value if isinstance(value, bool) else yes_no(str(value or ""))
        if answer is None:
            dispatcher.utter_message(text=self.deps.say("yes_or_no"))
        return {"cancel_confirmed": answer}


class ActionAskAppointmentChoice(ActionWithDeps):
    def name(self) -> str:
        return "action_ask_appointment_choice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        items = [describe(i) for i in tracker.get_slot("appointments") or []]
        dispatcher.utter_message(text=self.deps.say(
            "which_appointment", count=len(items), appointments=", and ".join(items)))
        return []


class ActionAskCancelConfirmed(ActionWithDeps):
    def name(self) -> str:
        return "action_ask_cancel_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        wanted = tracker.get_slot("appointment_id")
        item = next((i for i in tracker.get_slot("appointments") or []
                     if i["appointment_id"] == wanted), None)
        what = describe(item) if item else "that appointment"
        dispatcher.utter_message(
            text=self.deps.say("confirm_cancel", appointment=what),
            json_message=payloads.expect("cancel_confirmed"),
        )
        return []


class _Submit(ActionWithDeps):
    """Shared ending of the appointment flows: hand-offs, the outcome line, 'anything else?'."""

    action_name = ""
    intent = ""
    declined = "okay"  # said when the caller no longer wants a time: nothing has changed

    def name(self) -> str:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reset = [SlotSet(slot, None) for slot in FLOW_SLOTS]
        if tracker.get_slot("handoff") == DECLINED:
            # What she called about stays on the record; nothing was done, so no disposition.
            await self.deps.record(call_id(tracker), intent=self.intent)
            dispatcher.utter_message(text=self.deps.say(self.declined))
            dispatcher.utter_message(text=self.deps.say("anything_else"))
            return [SlotSet("handoff", None), *reset]
        # A `make run` call that said "no thanks, goodbye" to the offered times was recorded
        # with no request at all: the goodbye keeps it too.
        handed = await finish_handoff(self.deps, dispatcher, tracker, request=self.intent)
        if handed is not None or await self.deps.patient_id(tracker) is None:
            return (handed or []) + reset
        # What she called about stays on the record, with no disposition when nothing was
        # done: no appointment to move or cancel, or a cancel she said no to.
        disposition = None
        if tracker.get_slot("appointments") == []:
            dispatcher.utter_message(text=self.deps.say("no_upcoming_appointments"))
        else:
            disposition = await self.finish(dispatcher, tracker)
        done = {"disposition": disposition} if disposition else {}
        await self.deps.record(call_id(tracker), intent=self.intent, **done)
        dispatcher.utter_message(text=self.deps.say("anything_else"))
        return reset

    async def finish(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> str | None:
        raise NotImplementedError


class ActionSubmitSchedule(_Submit):
    action_name = "action_submit_schedule"
    intent = "schedule_appointment"
    declined = "nothing_booked"

    async def finish(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> str | None:
        booking = tracker.get_slot("booking")
        if not booking:
            return None
        dispatcher.utter_message(text=self.deps.say("booked", appointment=describe(booking)))
        return "appointment_booked"


class ActionSubmitReschedule(_Submit):
    action_name = "action_submit_reschedule"
    intent = "reschedule_appointment"
    declined = "kept_appointment"

    async def finish(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> str | None:
        booking = tracker.get_slot("booking")
        if not booking:
            return None
        dispatcher.utter_message(text=self.deps.say("moved", appointment=describe(booking)))
        return "appointment_rescheduled"


class ActionSubmitCancel(_Submit):
    action_name = "action_submit_cancel"
    intent = "cancel_appointment"

    async def finish(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> str | None:
        pid, appointment = await self.deps.patient_id(tracker), tracker.get_slot("appointment_id")
        if tracker.get_slot("cancel_confirmed") is not True or pid is None or appointment is None:
            dispatcher.utter_message(text=self.deps.say("kept_appointment"))
            return None
        try:
            await self._cancel(call_id(tracker), pid, int(appointment))
        except EhrUnavailable:
            dispatcher.utter_message(text=self.deps.say("cancel_system_down"))
            return None
        dispatcher.utter_message(text=self.deps.say("cancelled"))
        return "appointment_cancelled"

    async def _cancel(self, cid: str, pid: int, appointment_id: int) -> None:
        await self.deps.desk.cancel(call_id=cid, patient_id=pid, appointment_id=appointment_id)
