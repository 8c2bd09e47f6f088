"""A second hearing of a date of birth that did not come out as a date.

Dates said in words are what the recogniser gets wrong most on a phone line ("July nineteenth,
nineteen ninety" came out "2-9-19-19-19" on a real call). Only answers with no date get the
second hearing, and each date is read back to the caller ("I have … Is that right?") like any
other, so a wrong one costs about the turn a miss costs.

A recogniser that can hear an utterance as a date and nothing else (`DateListener`: Whisper,
`voice.asr.constrained`) is asked for the likeliest date, with a few dates written out in its
prompt; it is taken when the recogniser's confidence in it reaches `MIN_DATE_CONFIDENCE`. Other
recognisers hear the audio again freely, with the same dates in the prompt. Measured off-line
on the names bench's birthdays (10 dates in 6 spoken forms, four voices, 240 answers, and 80
answers that hold no date; 2026-12-02, `clinicline bench --dates`, development set): understood
at the first hearing 122, after a free second hearing 139 (15 wrong dates), held to dates 153
(36 wrong dates; espeak en-us 12 → 17 free → 27 held). Answers with no date made into one: 3 of
80 at 0.35; at 0.25, 6 (and 2 more right); at 0.45, 1 (and 4 fewer right).
A second hearing that comes out as one of the prompt's own dates is the recogniser repeating
its prompt, and is not used.

A date that makes the caller over 100 is heard again too: "July 19th, 1990" came out "July 19,
1919" on a real call (2026-12-01), a slip the recogniser makes with spoken years and a birth
date almost no caller has. The second hearing replaces it only with a date under 100 years.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date

import numpy as np

from nlu.dates import parse_dob
from voice.asr.base import DateListener, SpeechRecognizer, hear_again

log = logging.getLogger(__name__)

# Dates nobody in the demo clinic or the names bench is born on: a caller born on one of them
# could never be heard again (a second hearing equal to an example is dropped).
EXAMPLES = ("August 23, 1967", "April 2, 2004", "December 11, 1949", "June 30, 1985")
_EXAMPLE_DATES = {date(1967, 8, 23), date(2004, 4, 2), date(1949, 12, 11), date(1985, 6, 30)}
UNLIKELY_AGE = 100
MIN_DATE_CONFIDENCE = 0.35  # geometric mean token probability of the date heard (see below)


class DateRecheck:
    def __init__(
        self, recognizer: SpeechRecognizer, today: Callable[[], date] = date.today
    ) -> None:
        self.recognizer, self.today = recognizer, today

    async def heard_again(self, said: str, audio: np.ndarray | None) -> str | None:
        """The answer heard again, when `said` is no date (or one over 100 years ago) and the
        second hearing is a likelier one."""
        first = parse_dob(said, self.today())
        if audio is None or (first is not None and not self.unlikely(first)):
            return None

        try:
            text = await asyncio.to_thread(self._hear, audio)
        except Exception:  # only a better chance: the dialog asks again without it
            log.exception("date heard again: recognition failed")
            return None
        born = parse_dob(text, self.today())
        if born is None or born in _EXAMPLE_DATES or born == first:
            return None
        if first is not None and self.unlikely(born):
            return None  # no likelier: the first hearing stands
        return text

    def _hear(self, audio: np.ndarray) -> str:
        if isinstance(self.recognizer, DateListener):
            heard = self.recognizer.hear_date(audio, EXAMPLES, self.today().year)
            return heard.text if heard.confidence >= MIN_DATE_CONFIDENCE else ""
        return hear_again(self.recognizer, audio, hints=EXAMPLES, answer="date")

    def unlikely(self, born: date) -> bool:
        today = self.today()
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        return age > UNLIKELY_AGE
