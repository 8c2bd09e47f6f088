"""Where a call stands at any moment, so a red flag can be acted on in every one of them.

Safety rules are written per phase ("a red flag said while the consult leg rings turns the
transfer into the emergent one"), the record says in which phase a flag was said, and the
tests hold one row per phase: adding a phase here without its test row fails the suite.
"""

from __future__ import annotations

from enum import StrEnum


class CallPhase(StrEnum):
    GREETING = "greeting"  # the opening prompt
    LISTENING = "listening"  # the bot is quiet, waiting for the caller
    PROMPT = "prompt"  # any other bot speech: a reply, a reprompt
    IDENTITY_FORM = "identity_form"  # the dialog asked for the name or date of birth
    KEYPAD_MENU = "keypad_menu"  # the dialogs are down: "press 1 for a nurse"
    TRANSFER_HOLD = "transfer_hold"  # "I'm connecting you", while routing picks someone
    CONSULT_RINGING = "consult_ringing"  # the agent's phone rings; the caller hears hold audio
    WHISPER = "whisper"  # the agent answered and hears the summary; the caller waits
    QUEUE_CHOICE = "queue_choice"  # nobody free: "hold, or shall we call you back?"
    HOLD_QUEUE = "hold_queue"  # holding for the next free person
    BRIDGED = "bridged"  # caller and agent talk; we listen and transcribe
    GOODBYE = "goodbye"  # the closing words before the bot hangs up
    EMERGENCY = "emergency"  # the emergency message is playing


# Prompts whose playing puts the call in a phase of its own.
PROMPT_PHASES: dict[str, CallPhase] = {
    "greeting": CallPhase.GREETING,
    "transfer": CallPhase.TRANSFER_HOLD,
    "nurse_transfer": CallPhase.TRANSFER_HOLD,
    "goodbye": CallPhase.GOODBYE,
    "silence_goodbye": CallPhase.GOODBYE,
    "emergency": CallPhase.EMERGENCY,
    "emergency_crisis": CallPhase.EMERGENCY,
    "crisis": CallPhase.TRANSFER_HOLD,
    "nurse_now": CallPhase.TRANSFER_HOLD,
}
