"""Requests that end in an answer, a staff task or a transfer: info, results, billing, referrals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from dialogs.actions import payloads
from dialogs.actions.appointments import load_upcoming
from dialogs.actions.context import (
    ActionWithDeps,
    Deps,
    call_id,
    latest_intent,
    latest_text,
    text_of_last,
)
from dialogs.actions.phrasing import speak_moment
from dialogs.actions.transfers import finish_handoff, transfer
from dialogs.knowledge import Knowledge
from integrations.services.tasks import create_task
from nlu.confirm import asks_for_something
from nlu.numbers import spoken_digits

IDENTITY_REQUESTS = {"appointment_info", "test_results", "prior_authorization", "referral"}
# A caller whose request the line cannot place is told what it can do; the second time in a
# call she is put through to the front desk rather than told again.
MAX_NOT_SERVED = 2
# A member ID is letters and digits; six or more characters once spoken digits are joined.
MIN_MEMBER_ID = 6


class ActionServeRequest(ActionWithDeps):
    """Runs after the identity form for the requests that only need a verified caller."""

    def name(self) -> str:
        return "action_serve_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        intent, said = text_of_last(tracker, IDENTITY_REQUESTS)
        handed = await finish_handoff(self.deps, dispatcher, tracker, request=intent)
        pid = await self.deps.patient_id(tracker)
        if handed is not None or pid is None:
            return handed or []
        cid = call_id(tracker)
        if intent == "appointment_info":
            await self._appointment_info(dispatcher, tracker)
            disposition = "info_given"
        elif intent == "test_results":
            await self._task(cid, pid, "nurse_callback", "nurse", "Caller asked about results.")
            dispatcher.utter_message(text=self.deps.say("results_callback"))
            disposition = "task_created"
        else:
            kind = "prior_auth" if intent == "prior_authorization" else "referral"
            await self._task(cid, pid, kind, "front_desk", f"Caller said: {said}")
            # Which request, and who calls back: "passed that to our staff" told her neither.
            request = "prior authorization" if kind == "prior_auth" else "referral"
            dispatcher.utter_message(text=self.deps.say("passed_to_staff", request=request))
            disposition = "task_created"
        await self.deps.record(cid, intent=intent, disposition=disposition)
        dispatcher.utter_message(text=self.deps.say("anything_else"))
        return []

    async def _appointment_info(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        items = await load_upcoming(self.deps, tracker)
        if not items:
            dispatcher.utter_message(text=self.deps.say("no_upcoming_appointments"))
            return
        first = items[0]
        when = speak_moment(datetime.fromisoformat(first["start"]))
        dispatcher.utter_message(text=self.deps.say(
            "next_appointment", moment=when, provider=first["provider"],
            location=first["location"]))

    async def _task(self, cid: str, pid: int, kind: str, queue: str, note: str) -> int:
        async with self.deps.db.session() as s:
            return await create_task(s, kind=kind, queue=queue, patient_id=pid, call_id=cid,
                                     note=note)


def member_id(text: str) -> str | None:
    """A spoken or typed insurance member ID in the caller's words, if there is one."""
    joined = spoken_digits(text)
    for token in joined.split():
        compact = token.strip(".,").upper()
        if len(compact) >= MIN_MEMBER_ID and any(c.isdigit() for c in compact):
            return compact
    return None


class ActionBilling(ActionWithDeps):
    """Takes a new member ID when given (a staff task), then hands the caller to billing."""

    def name(self) -> str:
        return "action_billing"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        cid = call_id(tracker)
        found = member_id(latest_text(tracker))
        if found:
            async with self.deps.db.session() as s:
                await create_task(s, kind="insurance_update", queue="billing",
                                  patient_id=await self.deps.patient_id(tracker), call_id=cid,
                                  note=f"New insurance member ID given by phone: {found}")
            dispatcher.utter_message(text=self.deps.say("member_id_noted"))
        await transfer(self.deps, dispatcher, tracker, queue="billing",
                       reason="billing or insurance question", intent="billing_insurance",
                       say="connecting_billing")
        return []


class ActionClinicInfo(Action):
    def __init__(self, deps: Deps, knowledge: Knowledge) -> None:
        self.deps = deps
        self.knowledge = knowledge

    def name(self) -> str:
        return "action_clinic_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        topic, answer = self.knowledge.answer(latest_text(tracker))
        if "{hours}" in answer:
            answer = answer.replace("{hours}", self.deps.hours.spoken(self.deps.hours_now()))
        dispatcher.utter_message(text=answer)
        if topic:
            await self.deps.record(call_id(tracker), intent="clinic_info",
                                   disposition="info_given")
        dispatcher.utter_message(text=self.deps.say("anything_else"))
        return []


class ActionGoodbye(ActionWithDeps):
    def name(self) -> str:
        return "action_goodbye"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if latest_intent(tracker) == "deny" and asks_for_something(latest_text(tracker)):
            # "I need a note for work" taken for a no: the call was ended on a `make run` call.
            return await not_served(self.deps, dispatcher, tracker)
        dispatcher.utter_message(text=self.deps.say("goodbye"))
        dispatcher.utter_message(json_message=payloads.hangup())
        return []


async def not_served(
    deps: Deps, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[dict[str, Any]]:
    """A request the line cannot place: what it can do, and the front desk after the second."""
    times = int(tracker.get_slot("not_served") or 0) + 1
    if times < MAX_NOT_SERVED:
        dispatcher.utter_message(text=deps.say("out_of_scope"))
        return [SlotSet("not_served", times)]
    await transfer(deps, dispatcher, tracker, queue="front_desk",
                   reason="a request the phone line could not place", intent="out_of_scope",
                   say="not_served_front_desk")
    return [SlotSet("not_served", 0)]


class ActionNotServed(ActionWithDeps):
    def name(self) -> str:
        return "action_not_served"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return await not_served(self.deps, dispatcher, tracker)


class ActionOfficeRequest(ActionWithDeps):
    """Records, forms, notes and letters, a patient's details, running late, changing doctors:
    the front desk's work, which the line does not do itself."""

    def name(self) -> str:
        return "action_office_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        await transfer(self.deps, dispatcher, tracker, queue="front_desk",
                       reason="office request: records, forms, notes or the patient's details",
                       intent="office_request", say="connecting_office")
        return []
