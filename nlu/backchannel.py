"""What a caller says over the bot without taking the turn: "mm-hmm", "okay", a cough.

Callers acknowledge while someone talks to them, and phone lines carry coughs and doors. When
that is all the bot heard while it spoke, it goes on speaking instead of stopping for a turn
that nobody took (`voice.session.call_session`). Anything more than an acknowledgement is a
turn: "okay, but can I ask something", "no", "wait".
"""

from __future__ import annotations

import re

# Acknowledgements, as Whisper writes them (lowercase, punctuation and hyphens gone).
_PHRASES = frozenset(
    {
        "mm hmm", "mhm", "uh huh", "okay", "ok", "alright", "all right", "right", "yeah",
        "yes", "yep", "yup", "sure", "i see", "got it", "gotcha", "oh okay", "oh i see",
        "okay okay", "yeah yeah", "right right", "mm hmm okay", "uh huh okay", "yeah okay",
        "okay yeah", "oh", "ah", "hmm", "hm", "mm", "um", "uh", "er", "erm", "oh yeah",
        "oh right", "okay thanks", "okay thank you", "thank you", "thanks",
    }
)
# Sounds Whisper annotates rather than transcribes: "(coughs)", "[door slams]", "*sighs*".
_ANNOTATION = re.compile(r"\([^)]*\)|\[[^\]]*\]|\*[^*]*\*")
_WORDS = re.compile(r"[a-z']+")


def words_of(text: str) -> list[str]:
    """The spoken words of a transcript: annotations of sounds dropped, hyphens split."""
    return _WORDS.findall(_ANNOTATION.sub(" ", text.lower()).replace("-", " "))


def no_words(text: str) -> bool:
    """Nothing a person said: empty, punctuation, or only annotated sounds ("(coughing)")."""
    return not words_of(text)


def is_backchannel(text: str) -> bool:
    """An acknowledgement and nothing more: "Mm-hmm.", "Okay.", "Uh-huh, okay." """
    words = words_of(text)
    return bool(words) and " ".join(words) in _PHRASES
