"""A second hearing of a date of birth that did not come out as a date.

Dates said in words are what the recogniser gets wrong most on a phone line ("July nineteenth,
nineteen ninety" came out "2-9-19-19-19" on a real call). Heard again with a few dates written
out in its prompt, the same audio comes out as a date more often. Measured off-line with the
server's recogniser on the names bench's birthdays (10 dates in 6 spoken forms, 60 answers per
voice; 2026-12-01): understood at the first hearing or the second, flite slt 51 → 52, flite awb
47 → 51, piper 52 → 53, espeak en-us 12 → 15 (and 4 wrong dates, all espeak's). Only answers
with no date get the second hearing, and each date is read back to the caller ("I have … Is that
right?") like any other, so a wrong one costs the turn a miss costs.
A second hearing that comes out as one of the prompt's own dates is the recogniser repeating
its prompt, and is not used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date

import numpy as np

from nlu.dates import parse_dob
from voice.asr.base import SpeechRecognizer

log = logging.getLogger(__name__)

EXAMPLES = ("July 19, 1990", "March 4, 2000", "November 20, 1958", "October 30, 1972")
_EXAMPLE_DATES = {date(1990, 7, 19), date(2000, 3, 4), date(1958, 11, 20), date(1972, 10, 30)}


class DateRecheck:
    def __init__(
        self, recognizer: SpeechRecognizer, today: Callable[[], date] = date.today
    ) -> None:
        self.recognizer, self.today = recognizer, today

    async def heard_again(self, said: str, audio: np.ndarray | None) -> str | None:
        """The answer heard again, when `said` is no date and the second hearing is one."""
        if audio is None or parse_dob(said, self.today()) is not None:
            return None

        def decode() -> str:
            stream = self.recognizer.new_stream(hints=EXAMPLES, answer="date")
            stream.accept(audio)
            return stream.finish().text.strip()

        try:
            text = await asyncio.to_thread(decode)
        except Exception:  # only a better chance: the dialog asks again without it
            log.exception("date heard again: recognition failed")
            return None
        born = parse_dob(text, self.today())
        if born is None or born in _EXAMPLE_DATES:
            return None
        return text
