"""What the call does about what triage heard: the actions for each kind of red flag, and the
screening question for callers who describe a symptom that no layer flagged.

Rules, in order:
- emergent (the lexicon only): the emergency message (with the crisis line, 988, when the
  caller speaks of harming themselves), then the emergent nurse transfer;
- self-harm or hopelessness at any level, or a flag only the semantic net raised: a person
  at once (the nurse queue; flagged callers never end in a callback), no offer to decline;
- other urgent flags: the dialog offers the nurse (see `ClinicConversation.respond`);
- a symptom with no flag, or words the net found close to a red flag without raising the call
  (`TriageResult.near`): before any self-service, "are you having chest pain, trouble
  breathing, severe bleeding, or thoughts of harming yourself right now?" Yes takes the
  emergent path; no offers the nurse line first; then the dialog goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nlu.confirm import yes_no
from nlu.triage import TriageResult
from voice.session.actions import Action, CallerTurn, PlayPrompt, Transfer

# Categories whose callers hear the crisis line (988) and reach a person at once.
CRISIS_CATEGORIES = frozenset({"suicide_self_harm", "depression_hopelessness"})


def is_crisis(result: TriageResult) -> bool:
    net = result.net.category if result.net is not None else None
    return net in CRISIS_CATEGORIES or any(c in CRISIS_CATEGORIES for c in result.categories)


def near_crisis(result: TriageResult | None) -> bool:
    """Nothing flagged, but the words came closest to self-harm or hopelessness."""
    return result is not None and result.near is not None and (
        result.near.category in CRISIS_CATEGORIES
    )


def emergency_actions(result: TriageResult, context: dict[str, object]) -> list[Action]:
    prompt = "emergency_crisis" if is_crisis(result) else "emergency"
    reason = "red flag: " + ", ".join(result.categories)
    return [
        PlayPrompt(prompt, barge_in=False),
        Transfer("nurse", reason, emergent=True, context=context, emergency_prompt=prompt),
    ]


def person_now_actions(result: TriageResult, context: dict[str, object]) -> list[Action]:
    """Self-harm words, or a description only the net recognised: a nurse now, no offer."""
    crisis = is_crisis(result)
    described = "" if result.net is None else f" (described: {result.net.category})"
    reason = "urgent: " + ", ".join(result.categories) + described
    return [
        PlayPrompt("crisis" if crisis else "nurse_now", barge_in=False),
        Transfer("nurse", reason, context=context),
    ]


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


def answer_of(turn: CallerTurn) -> Answer:
    """Yes / no by voice, or 1 / 2 on the keypad."""
    if turn.digits:
        return {"1": Answer.YES, "2": Answer.NO}.get(turn.digits[-1], Answer.UNCLEAR)
    said = yes_no(turn.text or "")
    if said is None:
        return Answer.UNCLEAR
    return Answer.YES if said else Answer.NO


@dataclass
class SymptomScreen:
    """The screening question's mini-dialog; asked at most once per call."""

    asked: bool = False
    pending: bool = False  # the question was asked; its answer comes next
    tries: int = 0
    offering_nurse: bool = False  # "would you like a nurse?" was asked
    held_text: str | None = None  # what the caller said first, for the dialog afterwards
    cause: TriageResult | None = None  # triage of what they said first

    @property
    def crisis(self) -> bool:
        """What they said came closest to self-harm: a yes hears the crisis line (988)."""
        return near_crisis(self.cause)

    @property
    def near_only(self) -> bool:
        """Asked because the words came close to a red flag, not for symptom words: they
        described a worry, not a request, so after two noes the caller is asked what she needs
        instead of the dialog guessing a request from them (it filed one under billing on a
        real call)."""
        return self.cause is not None and not self.cause.symptom

    def should_ask(self, result: TriageResult | None, turn: CallerTurn) -> bool:
        """A described symptom, or words close to a red flag, that no layer flagged, the
        first time in the call."""
        return (
            not self.asked
            and result is not None
            and turn.text is not None
            and result.text == turn.text
            and result.screen
        )

    def ask(self, turn: CallerTurn, cause: TriageResult | None) -> list[Action]:
        self.asked = self.pending = True
        self.held_text = turn.text
        self.cause = cause
        return [PlayPrompt("screening_question")]
