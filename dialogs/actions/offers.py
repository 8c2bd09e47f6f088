"""Finding and offering open slots: ask when, parse it, offer up to three, take the caller's pick.

Booking happens the moment the caller picks, inside one service call, so that a slot taken by
someone else in the meantime is answered right away with fresh offers.

A caller who asks for a provider ("with Doctor Nguyen", in her request or any answer after it) is
offered that provider's times only; when she has nothing then, her next times are offered, and
when she has nothing for weeks, the caller hears so before other providers' times.

A caller moving an appointment who names nobody is offered the times of the provider she was
booked with first (patients keep their doctor): when that provider has nothing then, the others'
times then are offered, since she asked for the day, not for anyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from dialogs.actions import payloads
from dialogs.actions.context import ActionWithDeps, call_id, intent_of, latest_intent
from dialogs.actions.identity import IDENTITY_SLOTS, IdentityFormValidation, Slots
from dialogs.actions.phrasing import choose, speak_day, speak_moment, speak_time
from dialogs.actions.transfers import DECLINED, GOODBYE
from integrations.errors import EhrUnavailable, SlotTaken
from integrations.services.scheduling import (
    Booking,
    SlotOffer,
    find_slots,
    roster,
    search_window,
)
from nlu.confirm import no_longer_wanted, yes_no
from nlu.dates import WhenRequest, parse_when
from nlu.names import token_similarity
from nlu.providers import MATCH, Provider, latest_wish, provider_wish

# Said when the EHR did not take the change: nothing is announced that did not happen.
SYSTEM_DOWN = {"schedule_form": "book_system_down", "reschedule_form": "move_system_down"}
_ANY_TIME = re.compile(r"\b(any|anytime|soonest|earliest|first available|whenever)\b", re.I)
# "Does Dr. Patel have anything?", "what about Doctor Nguyen": a question about a provider.
_ASKS_ABOUT = re.compile(
    r"^\W*(does|do|is|are|can|could|would|what about|how about|and what about|any(thing)?)\b"
    r"|\b(have anything|has anything|anything with|available|free|any times?|openings?)\b"
    r"|\?\s*$",  # "With Dr. Patel?": the recogniser heard a question
    re.I,
)
# The intents that start each form: their message is the request a provider wish may be in.
_REQUESTS = {"schedule_form": "schedule_appointment", "reschedule_form": "reschedule_appointment"}


def offer_to_slot(offer: SlotOffer) -> dict[str, Any]:
    return {
        "slot_id": offer.slot_id,
        "start": offer.start.isoformat(),
        "provider": offer.provider,
        "location": offer.location,
    }


def booking_to_slot(booking: Booking) -> dict[str, Any]:
    return {
        "appointment_id": booking.appointment_id,
        "start": booking.start.isoformat(),
        "provider": booking.provider,
    }


@dataclass(frozen=True)
class Wanted:
    """Whose times to offer: a provider (None: anyone), asked for by the caller or kept from the
    appointment she is moving."""

    provider: Provider | None
    asked: bool = True


ANYONE = Wanted(None)


class SlotOfferingValidation(IdentityFormValidation):
    """Validator for forms that end by picking a slot (schedule, reschedule)."""

    async def _roster(self) -> list[Provider]:
        async with self.deps.db.session() as s:
            return [Provider(*row) for row in await roster(s)]

    async def _wish(self, tracker: Tracker, roster: list[Provider] | None = None) -> Wanted:
        """Whose times the caller wants: the provider she last asked for in this request, anyone
        when she said so, else the provider of the appointment she is moving."""
        people = roster if roster is not None else await self._roster()
        said = latest_wish(_said_since_request(tracker, self.form), people)
        if said is not None:
            return Wanted(said.provider)
        moving = _chosen_appointment(tracker) if self.form == "reschedule_form" else None
        if moving is not None:
            kept = next((p for p in people if p.display == moving.get("provider")), None)
            if kept is not None:
                return Wanted(kept, asked=False)
        return ANYONE

    async def _offers(
        self,
        when: WhenRequest | None,
        wanted: Wanted,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> list[dict[str, Any]]:
        # Never a time she is already booked at (but the appointment she is moving).
        patient = await self.deps.patient_id(tracker)
        chosen = _chosen_appointment(tracker) if self.form == "reschedule_form" else None
        moving = int(chosen["appointment_id"]) if chosen else None

        async def _find(when: WhenRequest | None, provider: Provider | None) -> list[SlotOffer]:
            if self.deps.ehr is not None:
                await self.deps.ehr.before_slots(*search_window(when, self.deps.now()))
            async with self.deps.db.session() as s:
                return await find_slots(
                    s,
                    when=when,
                    limit=3,
                    now=self.deps.now(),
                    provider_id=provider.id if provider else None,
                    patient_id=patient,
                    moving=moving,
                )

        provider = wanted.provider
        found = await _find(when, provider)
        if provider is not None and not found and not wanted.asked:
            # Her own provider is busy then: the day she asked for counts more.
            found = await _find(when, None)
            if found:
                dispatcher.utter_message(
                    text=self.deps.say("own_provider_not_then", provider=provider.display)
                )
        elif provider is not None and not found:
            later = await _find(None, provider) if when is not None else []
            if later:
                dispatcher.utter_message(
                    text=self.deps.say("provider_not_then", provider=provider.display)
                )
                found = later
            else:
                found = await _find(when, None)
                if found:
                    dispatcher.utter_message(
                        text=self.deps.say("provider_not_soon", provider=provider.display)
                    )
        return [offer_to_slot(o) for o in found]

    async def _when_slots(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Slots | None:
        when = parse_when(text, self.deps.now())
        if when is None and not _ANY_TIME.search(text):
            return None
        offers = await self._offers(when, await self._wish(tracker), dispatcher, tracker)
        if not offers:
            dispatcher.utter_message(text=self.deps.say("nothing_open"))
            return {"when_text": None, "offered_slots": None}
        return {"when_text": text, "offered_slots": offers}

    async def prefill(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Slots:
        """A day said in the booking request itself ("can I see Doctor Patel next Wednesday
        afternoon") answers "what day and time suit you?": the offers follow the verification.
        On a `make run` call the caller was asked for the day she had already given."""
        if self.form != "schedule_form":
            return {}  # a move first says which appointment moves and when it is
        said = _said_since_request(tracker, self.form)
        if not said or parse_when(said[0], self.deps.now()) is None:
            return {}
        return await self._when_slots(said[0], dispatcher, tracker) or {}

    async def absorb(self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> Slots:
        if self.form == "reschedule_form" and tracker.get_slot("appointment_id") is None:
            return {}  # the caller must first say which appointment moves
        return await self._when_slots(text, dispatcher, tracker) or {}

    async def validate_when_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if tracker.get_slot("offered_slots"):
            return {"when_text": value}  # already turned into offers this turn
        slots = await self._when_slots(str(value or ""), dispatcher, tracker)
        if slots is None:
            # No day, and a no ("no thank you", "never mind"): she no longer wants a time, and
            # asking for a day again kept her in the form (seen on a `make run` call). She is
            # asked whether there is anything else; a goodbye ("bye") ends the call.
            if no_longer_wanted(str(value or "")):
                return {"when_text": None, "handoff": DECLINED}
            if latest_intent(tracker) == "goodbye":
                return {"when_text": None, "handoff": GOODBYE}
            dispatcher.utter_message(text=self.deps.say("which_day"))
            return {"when_text": None}
        return slots

    async def validate_slot_choice(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        offers: list[dict[str, Any]] = tracker.get_slot("offered_slots") or []
        text = str(value or "")
        answer = yes_no(text)
        if answer is False and latest_intent(tracker) == "goodbye":
            # "No thanks, goodbye" (a `make run` call was asked for another day instead).
            return {"slot_choice": None, "handoff": GOODBYE}
        if answer is False or not offers:
            dispatcher.utter_message(text=self.deps.say("okay"))
            return {"slot_choice": None, "when_text": None, "offered_slots": None}
        people = await self._roster()
        said = provider_wish(text, people)
        wanted = Wanted(said.provider) if said is not None else await self._wish(tracker, people)
        if (
            said is not None
            and said.provider is not None
            and (
                said.provider.display not in {o["provider"] for o in offers}
                or _ASKS_ABOUT.search(text) is not None
            )
        ):
            # "Does Doctor Nguyen have anything?": her times for the day asked, not a pick,
            # also when one of the times offered is hers (a question books nothing).
            when_text = str(tracker.get_slot("when_text") or "")
            fresh = await self._offers(
                parse_when(when_text, self.deps.now()), wanted, dispatcher, tracker
            )
            if not fresh:
                dispatcher.utter_message(text=self.deps.say("nothing_open"))
            return {
                "slot_choice": None,
                "offered_slots": fresh or None,
                "when_text": when_text if fresh else None,
            }
        starts = [datetime.fromisoformat(o["start"]) for o in offers]
        index = by_provider(text, offers)
        if index is None:
            index = choose(text, starts, yes_means_first=yes_no(text) is True)
        if index is None:
            dispatcher.utter_message(text=self.deps.say("which_offer"))
            return {"slot_choice": None}
        try:
            booking = await self._take(tracker, int(offers[index]["slot_id"]))
        except SlotTaken:
            dispatcher.utter_message(text=self.deps.say("time_just_taken"))
            fresh = await self._offers(
                parse_when(str(tracker.get_slot("when_text") or ""), self.deps.now()),
                wanted,
                dispatcher,
                tracker,
            )
            return {
                "slot_choice": None,
                "offered_slots": fresh or None,
                "when_text": tracker.get_slot("when_text") if fresh else None,
            }
        except EhrUnavailable:
            # Nothing was booked (the EHR did not take it); a callback task holds the request.
            reply = SYSTEM_DOWN.get(self.form, "book_system_down")
            dispatcher.utter_message(text=self.deps.say(reply))
            return {"slot_choice": offers[index]["start"], "booking": None}
        return {"slot_choice": offers[index]["start"], "booking": booking_to_slot(booking)}

    async def _take(self, tracker: Tracker, slot_id: int) -> Booking:
        pid = await self.deps.patient_id(tracker)
        if pid is None:
            raise SlotTaken("caller not verified")  # unreachable: identity slots come first
        desk, cid = self.deps.desk, call_id(tracker)
        if self.form == "reschedule_form":
            return await desk.move(
                call_id=cid,
                patient_id=pid,
                slot_id=slot_id,
                appointment_id=int(tracker.get_slot("appointment_id")),
            )
        return await desk.book(call_id=cid, patient_id=pid, slot_id=slot_id)


class ActionAskWhenText(ActionWithDeps):
    def name(self) -> str:
        return "action_ask_when_text"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        chosen = _chosen_appointment(tracker)
        if tracker.active_loop.get("name") == "reschedule_form" and chosen:
            moment = speak_moment(datetime.fromisoformat(chosen["start"]))
            dispatcher.utter_message(
                text=self.deps.say(
                    "ask_when_instead", appointment=f"{moment} with {chosen['provider']}"
                ),
                json_message=payloads.expect("when_text"),
            )
        else:
            dispatcher.utter_message(
                text=self.deps.say("ask_when"), json_message=payloads.expect("when_text")
            )
        return []


class ActionAskSlotChoice(ActionWithDeps):
    def name(self) -> str:
        return "action_ask_slot_choice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        offers: list[dict[str, Any]] = tracker.get_slot("offered_slots") or []
        verb = "move it to" if tracker.active_loop.get("name") == "reschedule_form" else "book"
        if len({o["start"] for o in offers}) == 1 and len(offers) > 1:
            # Same time with several providers: say the time once, then the names.
            names = [o["provider"] for o in offers]
            when = speak_moment(datetime.fromisoformat(offers[0]["start"]))
            text = self.deps.say(
                "offer_same_time",
                moment=when,
                providers=", ".join(names[:-1]),
                last_provider=names[-1],
                first_provider=names[0],
                action=verb,
            )
        elif len(offers) > 1 and len({(o["start"][:10], o["provider"]) for o in offers}) == 1:
            # Several times one day with one provider (she was asked for): day and name once.
            starts = [datetime.fromisoformat(o["start"]) for o in offers]
            times = [speak_time(start) for start in starts]
            text = self.deps.say(
                "offer_same_day",
                day=speak_day(starts[0].date()),
                provider=offers[0]["provider"],
                times=", ".join(times[:-1]),
                last_time=times[-1],
                action=verb,
            )
        elif len(offers) > 1 and len({o["provider"] for o in offers}) == 1:
            # Her own provider's times on several days: the name once, not after every time.
            moments = [speak_moment(datetime.fromisoformat(o["start"])) for o in offers]
            text = self.deps.say(
                "offer_one_provider",
                provider=offers[0]["provider"],
                moment=moments[0],
                other_moments=" or ".join(moments[1:]),
                action=verb,
            )
        else:
            said = [
                f"{speak_moment(datetime.fromisoformat(o['start']))} with {o['provider']}"
                for o in offers
            ]
            if len(said) > 1:
                text = self.deps.say(
                    "offer_several", offer=said[0], other_offers=" or ".join(said[1:]), action=verb
                )
            else:
                text = self.deps.say("offer_one", offer=said[0], action=verb)
        dispatcher.utter_message(text=text)
        return []


def by_provider(text: str, offers: list[dict[str, Any]]) -> int | None:
    """The offer whose provider's surname the caller said, when exactly one matches. Surnames
    are compared by spelling and sound, as the recogniser writes unusual ones by ear ("Shmidt")."""
    words = [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2]
    hits = [
        i
        for i, o in enumerate(offers)
        if any(token_similarity(w, _surname(str(o["provider"]))) >= MATCH for w in words)
    ]
    return hits[0] if len({offers[i]["provider"] for i in hits}) == 1 else None


def _surname(display: str) -> str:
    return display.lower().replace(".", " ").split()[-1]


def _chosen_appointment(tracker: Tracker) -> dict[str, Any] | None:
    wanted = tracker.get_slot("appointment_id")
    for item in tracker.get_slot("appointments") or []:
        if item.get("appointment_id") == wanted:
            return dict(item)
    return None


def _said_since_request(tracker: Tracker, form: str) -> list[str]:
    """The caller's words from her request for this form ("book me in with Doctor Nguyen") on,
    oldest first, without her answers to the identity questions (a patient may share a
    provider's name)."""
    events = list(tracker.events)
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    begin = _request_at(events, users, form)
    said: list[str] = []
    for n, i in enumerate(users):
        if i < begin:
            continue
        text = str(events[i].get("text") or "")
        after = events[i + 1 : users[n + 1] if n + 1 < len(users) else len(events)]
        if not any(
            e.get("event") == "slot" and e.get("name") in IDENTITY_SLOTS and e.get("value") == text
            for e in after
        ):
            said.append(text)
    return said


def _request_at(events: list[dict[str, Any]], users: list[int], form: str) -> int:
    """Where the caller's request for this form is among the events: the message that started
    the form, else the first message with the request's intent since the last form ended. Not
    the last such message: on a `make run` call (2026-12-05) Rasa took the answer "AsiaCon." to
    "what is your full name?" for a booking request, and the wish said before it was lost."""
    started = [i for i, e in enumerate(events)
               if e.get("event") == "active_loop" and e.get("name") == form]  # fmt: skip
    if started:
        return max((u for u in users if u < started[-1]), default=0)
    ended = [i for i, e in enumerate(events)
             if e.get("event") == "active_loop" and not e.get("name")]  # fmt: skip
    since = ended[-1] if ended else -1
    asked = [i for i in users if i > since and intent_of(events[i]) == _REQUESTS.get(form)]
    return asked[0] if asked else 0
