"""Which of the clinic's teams a caller asks to speak with: "can I talk to a nurse", "put me
through to billing".

A caller who asks for a person by role should reach that role: on a `make run` call "Can I
talk to Dr. Okafor's nurse about my medication side effects?" was put through to the front
desk. The rule is deterministic: one team named, not negated ("not the nurse, the front desk"
names none of them for sure, so the front desk it is). The pharmacy is not one of them: "my
pharmacy says…" is the caller's own pharmacy, not a wish for the clinic's pharmacy team.
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


def team_asked_for(text: str) -> Team | None:
    """The one team named in a request for a person, or None (none, several, or negated)."""
    said = " ".join(text.lower().replace("’", "'").split())
    named = {
        team
        for team, pattern in _TEAMS
        for match in pattern.finditer(said)
        # "I don't need a nurse", "not the nurse line", "rather than billing"
        if not negated(words_of(said[: match.start()]))
    }
    return named.pop() if len(named) == 1 else None
