"""Yes or no from a caller's reply to a read-back ("Did I get that right?")."""

from __future__ import annotations

import re

# Longest phrases first so "not right" wins over "right".
_NO = (
    "that is not right",
    "that's not right",
    "thats not right",
    "not right",
    "not correct",
    "incorrect",
    "not quite",
    "not really",
    "that is wrong",
    "that's wrong",
    "wrong",
    "nope",
    "nah",
    "negative",
    "no way",
    "absolutely not",
    "definitely not",
    "of course not",
    "not at all",
    "don't",
    "do not",
    "no",
    "not",
)
_YES = (
    "that is right",
    "that's right",
    "thats right",
    "that is correct",
    "that's correct",
    "you got it",
    "go ahead",
    "please do",
    "sounds good",
    "that works",
    "uh huh",
    "mm hmm",
    "mhm",
    "yes",
    "yeah",
    "yep",
    "yup",
    "ya",
    "yea",
    "correct",
    "right",
    "exactly",
    "sure",
    "ok",
    "okay",
    "affirmative",
    "absolutely",
    "definitely",
    "of course",
    "perfect",
    "it does",
    "i do",
    "please",
)
_UNSURE = re.compile(
    r"\b(not sure|i don't know|i do not know|dunno|maybe|i think so\?|"
    r"what|repeat|say that again|pardon|sorry)\b"
)
_CUES = sorted(((p, False) for p in _NO), key=lambda c: -len(c[0]))
_CUES += sorted(((p, True) for p in _YES), key=lambda c: -len(c[0]))
_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(p) for p, _ in sorted(_CUES, key=lambda c: -len(c[0]))) + r")\b"
)
_POLARITY = dict(_CUES)


def answer_phrases() -> list[str]:
    """Every yes and no the parser knows, written as a recogniser writes a short answer
    ("Yes", "That's right", "Uh-huh"): what a yes-or-no answer is heard against."""
    phrases = [*_NO, *_YES]
    phrases += [p.replace(" ", "-") for p in ("uh huh", "mm hmm")]
    written = [p for p in phrases if p not in ("ya", "yea") and not p.startswith("thats ")]
    return [p[0].upper() + p[1:] for p in written]


# Whisper writes a short "No" as "Know" ("Know that's all." from flite on a `make run` call,
# which the dialogs took for a question about an appointment). A reply opening with "know"
# and going on with nothing a "know" could begin ("know what...", "know if...") is a no.
_KNOW_FOR_NO = re.compile(
    r"^(\W*)know\b(?=\W*($|that'?s\b|thanks?\b|thank you\b|it'?s\b|i'?m\b|i don'?t\b|"
    r"not\b|no\b|nothing\b))",
    re.I,
)


def mend_no(text: str) -> str:
    """The caller's words with a "No" the recogniser wrote as "Know" put right."""
    return _KNOW_FOR_NO.sub(lambda m: m.group(1) + "No", text, count=1)


# "No thank you", "never mind", "forget it, I'll call back": the whole answer is a refusal.
# "No, I can't do mornings" is not: she says what does not suit.
_REFUSAL = (
    r"(no+|nope|nah|no way|not really|not now|not today|never\s*mind|forget (it|that|about it)"
    r"|don'?t bother|(that'?s )?okay|it'?s (fine|okay)|thanks?|thank you( very much)?"
    r"|that'?s (all|it|fine)|that is all|i'?m (good|fine|okay)"
    r"|i('?ll| will) call (you )?(back|later|another time)"
    r"|(maybe )?(some )?other time|later|i (don'?t|do not) (want|need) (to book|one|it|to)"
    r"( (anymore|after all|now))?|actually)"
)
_NO_LONGER = re.compile(rf"^\W*{_REFUSAL}(\W+{_REFUSAL})*\W*$", re.I)
_NEGATIVE = re.compile(r"\b(no+|nope|nah|not|never|forget|don'?t|other time|later|call)\b", re.I)
# Openings that give up whatever follows: on a call, "never mind, I'll call back" came in as
# "Never mind, I'll talk."
_GIVES_UP = re.compile(
    r"^\W*(never\s*mind|forget (it|that|about it)|don'?t bother|no,? thank you|no,? thanks?"
    r"|not now)\b",
    re.I,
)
# "I'll call back later" anywhere in an answer, or "I'll call" ending it, and the words left
# around it once it is gone. Whisper writes this "call" as "talk" ("Never mind, I'll talk.",
# "Never mind. I'll talk back later." on `make run` calls).
_CALLS_BACK = re.compile(
    r"\bi('?ll| will) (just )?(call|talk)( (to )?you)?( (back|later|another time)\b|\W*$)", re.I
)
_FILLER_AFTER = re.compile(r"\b(later|then|thanks?|thank you)\b", re.I)


def no_longer_wanted(text: str) -> bool:
    """Whether an answer turns down what was asked about altogether ("no thank you", "never
    mind, I'll call back"), rather than saying what would suit ("no, I can't do mornings")."""
    return bool(_GIVES_UP.search(text) or (_NO_LONGER.search(text) and _NEGATIVE.search(text)))


def gives_up(text: str) -> bool:
    """Whether an answer to a question about the caller (her name, her date of birth) drops
    the request ("never mind", "no thanks, I'll call back later"). A bare "no" does not: asked
    for a name, it is more likely a mishearing than a change of mind, and is asked again."""
    return bool(_GIVES_UP.search(text) or _CALLS_BACK.search(text))


def besides_giving_up(text: str) -> str:
    """What an answer says besides giving up: "never mind, it's Maria Lopez" -> "it's Maria
    Lopez"; "never mind, I'll call back later" -> ""."""
    rest = _CALLS_BACK.sub(" ", _GIVES_UP.sub(" ", text, count=1))
    rest = _FILLER_AFTER.sub(" ", rest)
    return rest.strip(" \t,.;:!?-")


def yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when the reply is neither or unclear.

    When a reply holds both ("no wait, yes"), the last cue wins: callers correct themselves.
    Keypad 1 is yes and 2 is no, as read-back prompts offer.
    """
    clean = mend_no(text.replace("\u2019", "'")).lower().replace(",", " ").replace("-", " ")
    clean = " ".join(clean.split()).strip(" .!?")
    if clean in ("1", "one"):
        return True
    if clean in ("2", "two"):
        return False
    cues = [_POLARITY[m.group(1)] for m in _PATTERN.finditer(clean)]
    if not cues:
        return None
    if _UNSURE.search(clean) and len(set(cues)) > 1:
        return None
    if _UNSURE.search(clean) and not re.match(r"(yes|yeah|no|yep|nope)\b", clean):
        return None
    return cues[-1]


# A decline said before the caller goes on to what she wants ("No thanks, I'd rather just
# book an appointment"): its words, then thanks and fillers.
_DECLINE = re.compile(
    r"^\W*(?:(?:no|nope|nah|not really|not now|not right now|not today|no need|"
    r"i'm (?:fine|okay|ok|good|all right)|i am (?:fine|okay|ok|good)|i'm not|it's okay|"
    r"that's okay|that's all right|thanks|thank you|but|so|um|uh|well|actually|"
    r"i don't think so)\b\W*)+",
    re.I,
)
_SMALL = frozenset({"please", "just", "really", "then", "okay", "ok", "that's", "it", "all"})


def request_after_no(text: str) -> str:
    """What a caller asks for after turning an offer down, or "" when she only turned it down.

    "No thanks, I'd rather just book an appointment" -> "I'd rather just book an appointment";
    "No, thank you." -> "". A reply with no decline at all ("Can I book an appointment?") is
    a request as a whole."""
    rest = _DECLINE.sub("", text.replace("\u2019", "'"), count=1).strip(" .,!?")
    words = re.findall(r"[a-z']+", rest.lower())
    return rest if len([w for w in words if w not in _SMALL]) >= 2 else ""


# A request in the caller's words: what "no", "nothing else" or "bye" never hold. A statistical
# intent model took "I need a note for work" for a no and the call was ended.
_ASKS = re.compile(
    r"\b(i need|i want|i'?d like|i would like|i'?m calling|i am calling|calling (about|for|to)|"
    r"can (i|you|we|someone)|could (i|you|someone)|may i|how do i|where do i|i have a question|"
    r"question about|help me|looking for)\b",
    re.IGNORECASE,
)
_NOTHING_MORE = re.compile(
    r"\b(anything else|nothing else|that'?s (all|it|everything)|all set|no more|that was it)\b",
    re.IGNORECASE,
)


def asks_for_something(text: str) -> bool:
    """Whether the words make a request ("I need a note for work"), not a no or a goodbye
    ("No, I don't need anything else", "That's all I wanted, thanks")."""
    return (
        yes_no(text) is not False
        and _ASKS.search(text) is not None
        and _NOTHING_MORE.search(text) is None
    )
