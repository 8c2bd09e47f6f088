"""The clinic's fixed prompts: rendered once at start-up, played with no synthesis delay.

The emergency message leads with the instruction to dial 911 and is never interrupted by
barge-in. Clinics change the wording here (or in the config) and restart.
"""

from __future__ import annotations

EMERGENCY_MESSAGE = (
    "If this is a medical emergency, hang up and dial 911 now. "
    "I am connecting you to a nurse right away. Please stay on the line."
)
# The emergency message for a caller who speaks of harming themselves: 911 first, and the
# crisis line (988) they can reach at any time.
EMERGENCY_CRISIS_MESSAGE = (
    "If you are in danger right now, hang up and dial 911. You can also call or text 988, "
    "the Suicide and Crisis Lifeline. I am connecting you to a nurse right away. "
    "Please stay on the line."
)
# Both count as "the emergency message" in the call record.
EMERGENCY_PROMPTS = frozenset({"emergency", "emergency_crisis"})


def clinic_prompts(clinic_name: str) -> dict[str, str]:
    """Prompt name -> text for this clinic."""
    return {
        "greeting": (
            f"Thank you for calling {clinic_name}. "
            "If this is a medical emergency, hang up and dial 911. "
            "How can I help you today?"
        ),
        "emergency": EMERGENCY_MESSAGE,
        "emergency_crisis": EMERGENCY_CRISIS_MESSAGE,
        "crisis": (
            "Thank you for telling me. You are not alone. You can call or text 988, the "
            "Suicide and Crisis Lifeline, at any time. I'm connecting you with a nurse now. "
            "Please stay on the line."
        ),
        "nurse_now": (
            "I'd like a nurse to talk with you about that right away, so I'm connecting you "
            "now. If this is an emergency, hang up and dial 911."
        ),
        "screening_question": (
            "Before we go on: are you having chest pain, trouble breathing, severe bleeding, "
            "or thoughts of harming yourself right now? Please say yes or no."
        ),
        "nurse_offer": (
            "Thank you. Would you like to talk with a nurse about how you are feeling? "
            "Please say yes or no."
        ),
        "nurse_declined": "All right. What can I help you with today?",
        "reprompt": "Sorry, I didn't hear anything. How can I help you?",
        "reprompt_question": "Sorry, I didn't hear anything.",
        "not_understood": "Sorry, I didn't catch that. Could you say it again?",
        "keys_not_expected": (
            "Sorry, I can't use the keypad here. Please say it in a few words, or press 0 for"
            " the front desk."
        ),
        "goodbye": "Thank you for calling. Goodbye.",
        "silence_goodbye": (
            "I still can't hear you, so I'll end the call now. Please call us back. Goodbye."
        ),
        "hold": "Please hold while I connect you.",
        "transfer": "I'm connecting you with a member of our team. Please stay on the line.",
        "nurse_transfer": "I'm connecting you with a nurse now. Please stay on the line.",
        "keypad_menu": (
            "Our automated assistant is not available right now. "
            "To speak with a nurse, press 1. For the front desk, press 0."
        ),
        "no_agent": (
            "Everyone on our team is busy right now. If this is an emergency, hang up and dial 911."
        ),
        "busy_choice": (
            "Everyone on our team is helping other callers right now. "
            "To hold for the next available person, press 1 or say hold. "
            "To have us call you back instead, press 2 or say call me back."
        ),
        "busy_hold_only": (
            "Everyone on our team is helping other callers right now. "
            "Please stay on the line for the next available person."
        ),
        "still_holding_next": (
            "Thank you for holding. You are next in line. "
            "To have us call you back instead, press 2."
        ),
        "still_holding": "To have us call you back instead, press 2.",
        "callback_confirmed": (
            "All right. Someone from our team will call you back as soon as possible. "
            "If this is an emergency, hang up and dial 911."
        ),
        "shutdown": "I'm sorry, we need to end this call now. Please call us back. Goodbye.",
    }


# Where the caller hears each prompt, shown beside it in the console's Flows area.
PROMPT_USES: dict[str, str] = {
    "greeting": "The start of every inbound call",
    "emergency": "At once, when a red flag is heard at any moment of a call",
    "emergency_crisis": "At once, when the red flag is suicide or self-harm",
    "crisis": "Words of self-harm heard as urgent, before the nurse takes the call",
    "nurse_now": "An urgent red flag (or one only the safety net heard): a nurse now",
    "screening_question": "A symptom no red flag matched, before any self-service",
    "nurse_offer": "The screening question answered no",
    "nurse_declined": "The nurse offer declined",
    "reprompt": "The caller said nothing after a question",
    "reprompt_question": "The caller said nothing after a question, which is then asked again",
    "not_understood": "The words could not be made out, or the dialogs gave no reply",
    "keys_not_expected": "Keys other than 0 pressed when no keys were asked for",
    "goodbye": "The end of a call the bot closes",
    "silence_goodbye": "The caller stayed silent after the reprompt",
    "hold": "While a person's phone rings",
    "transfer": "A transfer to the front desk, billing or the pharmacy starts",
    "nurse_transfer": "A transfer to the nurses starts",
    "keypad_menu": "The dialogs cannot be reached: the keypad takes over",
    "no_agent": "Nobody took a transfer and no call back was taken",
    "busy_choice": "Everyone is busy: hold or a call back",
    "busy_hold_only": "Everyone is busy and the caller's number is unknown (no call back)",
    "still_holding_next": "On hold, next in line",
    "still_holding": 'On hold, after "You are number N in line"',
    "callback_confirmed": "The caller chose a call back",
    "shutdown": "The worker is stopping with the call still up",
}
