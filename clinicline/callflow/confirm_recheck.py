"""A yes or a no heard again, held to the answers the parser knows.

Short answers are what a free decode gets wrong most easily: on a phone line "nope" came out
"Note." and "Build.", "correct" "Direct." and "Go back.", "incorrect" "Interact." (and "In
correct.", a yes), and "no" once "Yeah, I hope." (a yes: a refill confirmed that the caller
declined). Held to the yes and no answers of `nlu.confirm` (`PhraseListener`), the same audio
comes out as one of them with the model's confidence in it.

Measured off-line on 16 answers and 6 other replies ("what did you say", a corrected date, a
symptom, a name) in five synthetic voices (2026-12-02): the free hearing gave the right answer
59 of 80 times and the opposite one 5 times; held to answers, 78 and 2. The other replies came
out as an answer with a confidence of at most 0.063, so the held hearing is used from 0.1; below
it the free hearing stands (a corrected date reaches the dialog as said). ~150 ms per answer on
one thread. With the server's recogniser (`clinicline bench --dates`, docs/bench/dates.md): 54 →
73 of 80 right and 3 → 1 opposite on those answers; on 16 other phrasings in four other voices
36 → 42 of 64 right, but 3 → 4 opposite ("wrong" heard as "Right.", "nah" as "Yeah."). Red flags
are screened on the free hearing before this runs, and the call's record keeps what the free
hearing wrote.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import numpy as np

from nlu.confirm import answer_phrases, yes_no
from voice.asr.base import PhraseListener, SpeechRecognizer, Transcript
from voice.audio.frames import SAMPLE_RATE

log = logging.getLogger(__name__)

MIN_CONFIDENCE = 0.1
LONGEST_ANSWER_SECONDS = 3.0  # longer replies are sentences: a correction, a question
_ANSWERS = tuple(answer_phrases())


class ConfirmRecheck:
    def __init__(self, recognizer: SpeechRecognizer) -> None:
        self.recognizer = recognizer

    async def heard_again(self, said: str, audio: np.ndarray | None) -> str | None:
        """The answer to a yes-or-no question heard again, when it says otherwise than `said`
        (a yes or a no where there was none, or the opposite one)."""
        heard = await held_to_phrases(
            self.recognizer, audio, _ANSWERS, LONGEST_ANSWER_SECONDS, "yes or no"
        )
        if heard is None:
            return None
        answer = yes_no(heard.text)
        if heard.confidence < MIN_CONFIDENCE or answer is None or answer == yes_no(said):
            return None
        return heard.text


async def held_to_phrases(
    recognizer: SpeechRecognizer,
    audio: np.ndarray | None,
    phrases: Sequence[str],
    longest_seconds: float,
    what: str,
) -> Transcript | None:
    """A short answer heard again as one of `phrases`, when the recogniser can be held to them
    and the answer is short enough to be one (None otherwise, or when recognition failed: it
    is only a better chance, the first hearing stands)."""
    if (
        audio is None
        or len(audio) > longest_seconds * SAMPLE_RATE
        or not isinstance(recognizer, PhraseListener)
    ):
        return None
    try:
        return await asyncio.to_thread(recognizer.hear_one_of, audio, phrases)
    except Exception:
        log.exception("%s heard again: recognition failed", what)
        return None
