"""The messages between a call session and the conversation that drives it.

The session turns audio into `CallerTurn`s; the conversation answers with `Action`s that the
session carries out in order. Neither side knows what is on the other: the session knows
no Rasa, the conversation no SIP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class CallInfo:
    """What is known about a call when it is answered. No PHI beyond the caller's number."""

    call_id: str
    caller_number: str | None
    started: datetime
    worker: str = ""
    # "outbound" when the clinic placed the call; `caller_number` is then the number dialled.
    direction: str = "inbound"


@dataclass(frozen=True)
class CallerTurn:
    """One thing the caller did: an utterance (text) or keyed digits."""

    text: str | None = None
    digits: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    confidence: float | None = None
    # The words' audio (8 kHz int16), kept for this call only: the conversation may want to
    # hear them again with better hints (a name, once the date of birth narrows who it is).
    audio: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Say:
    """Speak text, synthesised sentence by sentence."""

    text: str
    barge_in: bool = True


@dataclass(frozen=True)
class PlayPrompt:
    """Play a fixed prompt rendered at start-up (no synthesis on the call's path)."""

    name: str
    barge_in: bool = True


@dataclass(frozen=True)
class CollectDigits:
    """Expect keypad entry next: wait longer between digits, end on '#' or `max_digits`."""

    max_digits: int = 8
    purpose: str = ""
    timeout: float = 10.0


@dataclass(frozen=True)
class Transfer:
    """Hand the caller to a person in `queue`; `emergent` transfers never go to voicemail."""

    queue: str
    reason: str = ""
    emergent: bool = False
    context: dict[str, object] = field(default_factory=dict)
    prefer_agent: int | None = None  # a colleague asked for by the agent passing it on
    # The emergency message said again while an emergent caller waits: the one she heard
    # first (with the crisis line, 988, for self-harm), not the general one.
    emergency_prompt: str = "emergency"


@dataclass(frozen=True)
class Hangup:
    reason: str = "completed"


Action = Say | PlayPrompt | CollectDigits | Transfer | Hangup


@dataclass(frozen=True)
class CallOutcome:
    """How the call ended, as the session saw it."""

    ended: datetime
    hung_up_by: str  # "caller" | "bot" | "shutdown" | "error" | "referred"
    reason: str = ""
