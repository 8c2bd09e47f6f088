"""The interface routing uses to reach agents' screens; the agent console implements it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from routing.cti import CtiPayload, TranscriptLine

# A supervisor on a bridged call hears caller and agent; whom she is heard by, per mode.
MONITOR_MODES: dict[str, tuple[bool, bool]] = {
    # mode: (the agent hears her, the caller hears her)
    "listen": (False, False),
    "whisper": (True, False),
    "barge": (True, True),
}
MONITOR_REQUESTS = (*MONITOR_MODES, "stop")  # what a supervisor may ask from the console


@dataclass(frozen=True)
class ScreenPop:
    """What an agent's console shows when a call is offered to them."""

    call_id: str
    payload: CtiPayload
    whisper: str  # the summary sentence also spoken to the agent
    queue: str
    emergent: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "queue": self.queue,
            "emergent": self.emergent,
            "whisper": self.whisper,
            "payload": self.payload.to_json(),
        }


@dataclass(frozen=True)
class FlagAlert:
    """A red flag raised on a call that already reached a person."""

    level: str
    flags: tuple[str, ...]
    trigger_words: tuple[str, ...]
    at: str  # ISO time the flag fired

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "flags": list(self.flags),
            "trigger_words": list(self.trigger_words),
            "at": self.at,
        }


class ConsoleHub(Protocol):
    """Delivery of screen-pops and live call updates to signed-in agents."""

    async def offer(self, agent_id: int, pop: ScreenPop) -> bool:
        """Show the screen-pop; True when at least one of the agent's consoles received it."""
        ...

    async def withdraw(self, agent_id: int, call_id: str, reason: str) -> None:
        """Remove an offer (declined, not answered, caller hung up, taken elsewhere)."""
        ...

    async def transcript_line(self, agent_id: int, call_id: str, line: TranscriptLine) -> None:
        """Append a live transcript line to the agent's card for `call_id`."""
        ...

    async def call_connected(self, agent_id: int, call_id: str) -> None:
        """The agent's phone answered and she has the caller (or is about to): the card says
        connected only now, not when she pressed Accept."""
        ...

    async def call_ended(self, agent_id: int, call_id: str) -> None:
        """The agent's leg ended: the console asks for a disposition and notes."""
        ...

    async def flag(self, agent_id: int, call_id: str, alert: FlagAlert) -> None:
        """A red flag said on a call the agent is already talking on: show it at once."""
        ...
