"""Fuzzy and phonetic comparison of a spoken name with a name on file.

ASR spells unusual names by sound ("marya lopes") and callers give names in either order,
so tokens are aligned order-free and compared both by spelling and by Metaphone code.
"""

from __future__ import annotations

import re

import jellyfish
from rapidfuzz import fuzz

_TITLES = {"mr", "mrs", "ms", "miss", "dr", "doctor", "mister", "missus", "sir", "madam"}
_LEAD_INS = re.compile(
    r"^(?:(?:yes|yeah|hi|hello|um|uh|so|okay|ok)\s+)*(?:my name is|my name's|name is|"
    r"this is|it is|it's|i am|i'm|im|the patient is|patient is|calling for|her name is|"
    r"his name is)\s+"
)
_MIDDLE_WEIGHT = 0.3  # callers often drop middle names; a missing one should cost little
# What callers say around a name, never a name by itself: asked for her name, a caller who only
# says "Hello?", "Goodbye." or "Sorry, what?" has not given one (recognisers make these of
# noise and of a caller talking to someone else, too).
_SMALL_TALK = frozenset({
    "hello", "hi", "hey", "hiya", "goodbye", "bye", "thanks", "thank", "you", "yes", "yeah",
    "yep", "no", "nope", "ok", "okay", "sure", "right", "correct", "what", "sorry", "pardon",
    "huh", "hmm", "um", "uh", "er", "ah", "oh", "please", "well", "so", "and", "the", "a", "is",
    "it",
    # taking leave: "never mind, goodbye", "forget it, that's all for now"
    "never", "mind", "forget", "that's", "all", "for", "now", "see", "later", "cheers", "have",
    "nice", "day", "take", "care",
    # a choice answered out of turn: asked for her name on a `make run` call, "The first one."
    # was looked up as one
    "first", "second", "third", "last", "one", "this", "that", "next", "other", "same",
    "morning", "afternoon", "evening", "option", "number",
    # the request said again: "Yes, please cancel it." asked to spell her name (a full test run)
    "i", "i'm", "my", "me", "it's", "to", "an", "of", "about", "just", "need", "want", "like",
    "would", "can", "could", "cancel", "cancelled", "canceled", "book", "booked", "reschedule",
    "appointment", "appointments", "refill", "prescription", "help", "calling", "do", "go",
    "ahead",
})  # fmt: skip


def _tokens(name: str) -> list[str]:
    text = name.lower().replace("-", " ").replace(",", " ")
    text = _LEAD_INS.sub("", text.strip())
    words = re.findall(r"[a-z']+", text)
    return [w.replace("'", "") for w in words if w not in _TITLES]


def holds_a_name(answer: str) -> bool:
    """Whether an answer to "your full name?" has any word that could be a name: not only
    greetings, thanks, yes or no and fillers."""
    return any(word not in _SMALL_TALK for word in re.findall(r"[a-z']+", answer.lower()))


def _phonetic(a: str, b: str) -> float:
    code_a, code_b = jellyfish.metaphone(a), jellyfish.metaphone(b)
    if not code_a or not code_b:
        return 0.0
    return fuzz.ratio(code_a, code_b) / 100.0


def token_similarity(a: str, b: str) -> float:
    """How alike two lower-case words are as names, in [0, 1]: by spelling, helped by sound."""
    spelled = fuzz.ratio(a, b) / 100.0
    if a[:1] != b[:1] and spelled < 0.8:
        # Phonetic codes of short words collide easily; require some spelling support.
        return spelled
    # Sound alone over-matches different names (Jane / John share a code): blend it.
    return max(spelled, 0.6 * spelled + 0.4 * _phonetic(a, b))


def _aligned(spoken: list[str], candidate: list[str]) -> float:
    """Weighted mean over candidate tokens of their best unused spoken token."""
    available = list(spoken)
    total = 0.0
    weights = 0.0
    for index, token in enumerate(candidate):
        middle = 0 < index < len(candidate) - 1
        weight = _MIDDLE_WEIGHT if middle else 1.0
        best, best_at = 0.0, -1
        for at, word in enumerate(available):
            sim = token_similarity(word, token)
            if sim > best:
                best, best_at = sim, at
        if best_at >= 0 and (best >= 0.5 or not middle):
            available.pop(best_at)
        elif middle:
            best = 0.6  # an unspoken middle name is neutral-ish
        total += weight * best
        weights += weight
    # Extra spoken words (a second surname the file lacks) cost a little.
    extra = len(available) * 0.05
    return max(total / weights - extra, 0.0) if weights else 0.0


def name_score(spoken: str, candidate: str) -> float:
    """How likely the spoken name is the candidate, in [0, 1]; order-tolerant.

    Rough guide: >= 0.85 same name, 0.7-0.85 likely (confirm with date of birth), < 0.6 not.
    """
    said, filed = _tokens(spoken), _tokens(candidate)
    if not said or not filed:
        return 0.0
    aligned = _aligned(said, filed)
    # ASR may split or merge words ("mary ann" / "maryann", "I should con" for "Aisha Khan").
    joined_said, joined_filed = "".join(said), "".join(filed)
    joined = token_similarity(joined_said, joined_filed)
    return round(min(max(aligned, 0.9 * joined), 1.0), 3)


# A caller who names the patient before she is asked ("Hi, this is James Carter, I need to
# cancel my appointment", "I'm calling for my mother, Maria Lopez"): on `make run` calls she
# was asked for the name she had just given. The recogniser writes names capitalised; two or
# three such words right after an introduction are taken as the name, nothing looser (lower-
# case transcripts give none, and the form asks as before).
_RELATIVES = (
    "mother|mom|mum|mommy|father|dad|husband|wife|partner|son|daughter|child|kid|baby|"
    "brother|sister|grandmother|grandma|grandfather|grandpa|aunt|uncle|niece|nephew|"
    "friend|neighbou?r|patient|client|grandson|granddaughter"
)
# The caller introducing herself, and the caller naming the patient as another person.
_SELF = re.compile(
    r"(?:\bmy\s+name\s+is|\bname'?s|\bthis\s+is|\bi\s+am|\bi'?m)\s*,?\s+", re.IGNORECASE
)
_OTHER = re.compile(
    r"(?:\b(?:the|his|her|patient'?s)\s+name\s+is|"
    r"\b(?:calling|phoning|ringing)\s+(?:for|about|on behalf of)"
    rf"(?:\s+(?:my|our)\s+(?:{_RELATIVES}))?|"
    rf"\b(?:my|our)\s+(?:{_RELATIVES})|\bpatient\s+is)\s*,?\s+",
    re.IGNORECASE,
)
_CAPITALISED_WORD = re.compile(r"[A-Z][A-Za-z'’-]*[a-z](?:\s+|$|(?=[,.!?;]))")  # O'Neil, Mary-Ann
# Capitalised words that are never a patient's name where an introduction is followed by them.
_NOT_NAMES = frozenset({
    "dr", "doctor", "nurse", "mr", "mrs", "ms", "miss", "calling", "hi", "hello", "okay", "yes",
    "yeah", "and", "the", "my", "her", "his", "she", "he", "we", "they", "it", "from", "with",
    "at", "in", "on", "for", "please", "sorry", "thanks", "thank", "just", "so", "here", "not",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday", "today", "tomorrow", "clinic", "office", "pharmacy",
})  # fmt: skip


def _names_after(lead: re.Pattern[str], text: str) -> list[str]:
    names = []
    for found in lead.finditer(text):
        words: list[str] = []
        at = found.end()
        while len(words) < 3:
            word = _CAPITALISED_WORD.match(text, at)
            if word is None or word.group().strip().lower() in _NOT_NAMES:
                break
            words.append(word.group().strip())
            at = word.end()
        if len(words) >= 2:
            names.append(" ".join(words))
    return names


def introduced_name(text: str) -> str | None:
    """The patient's full name when the caller gives it unasked, as two or three capitalised
    words right after "calling for my mother", "her name is"…, or after "this is", "my name
    is" when she speaks of nobody else ("Hi, this is Maria Lopez, I'm calling for my son" gives
    the caller's name, not the patient's: none); None otherwise."""
    others = _names_after(_OTHER, text)
    if others:
        return others[0]
    selves = _names_after(_SELF, text)
    return selves[0] if selves and not speaks_for_someone_else(text) else None


_FOR_SOMEONE_ELSE = re.compile(
    rf"\b(?:my|our)\s+(?:{_RELATIVES})\b|\bon behalf of\b|\b(?:her|his|the patient'?s)\s+"
    r"(?:name|date of birth|birthday|dob)\b",
    re.IGNORECASE,
)


def speaks_for_someone_else(text: str) -> bool:
    """Whether the caller speaks of the patient as another person ("for my mother", "her date
    of birth is…"): she is then not thanked by the patient's first name."""
    return _FOR_SOMEONE_ELSE.search(text) is not None


# Names run to four or five words at most ("Maria Elena Lopez Garcia"); a longer answer to
# "the patient's full name?" is a sentence, with the name somewhere in it or not at all.
MAX_NAME_WORDS = 5
_CAPITALISED_RUN = re.compile(r"(?:[A-Z][A-Za-z'’-]*[a-z]\s+){1,2}[A-Z][A-Za-z'’-]*[a-z]\b")


def name_in_answer(answer: str) -> str | None:
    """The name in an answer to "the patient's full name?": the answer itself when it is short
    enough to be one; in a longer one, the first run of two or three capitalised words
    ("Sure, it's for Maria Lopez, she's my mom"); None when a longer one holds none ("She
    needs to refill with her lives in April." was looked up as a name on a `make run` call).
    A transcript without capitals (Vosk's) is taken as said."""
    if len(re.findall(r"[A-Za-z'’-]+", answer)) <= MAX_NAME_WORDS or answer == answer.lower():
        return answer  # short enough, or a recogniser that writes no capitals: as said
    for run in _CAPITALISED_RUN.finditer(answer):
        words = run.group().split()
        if not any(w.lower() in _NOT_NAMES for w in words):
            return run.group()
    return None
