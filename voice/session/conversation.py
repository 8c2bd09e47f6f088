"""What a call session needs from the layer above it: a conversation and a call recorder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from voice.asr.base import AnswerKind
from voice.session.actions import Action, CallerTurn, CallInfo, CallOutcome
from voice.session.phase import CallPhase


class Conversation(Protocol):
    """Drives one call. The application supplies the product one (triage first, then Rasa)."""

    async def start(self, call: CallInfo) -> Sequence[Action]:
        """The opening: usually the greeting prompt."""
        ...

    def screen(
        self, call: CallInfo, text: str, final: bool, phase: CallPhase = CallPhase.LISTENING
    ) -> Sequence[Action]:
        """Runs first on every partial and final transcript and on every digit string.

        Must be synchronous, fast and dependent on nothing that can be down. A non-empty
        answer interrupts whatever the call is doing (`phase`: where it stood when the caller
        began to speak) and is carried out at once.
        """
        ...

    def phase(self, call: CallInfo) -> CallPhase | None:
        """The dialog's own phase while the bot waits on the caller (an identity question, a
        keypad menu), or None."""
        ...

    def played(
        self, call: CallInfo, prompt: str, started: datetime, ended: datetime, outcome: str
    ) -> None:
        """A fixed prompt stopped playing: `outcome` is "completed", "interrupted" (barge-in,
        a red flag, a stop) or "caller_hung_up". Must not block or raise."""
        ...

    async def respond(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        """The answer to a finished caller turn (after `screen` let it through)."""
        ...

    def hints(self, call: CallInfo) -> Sequence[str]:
        """Words the next caller turn is likely to hold (names, medications) for the recogniser."""
        ...

    def expected_answer(self, call: CallInfo) -> AnswerKind | None:
        """What the bot has just asked the caller for ("name", "date"), if that narrows what
        the recogniser should expect; None for anything else."""
        ...

    def keys_wanted(self, call: CallInfo) -> bool:
        """Whether keys pressed now may begin a longer keyed answer (a date of birth, a
        number), so the hearing waits for more; False: any key is the whole of what the caller
        keyed (0 for a person, or keys no question asked for) and is answered at once."""
        ...

    async def silence(self, call: CallInfo, count: int) -> Sequence[Action]:
        """The caller said nothing for a while; `count` counts consecutive silences."""
        ...

    async def finish(self, call: CallInfo, outcome: CallOutcome) -> str | None:
        """The call is over; returns the disposition to record (None keeps the one set)."""
        ...


@runtime_checkable
class HearsLateBeep(Protocol):
    """An outbound call's conversation that can still become a voicemail message."""

    def late_beep(self, call: CallInfo) -> Sequence[Action]:
        """A beep was heard after the callee was taken for a person (`voice.audio.amd.LateBeep`):
        what to do instead of what is going on, or nothing (a person after all: go on)."""
        ...


class CallRecorder(Protocol):
    """Receives the timeline of a call. Implementations must not raise into the session."""

    async def turn(
        self, call: CallInfo, speaker: str, text: str, start: datetime, end: datetime
    ) -> None: ...

    async def event(self, call: CallInfo, kind: str, data: dict[str, object]) -> None: ...

    async def closed(
        self, call: CallInfo, outcome: CallOutcome, disposition: str | None
    ) -> None: ...
