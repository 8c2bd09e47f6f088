"""Identity check shared by every form: full name, date of birth read back, then verification.

Nothing about the patient is said before `verify_caller` says "verified". The caller's number
may narrow the search inside the service but never verifies on its own. The outcome is kept in
the call record (`verified_patient_id`, `pending_patient_id`), and that record, not the
tracker's `verified`/`patient_id` slots, decides what later actions may reveal or change.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from dialogs.actions import payloads
from dialogs.actions.context import ActionWithDeps, Deps, call_id, latest_intent
from dialogs.actions.transfers import DECLINED, GOODBYE
from integrations.services.identity import Verification, verify_by_spelling, verify_caller
from nlu.confirm import besides_giving_up, gives_up, yes_no
from nlu.dates import only_a_date, parse_dob, speak_date, stated_dob
from nlu.names import (
    holds_a_name,
    introduced_name,
    name_in_answer,
    speaks_for_someone_else,
)
from nlu.spelling import letters_of
from nlu.teams import asks_for_a_person

IDENTITY_SLOTS = ("patient_name", "dob", "dob_confirmed", "name_confirmed")
MAX_ID_FAILURES = 3
KEYPAD_AFTER_FAILURES = 2
# A caller who answers "please spell the last name" with no letter ("Okay.") is asked again
# until she has been asked this many times; then it counts as a failed match.
SPELLING_ASKS = 2
_NAME_LEAD = re.compile(
    r"^(?:(?:uh|um|yes|yeah|ok|okay|sure|so|hello|hi|hey),?\s+)*"
    r"(?:(?:my|the|his|her|patient'?s?)\s+name\s+is|"
    r"it'?s|it\s+is|this\s+is|i'?m|i\s+am|name'?s)\s+",
    re.IGNORECASE,
)

Slots = dict[str, Any]


def clean_name(text: str) -> str:
    """Drop the lead-in ("my name is", "it's") so that only the name reaches the matcher."""
    return _NAME_LEAD.sub("", text.strip()).strip(" .,!?")


def name_heard_again(tracker: Tracker, born: date) -> str | None:
    """The caller's name as the voice worker heard it a second time, with the names of the
    patients born on `born` as hints; only for the date of birth being verified."""
    again = (tracker.latest_message.get("metadata") or {}).get("name_heard_again")
    if not isinstance(again, dict) or again.get("dob") != born.isoformat():
        return None
    text = clean_name(str(again.get("text") or ""))
    return text or None


def spelling_asked(tracker: Tracker) -> bool:
    """After the first failed match the caller spells her surname: the date of birth she
    confirmed is kept, the name is asked for again as letters."""
    return (
        int(tracker.get_slot("id_failures") or 0) == 1
        and tracker.get_slot("dob_confirmed") is True
        and bool(tracker.get_slot("dob"))
    )


def spelling_heard_again(tracker: Tracker, born: date) -> str | None:
    """The spelled surname as the voice worker heard it held to the surnames of the patients
    born on `born` (`clinicline.callflow.name_recheck`), if it was sure enough of one."""
    again = (tracker.latest_message.get("metadata") or {}).get("spelling_heard_again")
    if not isinstance(again, dict) or again.get("dob") != born.isoformat():
        return None
    return letters_of(str(again.get("letters") or ""))


def _caller_lines(tracker: Tracker, *, until_a_form: bool = False) -> list[str]:
    """What the caller said in this call, in order (`until_a_form`: before any form began)."""
    said: list[str] = []
    for event in tracker.events:
        if until_a_form and event.get("event") == "active_loop" and event.get("name"):
            break
        if event.get("event") == "user":
            said.append(str(event.get("text") or ""))
    return said


def _before_the_first_request(tracker: Tracker) -> list[str]:
    """What the caller said up to and with her request, when it is the call's first ("Hi, this
    is Maria Lopez." "Okay. What can I help you with?" "I need a refill."); only the request
    itself for a later one, so that a name which failed a check is not tried again unasked."""
    said = _caller_lines(tracker, until_a_form=True)
    latest = str(tracker.latest_message.get("text") or "")
    return said if said and said[-1] == latest else [latest]


class IdentityFormValidation(FormValidationAction):
    """Base of every form validator: runs the identity slots before the form's own slots."""

    form: str = "identity_form"

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def name(self) -> str:
        return f"validate_{self.form}"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("handoff"):
            return []  # a transfer ends the form; the submit action sends the payload
        if await self.deps.patient_id(tracker) is not None:
            return [s for s in domain_slots if s not in IDENTITY_SLOTS]
        if not tracker.get_slot("pending_patient"):
            # The matched name is read back only when the store was not sure of it.
            return [s for s in domain_slots if s != "name_confirmed"]
        return list(domain_slots)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        verified = await self.deps.patient_id(tracker) is not None
        starting = tracker.get_slot("requested_slot") is None
        if starting and verified:
            # The form just started for a caller verified earlier in the call.
            slots = await self.prefill(dispatcher, tracker)
        elif starting and not tracker.get_slot("patient_name") and not tracker.get_slot("dob"):
            slots = self.given_unasked(dispatcher, tracker)
        else:
            slots = {}
        if slots:
            events = [{"event": "slot", "name": k, "value": v} for k, v in slots.items()]
            tracker.add_slots(events)
        return events + await super().run(dispatcher, tracker, domain)

    def given_unasked(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Slots:
        """The name and date of birth the caller gave with her request ("Hi, this is James
        Carter, date of birth November 20th, 1958, I need to cancel"), as if she had answered
        the form's questions: on `make run` calls she was asked for both all the same. They
        are checked as answers are: the date is read back, the match needs both."""
        name: str | None = None
        born: date | None = None
        for said in _before_the_first_request(tracker):
            named = introduced_name(said)
            name = named or name
            born = stated_dob(said, self.deps.today(), after_name=named) or born
        if name is None and born is None:
            return {}
        slots: Slots = {}
        if name is None:
            dispatcher.utter_message(text=self.deps.say("date_before_name"))
        else:
            dispatcher.utter_message(text=self.deps.say("details_given_first"))
            slots["patient_name"] = name
        if born is not None:
            slots["dob"] = speak_date(born)  # validated as a spoken answer would be
        return slots

    # Hooks for the forms that build on identity.
    async def prefill(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Slots:
        """Slots the form can fill itself once the caller is verified."""
        return {}

    async def absorb(self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> Slots:
        """Use a reply that skipped the read-back question ("next Tuesday") as the next answer."""
        return {}

    async def validate_patient_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        spelling = spelling_asked(tracker)
        if spelling and letters_of(str(value or "")):
            # Letters are her answer, whatever intent the NLU guesses for them: on a real call
            # "F-E-A-T-H-E-R-F-T-O-N-E-H-A-U-H." came out as asking for a person.
            return await self._verify_spelled(dispatcher, tracker, str(value or ""))
        if latest_intent(tracker) == "speak_to_human" and asks_for_a_person(str(value or "")):
            return {"patient_name": None, "handoff": "front_desk"}
        if spelling:
            return await self._verify_spelled(dispatcher, tracker, str(value or ""))
        said = str(value or "")
        if gives_up(said) and not holds_a_name(clean_name(besides_giving_up(said))):
            # "Never mind, I'll call back later": she is not asked for her name again (the
            # check below took those words for one); "never mind, it's Maria Lopez" goes on.
            ends = GOODBYE if latest_intent(tracker) == "goodbye" else DECLINED
            return {"patient_name": None, "handoff": ends}
        born = only_a_date(said, self.deps.today())
        if born is not None and not tracker.get_slot("dob"):
            # The date of birth first ("March 4, 1972"): on a `make run` call it was taken
            # for her name. Kept, read back once she has given the name.
            dispatcher.utter_message(text=self.deps.say("date_before_name"))
            return {"patient_name": None, "dob": born.isoformat()}
        name = name_in_answer(clean_name(said)) or ""
        if not re.search(r"[a-zA-Z]{2}", name) or not holds_a_name(name):
            if latest_intent(tracker) == "goodbye":  # "never mind, bye": not asked again
                return {"patient_name": None, "handoff": GOODBYE}
            dispatcher.utter_message(text=self.deps.say("name_not_caught"))
            return {"patient_name": None}
        return {"patient_name": name}

    async def validate_dob(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if latest_intent(tracker) == "speak_to_human" and asks_for_a_person(str(value or "")):
            return {"dob": None, "handoff": "front_desk"}
        text, today = str(value or ""), self.deps.today()
        born = parse_dob(text, today)
        if born is None and latest_intent(tracker) == "goodbye":
            return {"dob": None, "handoff": GOODBYE}
        if born is None and gives_up(text):
            return {"dob": None, "handoff": DECLINED}
        if born is None:
            failures = int(tracker.get_slot("dob_failures") or 0) + 1
            dispatcher.utter_message(text=self.deps.say("dob_not_caught"))
            return {"dob": None, "dob_failures": failures}
        return {"dob": born.isoformat()}

    async def validate_dob_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if value is True:
            return {"dob_confirmed": True}
        if not tracker.get_slot("dob"):
            return {"dob_confirmed": None}  # nothing to confirm yet
        text = str(value or "")
        answer = yes_no(text)
        if answer is False:
            dispatcher.utter_message(text=self.deps.say("fix_it"))
            return {"dob": None, "dob_confirmed": None}
        if answer is None:
            corrected = parse_dob(text, self.deps.today())
            if corrected is not None:
                return {"dob": corrected.isoformat(), "dob_confirmed": None}
        slots = await self._verify(dispatcher, tracker)
        if slots.get("verified") and answer is None:
            # No objection and the caller moved on: treat it as a yes and keep what they said.
            slots.update(await self.absorb(text, dispatcher, tracker))
        return slots

    async def _verify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, name: str | None = None
    ) -> Slots:
        name = name or str(tracker.get_slot("patient_name") or "")
        born = date.fromisoformat(str(tracker.get_slot("dob")))
        cid = call_id(tracker)
        facts = await self.deps.facts(cid)
        if not facts.exists:
            # No call record, nowhere to keep the outcome: verify nobody, hand over to people.
            return {"dob_confirmed": None, "pending_patient": None,
                    "handoff": "verification_failed"}
        heard_again = name_heard_again(tracker, born)
        if self.deps.ehr is not None and heard_again is None:
            # The EHR's patients born that day, as it has them now (down: the last mirrored).
            # A second hearing of the name read them for this date a moment ago: not twice.
            await self.deps.ehr.before_verification(born.isoformat())
        async with self.deps.db.session() as s:
            result = await verify_caller(
                s, name, born, facts.caller_number, call_id=cid, heard_again=heard_again
            )
        await self.deps.event(
            cid, "verification", {"status": result.status, "second_hearing": result.second_hearing}
        )
        if result.status == "verified" and result.patient_id is not None:
            if result.needs_confirmation:
                await self.deps.record(cid, pending_patient_id=result.patient_id)
                return {"dob_confirmed": True,
                        "pending_patient": {"name": result.display_name or ""}}
            return await self._verified(dispatcher, tracker, result.patient_id,
                                        result.display_name or "")
        return await self._failed(dispatcher, tracker)

    async def _verify_spelled(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, said: str
    ) -> Slots:
        """The surname spelled after a failed match, with the date of birth confirmed then.
        The letters as first heard are tried, then as heard held to the surnames on file."""
        born = date.fromisoformat(str(tracker.get_slot("dob")))
        spellings = [x for x in (letters_of(said), spelling_heard_again(tracker, born)) if x]
        if not spellings and latest_intent(tracker) == "goodbye":
            return {"patient_name": None, "handoff": GOODBYE}
        if not spellings and gives_up(said):
            # "No thanks" to spelling her name: on a `make run` call it was taken for a
            # failed spelling and she was asked for her name all over again.
            return {"patient_name": None, "handoff": DECLINED}
        name = clean_name(said)
        if not spellings and re.search(r"[a-zA-Z]{2}", name) and holds_a_name(name):
            # She said her name again instead of spelling it: checked with the date she gave.
            return {"patient_name": name, **await self._verify(dispatcher, tracker, name)}
        if not spellings and self._spellings_asked(tracker) < SPELLING_ASKS:
            # "Okay." or "yes, please cancel it" before any letter: in a full test run a
            # caller's "Yes, please cancel it." was taken for a failed spelling, and she was
            # asked for her name and date of birth all over again.
            dispatcher.utter_message(text=self.deps.say("spelling_not_caught"))
            return {"patient_name": None}
        cid = call_id(tracker)
        if not (await self.deps.facts(cid)).exists:
            return {"pending_patient": None, "handoff": "verification_failed"}
        result = Verification("no_match", None, None)
        for spelled in dict.fromkeys(spellings):
            async with self.deps.db.session() as s:
                result = await verify_by_spelling(s, spelled, born, call_id=cid)
            if result.status == "verified":
                break
        await self.deps.event(
            cid, "verification", {"status": result.status, "spelled": bool(spellings)}
        )
        if result.status == "verified" and result.patient_id is not None:
            slots = await self._verified(
                dispatcher, tracker, result.patient_id, result.display_name or ""
            )
            return {"patient_name": spellings[0], **slots}
        return await self._failed(dispatcher, tracker)

    def _spellings_asked(self, tracker: Tracker) -> int:
        """How many times this call has asked her to spell the surname."""
        asked = self.deps.say("ask_spelling")
        return sum(1 for e in tracker.events if e.get("event") == "bot" and e.get("text") == asked)

    async def _verified(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, pid: int, display_name: str
    ) -> Slots:
        await self.deps.record(call_id(tracker), verified_patient_id=pid, pending_patient_id=None)
        first = display_name.split(" ")[0]
        # "Thank you, Maria." to a daughter calling for her mother thanks the wrong person.
        for_another = any(speaks_for_someone_else(said) for said in _caller_lines(tracker))
        thanks = self.deps.say("verified", first_name=first) if first and not for_another else \
            self.deps.say("verified_no_name")
        dispatcher.utter_message(text=thanks, json_message=payloads.verified())
        # `verified` steers the dialog only; the patient's id stays in the call record.
        slots: Slots = {"dob_confirmed": True, "name_confirmed": True, "verified": True,
                        "patient_id": None, "first_name": first or None, "pending_patient": None}
        tracker.add_slots([{"event": "slot", "name": k, "value": v} for k, v in slots.items()])
        filled = await self.prefill(dispatcher, tracker)
        tracker.add_slots([{"event": "slot", "name": k, "value": v} for k, v in filled.items()])
        return slots | filled

    async def validate_name_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        pending = tracker.get_slot("pending_patient") or {}
        answer = value if isinstance(value, bool) else yes_no(str(value or ""))
        pending_id = (await self.deps.facts(call_id(tracker))).pending_patient_id
        if answer is True and pending_id is not None:
            return await self._verified(dispatcher, tracker, pending_id,
                                        str(pending.get("name") or ""))
        if answer is None:
            dispatcher.utter_message(text=self.deps.say("yes_or_no"))
            return {"name_confirmed": None}
        return await self._failed(dispatcher, tracker)

    async def _failed(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Slots:
        await self.deps.record(call_id(tracker), pending_patient_id=None)
        failures = int(tracker.get_slot("id_failures") or 0) + 1
        if failures >= MAX_ID_FAILURES:
            return {"dob_confirmed": None, "id_failures": failures, "pending_patient": None,
                    "handoff": "verification_failed"}
        if failures == 1 and tracker.get_slot("dob"):
            # The date of birth was read back and confirmed: the name is what did not match
            # (an unusual surname the recogniser cannot write). She spells it next.
            dispatcher.utter_message(text=self.deps.say("no_match_spell"))
            return {"patient_name": None, "dob_confirmed": True, "name_confirmed": None,
                    "pending_patient": None, "id_failures": failures}
        dispatcher.utter_message(text=self.deps.say("no_match_try_again"))
        return {"patient_name": None, "dob": None, "dob_confirmed": None, "name_confirmed": None,
                "pending_patient": None, "id_failures": failures}


class ValidateIdentityForm(IdentityFormValidation):
    """Identity only: appointment info, test results, prior authorizations, referrals."""

    form = "identity_form"


class ActionAskPatientName(ActionWithDeps):
    def name(self) -> str:
        return "action_ask_patient_name"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if spelling_asked(tracker):
            dispatcher.utter_message(
                text=self.deps.say("ask_spelling"), json_message=payloads.expect("spelled_name")
            )
            return []
        again = tracker.get_slot("id_failures") or tracker.get_slot("dob")
        text = self.deps.say("ask_name_again" if again else "ask_name")
        dispatcher.utter_message(text=text, json_message=payloads.expect("full_name"))
        return []


class ActionAskDob(ActionWithDeps):
    def name(self) -> str:
        return "action_ask_dob"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if int(tracker.get_slot("dob_failures") or 0) >= KEYPAD_AFTER_FAILURES:
            # Speech failed twice: digits on the keypad are unambiguous.
            dispatcher.utter_message(
                text=self.deps.say("ask_dob_keypad"), json_message=payloads.collect_digits("dob")
            )
        else:
            dispatcher.utter_message(
                text=self.deps.say("ask_dob"), json_message=payloads.expect("dob")
            )
        return []


class ActionAskDobConfirmed(ActionWithDeps):
    def name(self) -> str:
        return "action_ask_dob_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        born = date.fromisoformat(str(tracker.get_slot("dob")))
        dispatcher.utter_message(
            text=self.deps.say("confirm_dob", date_of_birth=speak_date(born)),
            json_message=payloads.expect("dob_confirmed"),
        )
        return []


class ActionAskNameConfirmed(ActionWithDeps):
    """Asked only when the store matched the name loosely (caller ID or a namesake decided)."""

    def name(self) -> str:
        return "action_ask_name_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        pending = tracker.get_slot("pending_patient") or {}
        dispatcher.utter_message(
            text=self.deps.say("confirm_name", name=pending.get("name")),
            json_message=payloads.expect("name_confirmed"),
        )
        return []
