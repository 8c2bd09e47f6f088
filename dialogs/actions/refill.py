"""Refill flow: match the spoken drug to the verified patient's list, confirm, file the request."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from dialogs.actions import payloads
from dialogs.actions.context import ActionWithDeps, call_id, text_of_last
from dialogs.actions.identity import IdentityFormValidation, Slots
from dialogs.actions.transfers import finish_handoff
from integrations.services.refills import Medication, active_medications, request_refill
from nlu.confirm import yes_no
from nlu.medications import match_medication, named_drug

# A drug the caller named unprompted and that matches this well needs no extra "is that right?".
NAMED_MATCH_SCORE = 0.85
MAX_MEDICATION_MISSES = 2
FLOW_SLOTS = ("medication", "medication_id", "refill_confirmed", "medication_failures")


def label(med: Medication) -> str:
    return f"{med.name} {med.strength}".strip()


class ValidateRefillForm(IdentityFormValidation):
    form = "refill_form"

    async def _medications(self, tracker: Tracker) -> list[Medication]:
        pid = await self.deps.patient_id(tracker)
        if pid is None:
            return []
        if self.deps.ehr is not None:
            await self.deps.ehr.before_medications(pid)
        async with self.deps.db.session() as s:
            return await active_medications(s, pid)

    def _match(self, text: str, meds: list[Medication]) -> tuple[Medication, float] | None:
        by_name = {m.name: m for m in meds}
        found = match_medication(text, list(by_name))
        return (by_name[found.candidate], found.score) if found else None

    async def prefill(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Slots:
        meds = await self._medications(tracker)
        if not meds:
            dispatcher.utter_message(text=self.deps.say("no_active_prescription"))
            return {"handoff": "pharmacy"}
        _, request = text_of_last(tracker, {"request_refill"})
        found = self._match(request, meds) if request else None
        if found is not None:
            med, score = found
            return {
                "medication": label(med),
                "medication_id": med.id,
                "refill_confirmed": True if score >= NAMED_MATCH_SCORE else None,
            }
        named = named_drug(request) if request else None
        if named is not None:
            # "A refill on my metformin" from a caller whose list has no metformin: she hears
            # that, not only "which medication?" (or her one medication read back) as if she
            # had named none.
            dispatcher.utter_message(text=self.deps.say("drug_not_on_list", medication=named))
        if len(meds) == 1:
            return {"medication": label(meds[0]), "medication_id": meds[0].id}
        return {}

    async def validate_medication(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if tracker.get_slot("medication_id") is not None:
            return {"medication": value}  # filled by prefill from the verified list
        meds = await self._medications(tracker)
        found = self._match(str(value or ""), meds)
        if found is not None:
            return {"medication": label(found[0]), "medication_id": found[0].id}
        misses = int(tracker.get_slot("medication_failures") or 0) + 1
        if misses >= MAX_MEDICATION_MISSES:
            dispatcher.utter_message(text=self.deps.say("medication_not_on_list"))
            return {"medication": None, "medication_failures": misses, "handoff": "pharmacy"}
        named = named_drug(str(value or ""))
        if named is not None:  # heard clearly: "say the name again" would not help
            dispatcher.utter_message(text=self.deps.say("drug_not_on_list", medication=named))
        else:
            dispatcher.utter_message(text=self.deps.say("medication_not_caught"))
        return {"medication": None, "medication_failures": misses}

    async def validate_refill_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        answer = value if isinstance(value, bool) else yes_no(str(value or ""))
        if answer is True:
            return {"refill_confirmed": True}
        if answer is False:
            dispatcher.utter_message(text=self.deps.say("okay"))
            return {"medication": None, "medication_id": None, "refill_confirmed": None}
        # "Amlodipine." to "amlodipine 5 mg. Shall I send a refill request?" is her yes (a
        # `make run` caller said just that and was asked "was that a yes or a no?"); another
        # drug of hers, named clearly, is the one to read back instead.
        found = self._match(str(value or ""), await self._medications(tracker))
        if found is not None and found[0].id == tracker.get_slot("medication_id"):
            return {"refill_confirmed": True}
        if found is not None and found[1] >= NAMED_MATCH_SCORE:
            med = found[0]
            return {"medication": label(med), "medication_id": med.id, "refill_confirmed": None}
        dispatcher.utter_message(text=self.deps.say("yes_or_no"))
        return {"refill_confirmed": None}


class ActionAskMedication(ActionWithDeps):
    def name(self) -> str:
        return "action_ask_medication"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # The voice worker hears the answer as a name from the caller's own list.
        dispatcher.utter_message(
            text=self.deps.say("ask_medication"), json_message=payloads.expect("medication")
        )
        return []


class ActionAskRefillConfirmed(ActionWithDeps):
    def name(self) -> str:
        return "action_ask_refill_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        medication = tracker.get_slot("medication")
        dispatcher.utter_message(
            text=self.deps.say("confirm_refill", medication=medication),
            json_message=payloads.expect("refill_confirmed"),
        )
        return []


class ActionSubmitRefill(ActionWithDeps):
    def name(self) -> str:
        return "action_submit_refill"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reset = [SlotSet(slot, None) for slot in FLOW_SLOTS]
        handed = await finish_handoff(self.deps, dispatcher, tracker, request="request_refill")
        pid, med_id = await self.deps.patient_id(tracker), tracker.get_slot("medication_id")
        if handed is not None or pid is None or med_id is None:
            return (handed or []) + reset
        cid = call_id(tracker)
        async with self.deps.db.session() as s:
            outcome = await request_refill(
                s, call_id=cid, patient_id=pid, medication_id=int(med_id)
            )
        if self.deps.ehr is not None:
            # On record here already; the outbox retries whatever the EHR does not take now.
            await self.deps.ehr.send_refills()
        reply = {"needs_review": "refill_to_nurse", "already_requested": "refill_already_in"}
        dispatcher.utter_message(
            text=self.deps.say(
                reply.get(outcome.status, "refill_sent"),
                medication=outcome.medication,
                turnaround=outcome.turnaround,
            )
        )
        await self.deps.record(cid, intent="request_refill", disposition="refill_requested")
        dispatcher.utter_message(text=self.deps.say("anything_else"))
        return reset
