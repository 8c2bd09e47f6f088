"""Hand the caller to people: the transfer payload, the call record, and the flow's end."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from dialogs.actions import payloads
from dialogs.actions.context import ActionWithDeps, Deps, call_id, intent_of, latest_text
from nlu.teams import asks_for_a_person, team_asked_for

# What a form's `handoff` slot can hold, and where each goes.
HANDOFFS: dict[str, tuple[payloads.Queue, str, str]] = {
    "front_desk": ("front_desk", "caller asked for a person", "transferred"),
    "pharmacy": ("pharmacy", "medication not found on the patient's list", "transferred"),
    "verification_failed": ("front_desk", "identity could not be verified", "verification_failed"),
    "unclear_appointment": (
        "front_desk", "could not tell which appointment the caller means", "transferred"
    ),
}
# The other ways a form ends early: the caller takes her leave instead of answering, or no
# longer wants what the form is for ("no thank you" when asked for a day).
GOODBYE = "goodbye"
DECLINED = "declined"


async def transfer(
    deps: Deps,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    queue: payloads.Queue,
    reason: str,
    disposition: str = "transferred",
    say: str = "connecting",
    intent: str | None = None,
) -> None:
    """Say a short line (the reply SAY), send the transfer payload, and write the request to
    the call record.

    Only the queue asked for: `transferred` (and the "transferred" disposition) are routing's
    to write once a person has taken the call; the call may yet end unanswered, or the
    conversation may decline the hand-off (a caller who has just said no to a nurse)."""
    dispatcher.utter_message(text=deps.say(say))
    dispatcher.utter_message(json_message=payloads.transfer(queue, reason))
    outcome = {} if disposition == "transferred" else {"disposition": disposition}
    await deps.record(call_id(tracker), intent=intent, transfer_queue=queue, **outcome)


async def finish_handoff(
    deps: Deps, dispatcher: CollectingDispatcher, tracker: Tracker, *, request: str | None = None
) -> list[dict[str, Any]] | None:
    """If the form ended in a hand-off (or a goodbye), carry it out and return the events;
    else None. `request` is the intent the form served: it stays on the call record
    (supervisors' reasons, first-contact resolution) whether she is put through to people,
    leaves or gives up; with no disposition when nothing was done."""
    handoff = tracker.get_slot("handoff")
    if not handoff:
        return None
    if handoff in (GOODBYE, DECLINED) and request:
        await deps.record(call_id(tracker), intent=request)
    if handoff == GOODBYE:
        dispatcher.utter_message(text=deps.say("goodbye"))
        dispatcher.utter_message(json_message=payloads.hangup())
        return [SlotSet("handoff", None)]
    if handoff == DECLINED:
        # She no longer wants what the form was for: nothing was done, and she may want more.
        dispatcher.utter_message(text=deps.say("okay"))
        dispatcher.utter_message(text=deps.say("anything_else"))
        return [SlotSet("handoff", None)]
    queue, reason, disposition = HANDOFFS.get(str(handoff), HANDOFFS["front_desk"])
    say = {
        "verification_failed": "not_verified_front_desk",
        "pharmacy": "connecting_pharmacy",
    }.get(str(handoff), "connecting")
    # Put through to people, the request stays on the record too ("which appointment?"
    # asked twice on a `make run` call left it empty).
    await transfer(deps, dispatcher, tracker, queue=queue, reason=reason,
                   disposition=disposition, say=say, intent=request)
    return [SlotSet("handoff", None)]


class ActionTransferNurse(ActionWithDeps):
    """A non-emergent symptom goes to a nurse; emergencies are handled before Rasa by triage."""

    def name(self) -> str:
        return "action_transfer_nurse"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        level = (await self.deps.facts(call_id(tracker))).triage_level
        reason = f"symptom reported (triage {level})"
        await transfer(self.deps, dispatcher, tracker, queue="nurse", reason=reason,
                       say="connecting_nurse", intent="report_symptom")
        return []


class ActionTransferFrontDesk(ActionWithDeps):
    def name(self) -> str:
        return "action_transfer_front_desk"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        said = latest_text(tracker)
        if not asks_for_a_person(said) and not _taken_for_a_person_before(tracker):
            # A misheard request can look like a wish for a person to the NLU (a misheard name
            # did: "Eat a brandon."), and a transfer would cost her the queue for something
            # the line does itself: she is asked once to say it another way. Said again, or
            # said with words that ask for a person, she is put through.
            dispatcher.utter_message(text=self.deps.say("default"))
            return []
        team = team_asked_for(said)
        if team is None:
            await transfer(self.deps, dispatcher, tracker, queue="front_desk",
                           reason="caller asked for a person", intent="speak_to_human")
        else:
            await transfer(self.deps, dispatcher, tracker, queue=team,
                           reason=f"caller asked for the {team} team",
                           say=f"connecting_{team}", intent="speak_to_human")
        return []


def _taken_for_a_person_before(tracker: Tracker) -> bool:
    """Whether the NLU took an earlier message of the caller's for a wish for a person."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    return any(intent_of(e) == "speak_to_human" for e in users[:-1])
