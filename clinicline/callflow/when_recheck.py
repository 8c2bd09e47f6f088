"""An answer to "what day and time suit you?" heard again when it came out as no day or time.

Short answers about days are easy to mishear on a phone line: "Thursday" came out "Certainly.",
"SARS D." and "Our state.", "the earliest you have" "Nearly a few pounds.", "Tuesday afternoon"
"2v after noon." (a `make run` call, 2026-12-05).

While a day is asked for, the first hearing's prompt holds the weekdays and parts of the day
(`HINTS`) instead of the clinic's drugs and names. Answers in which `nlu.dates.parse_when`
finds no wish at all are then heard again, held to the ways of saying a day and time below
(`PhraseListener`), and so are answers that look like that prompt written back ("Monday,
Monday, Monday, Wednesday." for "Monday at eleven"). The held hearing is used when the model's
confidence in it reaches `MIN_CONFIDENCE`. The dialog offers times for it, which the caller
hears before anything is booked, so a wrong day costs a "no".

Measured off-line (`clinicline bench --when`, docs/bench/when.md): replies that are not a day
or time ("I don't know", "can I talk to someone", "my chest hurts") came out as one with a
confidence of at most 0.05 on the development set, answers rescued at 0.12 to 0.66, so the
threshold is 0.1. On the held-out set the prompt helped and the held hearing did not (see the
bench). Red flags are screened on the free hearing before this runs, and the call's record
keeps what the free hearing wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import numpy as np

from clinicline.callflow.confirm_recheck import held_to_phrases
from nlu.dates import parse_when
from voice.asr.base import SpeechRecognizer

MIN_CONFIDENCE = 0.1
LONGEST_ANSWER_SECONDS = 4.0  # longer replies are sentences, not a day and a time
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
# Words for the first hearing's prompt while a day is asked for, instead of the clinic's drugs
# and names (on the development set "Friday at ten" came out "Friday atorvastin").
HINTS = (*WEEKDAYS, "morning", "afternoon", "next week", "tomorrow")


def when_phrases() -> tuple[str, ...]:
    """The day-and-time answers a held hearing may come out as, written as Whisper writes them."""
    times = ("", " morning", " afternoon", " at 9", " at 10", " at 11", " at 1", " at 2",
             " at 3", " at 4", " after 2", " after 3", " before noon")  # fmt: skip
    said = [f"{lead}{day}{t}" for day in WEEKDAYS for lead in ("", "Next ") for t in times]
    said += [f"Tomorrow{t}" for t in times]
    said += ["The earliest you have", "As soon as possible", "Any time", "Anytime", "Whenever",
             "Next week", "Any time next week", "This week", "The week after next",
             "In the morning", "In the afternoon", "Morning", "Afternoon"]  # fmt: skip
    return tuple(said)


_PHRASES = when_phrases()
_WEEKDAY = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I)


def echoes_prompt(text: str) -> bool:
    """Whether the hearing looks like the prompt's list of days written back ("Monday, Monday,
    Monday, Wednesday.", "Wednesday, Friday, Tuesday." for "Wednesday around two"): a day named
    twice, or three days or more. "Monday or Tuesday" is not."""
    days = [d.lower() for d in _WEEKDAY.findall(text)]
    return len(days) != len(set(days)) or len(set(days)) >= 3


class WhenRecheck:
    def __init__(
        self, recognizer: SpeechRecognizer, now: Callable[[], datetime] = datetime.now
    ) -> None:
        self.recognizer, self.now = recognizer, now

    async def heard_again(self, said: str, audio: np.ndarray | None) -> str | None:
        """The answer heard again as a day or time, when `said` holds none."""
        if parse_when(said, self.now()) is not None and not echoes_prompt(said):
            return None
        heard = await held_to_phrases(
            self.recognizer, audio, _PHRASES, LONGEST_ANSWER_SECONDS, "day and time"
        )
        if heard is None:
            return None
        if heard.confidence < MIN_CONFIDENCE or parse_when(heard.text, self.now()) is None:
            return None
        return heard.text
