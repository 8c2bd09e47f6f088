"""When nobody is free for a routine caller: hold for the next person, or a callback.

The callback task is written before the caller is even asked (routing creates it), so a
caller who hangs up while holding, or a store hiccup halfway, loses nothing. A caller who
holds and reaches someone has that task closed by routing. Red-flag callers never come here:
they go to the nurse queue and, failing that, the on-call line.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from routing.transfer import TransferCoordinator, TransferPlan
from voice.session.actions import Action, CallerTurn, CollectDigits, PlayPrompt, Say
from voice.session.call_session import CallSession

log = logging.getLogger(__name__)

Choice = Literal["hold", "callback"]

_CALLBACK = re.compile(
    r"\b(call(ing)?\s*(me\s+|us\s+)?back|callback|ring\s+me(\s+back)?|call\s+me|"
    r"phone\s+me|later|two)\b"
)
# "hold" may come glued to the word before it on a bad line ("I'll hold" heard as "Alphold").
_HOLD = re.compile(r"(hold|\bwait|\bstay|\bone|\bwon|\bkeep\s+me|\bhang\s+on)\b")
_REFUSAL = re.compile(r"\b(no|not|don'?t|rather\s+not)\b")


def parse_choice(turn: CallerTurn) -> Choice | None:
    """"hold" / "callback" from keypad 1 / 2 or the caller's words; None when unclear."""
    if turn.digits:
        keys: dict[str, Choice] = {"1": "hold", "2": "callback"}
        return keys.get(turn.digits[-1])
    text = (turn.text or "").lower()
    callback = bool(_CALLBACK.search(text))
    hold = bool(_HOLD.search(text))
    if callback and hold:
        # "I don't want to wait, call me back" / "no, I'll hold": the refused one loses.
        refused = _REFUSAL.search(text)
        if refused is None:
            return None
        before = text[refused.end() :]
        first_hold = _HOLD.search(before)
        first_callback = _CALLBACK.search(before)
        if first_hold and (not first_callback or first_hold.start() < first_callback.start()):
            return "callback"
        return "hold"
    if callback:
        return "callback"
    if hold:
        return "hold"
    return None


@dataclass(frozen=True)
class WaitSettings:
    max_hold: float = 600.0  # then the callback task stands and the call ends politely
    poll: float = 5.0  # how often a holding caller's queue is checked for a free person
    reminder: float = 60.0  # "you are still in line" this often


HoldMusic = Callable[[CallSession], Coroutine[Any, Any, None]]


class QueueWait:
    """Asks a routine caller hold-or-callback, and holds them until someone is free."""

    def __init__(
        self, coordinator: TransferCoordinator, hold_music: HoldMusic, settings: WaitSettings
    ) -> None:
        self.coordinator = coordinator
        self.hold_music = hold_music
        self.settings = settings

    async def choose(self, session: CallSession) -> Choice | None:
        """Ask (twice at most). None: the caller hung up or raised a red flag meanwhile.

        A caller who says nothing usable gets the callback: the task is already written.
        """
        if session.call.caller_number is None:
            # No number to call back: holding is the only offer we can keep.
            await session.perform([PlayPrompt("busy_hold_only")])
            return "hold"
        for _ask in range(2):
            await session.perform(
                [PlayPrompt("busy_choice"), CollectDigits(max_digits=1, purpose="queue_choice")]
            )
            turn = await session.next_input(self.settings.poll * 2)
            if self._interrupted(session):
                return None
            choice = None if turn is None else parse_choice(turn)
            if choice is not None:
                await session.recorder.event(session.call, "queue_choice", {"choice": choice})
                return choice
        await session.recorder.event(session.call, "queue_choice", {"choice": "callback"})
        return "callback"

    async def wait(self, session: CallSession, plan: TransferPlan) -> TransferPlan | None:
        """Hold until someone is free (their plan), or None: time is up, the caller asked
        for the callback after all, hung up, or raised a red flag."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        reminded = started
        place = await self.coordinator.start_holding(plan)
        await session.recorder.event(session.call, "holding", {"place_in_line": place})
        music = loop.create_task(self.hold_music(session))
        handed_over = False
        try:
            while not self._interrupted(session):
                try:
                    offer = await self.coordinator.retry_waiting(plan)
                except Exception:  # routing hiccup: keep holding, try again next round
                    log.exception("call %s: queue retry failed", session.call.call_id)
                    offer = None
                if offer is not None:
                    handed_over = True
                    return offer
                if loop.time() - started > self.settings.max_hold:
                    return None
                if loop.time() - reminded > self.settings.reminder:
                    music.cancel()
                    session.media.clear()
                    await session.perform(await self._reminder(plan.call_id))
                    music = loop.create_task(self.hold_music(session))
                    reminded = loop.time()
                await session.perform([CollectDigits(max_digits=1, purpose="queue_choice")])
                turn = await session.next_input(self.settings.poll)
                if turn is not None and parse_choice(turn) == "callback":
                    await session.recorder.event(
                        session.call, "queue_choice", {"choice": "callback"}
                    )
                    return None
            return None
        finally:
            music.cancel()
            session.media.clear()
            if not handed_over:
                # The caller is off the line (callback, hang-up, red flag or time's up);
                # while an agent rings for them they keep their place.
                await self.coordinator.stop_holding(session.call.call_id)

    async def _reminder(self, call_id: str) -> list[Action]:
        place = await self.coordinator.place_in_line(call_id)
        if place is None or place == 1:
            return [PlayPrompt("still_holding_next")]
        return [
            Say(f"Thank you for holding. You are number {place} in line."),
            PlayPrompt("still_holding"),
        ]

    @staticmethod
    def _interrupted(session: CallSession) -> bool:
        return session.caller_gone.is_set() or session.flag_raised.is_set()
