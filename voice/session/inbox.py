"""What reaches a call's run loop: the caller's turns, interruptions (red flags, a voicemail's
late beep), and the end of the call.

An interruption jumps the line: it is taken before any turn already waiting, so the emergency
message never queues behind an answer to something the caller said earlier.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from voice.session.actions import Action, CallerTurn


@dataclass(frozen=True)
class Utterance:
    turn: CallerTurn
    latency_origin: float  # loop time the VAD first saw the end of speech
    recognized_at: float | None = None
    screen_ms: float | None = None  # the red-flag screen's time on these words (final ones)


@dataclass(frozen=True)
class Interrupt:
    """Actions to carry out at once: a red flag's (the emergency message and transfer), or a
    late beep's (the voicemail message)."""

    actions: Sequence[Action]


@dataclass(frozen=True)
class Ended:
    by: str
    reason: str


Event = Utterance | Interrupt | Ended


class Inbox:
    """A queue of events with a front door for red flags."""

    def __init__(self) -> None:
        self._items: collections.deque[Event] = collections.deque()
        self._changed = asyncio.Event()

    def put(self, event: Event) -> None:
        if isinstance(event, Interrupt):
            self._items.appendleft(event)
        else:
            self._items.append(event)
        self._changed.set()

    async def get(
        self, timeout: float, accept: Callable[[Event], bool] = lambda _e: True
    ) -> Event | None:
        """The first event `accept` takes (others stay queued), or None after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for event in self._items:
                if accept(event):
                    self._items.remove(event)
                    return event
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return None
