"""A second hearing of the caller's name, once her date of birth narrows who she can be.

A caller from a number that is not on file gives a name the recogniser has never heard
("Aoife Venkataraman" comes out "always Ben Katerman"), so the name does not match and she
cannot be verified. Her date of birth narrows the patients she can be to a handful: the audio of
her name, kept from her answer, is decoded again with their names in the recogniser's prompt.

Measured off-line (`docs/bench/names.md`): names said in voices the recogniser was never tuned
on matched the patient's name on the first hearing for a small share, on the second for most;
the same audio heard again with *other* patients' names as hints came out as one of those names
for 2 of 120 (the recogniser repeating its prompt). So the audio is heard a third time with
decoy names nobody is called: when it comes out as a decoy, the recogniser is only repeating
its prompt for this audio, and the second hearing is not used. That caught both, and kept 97 of
the 102 second hearings that matched. The second hearing is only another transcript of what the
caller said: the identity action decides with the same two-identifier rule, and never reads back
a name she did not say.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from rapidfuzz.distance import Levenshtein

from integrations.services.identity import names_born_on, surnames_born_on
from integrations.store import Database
from nlu.dates import parse_dob
from nlu.names import name_score
from nlu.spelling import letters_of, spelled_forms, surname_letters
from voice.asr.base import PhraseListener, SpeechRecognizer, hear_again

log = logging.getLogger(__name__)

# The longest a dialog turn waits for the second hearing; it starts a turn earlier (while the
# bot reads the date back), so this is reached only on a loaded machine.
WAIT_SECONDS = 3.0
# Patients sharing one date of birth beyond this are too many to hint: the prompt would be all
# names and the recogniser starts inventing them.
MAX_CANDIDATES = 8
# Names no patient is meant to have, of ordinary shape; two of them (unlike every candidate)
# make the decoy hearing.
DECOYS = (
    "Margaret Holloway", "Peter Lindgren", "Rosa Delgado", "Arthur Bennett",
    "Helen Fairweather", "Victor Almeida", "Grace Whitfield", "Tomas Novak",
)  # fmt: skip
# A decoy hearing this close to a decoy means the prompt, not the audio, made the words.
DECOY_MATCH = 0.6
# A spelled surname heard held to the candidates' spellings (and two decoys') is used from this
# confidence. Measured on 14 spellings (three candidates born that day, seven surnames of 5-13
# letters, flite and espeak-ng voices): the candidates' own 0.15-0.76, surnames that were not
# candidates 0.009-0.046.
SPELLING_FLOOR = 0.08


def decoys_for(candidates: Sequence[str], count: int = 2) -> list[str]:
    """Decoys that sound like none of the candidates."""
    unlike = [d for d in DECOYS if all(name_score(d, c) < DECOY_MATCH for c in candidates)]
    return unlike[:count]


def decoy_surnames(surnames: Sequence[str], count: int = 2) -> list[str]:
    """Surnames of the decoys spelled unlike every candidate (three letters apart or more)."""
    candidates = [surname_letters(s) for s in surnames]
    unlike = [
        last
        for last in (d.split()[-1] for d in DECOYS)
        if all(Levenshtein.distance(surname_letters(last), c) >= 3 for c in candidates)
    ]
    return unlike[:count]


def repeats_prompt(decoy_hearing: str, decoys: Sequence[str]) -> bool:
    """True when the audio heard with decoy names came out as one of them."""
    return any(name_score(decoy_hearing, d) >= DECOY_MATCH for d in decoys)


@dataclass(frozen=True)
class HeardAgain:
    """The name as heard the second time, and the date of birth whose patients were hinted."""

    text: str
    dob: date

    def as_metadata(self) -> dict[str, str]:
        return {"text": self.text, "dob": self.dob.isoformat()}


class NameRecheck:
    """One call's kept name audio and the second hearing of it."""

    def __init__(
        self,
        db: Database,
        recognizer: SpeechRecognizer,
        today: Callable[[], date] = date.today,
        refresh: Callable[[date], Awaitable[object]] | None = None,
    ) -> None:
        self.db = db
        self.recognizer = recognizer
        self.today = today
        # With an EHR as the source of truth: bring its patients born that day into the store
        # first, or a patient it has and the store does not yet is not among the hints.
        self.refresh = refresh
        self._audio: np.ndarray | None = None
        self._born: date | None = None
        self._task: asyncio.Task[HeardAgain | None] | None = None

    def heard_name(self, audio: np.ndarray | None) -> None:
        """The caller answered "what is the full name?": keep the audio, forget older hearings."""
        self._cancel()
        self._audio = audio
        if audio is not None:
            log.info("name audio kept (%.1f s)", len(audio) / 8000)

    def heard_date(self, text: str) -> None:
        """The caller answered with a date of birth (said or keyed): hear the name again."""
        born = parse_dob(text, self.today())
        if born is None:
            return
        if self._audio is None:
            self._born = born  # for a surname spelled later
            return
        if self._task is not None and born == self._born:
            return  # the same date said again: the hearing under way stands
        self._cancel()
        self._born = born
        self._task = asyncio.get_running_loop().create_task(self._hear_again(self._audio, born))

    async def result(self, timeout: float = WAIT_SECONDS) -> HeardAgain | None:
        """The second hearing, if one was started and it finished in time."""
        if self._task is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            log.warning("name heard again: not ready within %.1f s", timeout)
            return None

    async def spelled(self, audio: np.ndarray | None) -> dict[str, str] | None:
        """A surname spelled after a failed match, heard held to the spellings of the surnames
        of the patients born on the date she gave (and of two decoys): its letters, when the
        recogniser is sure enough of one of them and it is not a decoy."""
        born, recognizer = self._born, self.recognizer
        if audio is None or born is None or not isinstance(recognizer, PhraseListener):
            return None
        try:
            async with self.db.session() as s:
                surnames = await surnames_born_on(s, born)
        except Exception:
            log.warning("spelling heard again: no candidates (store unavailable)")
            return None
        if not surnames or len(surnames) > MAX_CANDIDATES:
            return None
        decoys = decoy_surnames(surnames)
        forms = [form for surname in [*surnames, *decoys] for form in spelled_forms(surname)]
        try:
            heard = await asyncio.to_thread(recognizer.hear_one_of, audio, forms)
        except Exception:
            log.exception("spelling heard again: recognition failed")
            return None
        letters = letters_of(heard.text)
        if letters is None or heard.confidence < SPELLING_FLOOR:
            return None
        if letters in {surname_letters(d) for d in decoys}:
            log.warning("spelling heard again: not used, heard as a decoy")
            return None
        return {"letters": letters, "dob": born.isoformat()}

    def close(self) -> None:
        self._cancel()
        self._audio = None

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _hear_again(self, audio: np.ndarray, born: date) -> HeardAgain | None:
        try:
            if self.refresh is not None:
                await self.refresh(born)
            async with self.db.session() as s:
                names = await names_born_on(s, born)
        except Exception:  # only a better chance of a match: the call goes on without it
            log.warning("name heard again: no candidates (store unavailable)")
            return None
        if not names or len(names) > MAX_CANDIDATES:
            log.info("name not heard again: %d patients born that day", len(names))
            return None

        decoys = decoys_for(names)

        def decode(hints: Sequence[str]) -> str:
            return hear_again(self.recognizer, audio, hints=hints, answer="name")

        try:
            text = await asyncio.to_thread(decode, names)
            if not text:
                return None
            decoy_hearing = await asyncio.to_thread(decode, decoys)
        except Exception:
            log.exception("name heard again: recognition failed")
            return None
        if repeats_prompt(decoy_hearing, decoys):
            log.warning("name heard again: not used, the recogniser repeats its prompt")
            return None
        log.info("name heard again with %d candidate(s)", len(names))
        return HeardAgain(text, born)
