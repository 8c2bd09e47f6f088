"""Which of the clinic's teams a caller asks to speak with: "can I talk to a nurse", "put me
through to billing".

A caller who asks for a person by role should reach that role: on a `make run` call "Can I
talk to Dr. Okafor's nurse about my medication side effects?" was put through to the front
desk. The rule is deterministic: one team named, not negated ("not the nurse, the front desk"
names none of them for sure, so the front desk it is). The pharmacy is not one of them: "my
pharmacy says…" is the caller's own pharmacy, not a wish for the clinic's pharmacy team.

`asks_for_a_person` checks the NLU's guess of a wish for a person where a wrong guess costs
the caller her request: asked for her name, espeak-ng's "Aoife Brennan" came out "Eat a
brandon.", the NLU called that asking for a person, and she was put through to the front desk
instead of being asked to spell her name.
"""

from __future__ import annotations

import re
from typing import Literal

from nlu.negation import negated, words_of

Team = Literal["nurse", "billing"]

_TEAMS: tuple[tuple[Team, re.Pattern[str]], ...] = (
    ("nurse", re.compile(r"\b(nurses?|nursing|triage line)\b")),
    ("billing", re.compile(r"\b(billing|business office|accounts (department|office|team))\b")),
)


# The words a wish for a person is made of: who (a person, a role, a desk), how (transfer,
# put through), against what (the machine), or a call she is returning. A misheard name or
# date has none of them.
_A_PERSON = re.compile(
    r"\b(person|people|human|some ?body|some ?one|any ?body|any ?one|agent|operator"
    r"|representative|reception(ist)?|front desk|desk|office|staff|nurses?|doctor'?s?|dr"
    r"|manager|customer service|transfer(red)?|connect|put me through|machine|computer|robot"
    r"|returning|voicemail|message|missed call)\b"
)
_A_KEY_FOR_A_PERSON = re.compile(r"^(zero|0|operator)( (zero|0|operator))*$")


def asks_for_a_person(text: str) -> bool:
    """Whether the words themselves ask for a person ("can I talk to someone", "front desk",
    "operator", "zero"), whatever the NLU guessed for them."""
    said = " ".join(re.sub(r"[^\w' ]+", " ", _lowered(text)).split())
    return bool(_A_PERSON.search(said) or _A_KEY_FOR_A_PERSON.match(said))


def team_asked_for(text: str) -> Team | None:
    """The one team named in a request for a person, or None (none, several, or negated)."""
    said = " ".join(_lowered(text).split())
    named = {
        team
        for team, pattern in _TEAMS
        for match in pattern.finditer(said)
        # "I don't need a nurse", "not the nurse line", "rather than billing"
        if not negated(words_of(said[: match.start()]))
    }
    return named.pop() if len(named) == 1 else None


def _lowered(text: str) -> str:
    """Lower case, with a typographic apostrophe as a plain one ("don’t": "don't")."""
    return text.lower().replace("’", "'")
