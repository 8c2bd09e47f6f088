"""A second hearing of a date of birth that did not come out as a date.

Dates said in words are what the recogniser gets wrong most on a phone line ("July nineteenth,
nineteen ninety" came out "2-9-19-19-19" on a real call). Heard again with a few dates written
out in its prompt, the same audio comes out as a date more often. Measured off-line with the
server's recogniser on the names bench's birthdays (10 dates in 6 spoken forms, 60 answers per
voice; 2026-12-01): understood at the first hearing or the second, flite slt 51 → 53, flite awb
47 → 51, piper 51 → 54, espeak en-us 12 → 17 (and 8 wrong dates: slt 2, awb 1, espeak 5).
Only answers with no date get the second hearing, and each date is read back to the caller ("I
have … Is that right?") like any other, so a wrong one costs the turn a miss costs.
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
from voice.asr.base import SpeechRecognizer, hear_again

log = logging.getLogger(__name__)

# Dates nobody in the demo clinic or the names bench is born on: a caller born on one of them
# could never be heard again (a second hearing equal to an example is dropped).
EXAMPLES = ("August 23, 1967", "April 2, 2004", "December 11, 1949", "June 30, 1985")
_EXAMPLE_DATES = {date(1967, 8, 23), date(2004, 4, 2), date(1949, 12, 11), date(1985, 6, 30)}
UNLIKELY_AGE = 100


class DateRecheck:
    def __init__(
        self, recognizer: SpeechRecognizer, today: Callable[[], date] = date.today
    ) -> None:
        self.recognizer, self.today = recognizer, today

    async def heard_again(self, said: str, audio: np.ndarray | None) -> str | None:
        """The answer heard again, when `said` is no date (or one over 100 years ago) and the
        second hearing is a likelier one."""
        first = parse_dob(said, self.today())
        if audio is None or (first is not None and not self._unlikely(first)):
            return None

        try:
            text = await asyncio.to_thread(
                hear_again, self.recognizer, audio, hints=EXAMPLES, answer="date"
            )
        except Exception:  # only a better chance: the dialog asks again without it
            log.exception("date heard again: recognition failed")
            return None
        born = parse_dob(text, self.today())
        if born is None or born in _EXAMPLE_DATES or born == first:
            return None
        if first is not None and self._unlikely(born):
            return None  # no likelier: the first hearing stands
        return text

    def _unlikely(self, born: date) -> bool:
        today = self.today()
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        return age > UNLIKELY_AGE
