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
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from rapidfuzz.distance import Levenshtein

from integrations.services.identity import NAME_MATCH, names_born_on, surnames_born_on
from integrations.store import Database
from nlu.dates import parse_dob
from nlu.names import name_score
from nlu.spelling import letters_of, spelled_forms, surname_letters
from voice.asr.base import PhraseListener, SpeechRecognizer, hear_again

log = logging.getLogger(__name__)

# The longest a dialog turn waits for the second hearing. It starts a turn earlier (while the
# bot reads the date back) and is usually done before the caller says "yes"; on a loaded machine
# it is not: in a full CI run (four test servers on two cores) a flite caller's hearing was not
# back within 3 s, her name matched nobody, and she was asked to spell a 13-letter surname. A
# few seconds' pause once is a smaller cost to her than spelling it.
WAIT_SECONDS = 8.0
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
# But a held hearing is the audio forced onto one of a few spellings, and `clinicline bench
# --spelling` found 6 of 64 spellings of a surname nobody born that day has come out as a
# candidate's above that floor ("W-O-J-C-I-E-…" as "THOMPSON"): it would verify a caller as
# someone else. So the held letters must agree with the letters the free hearing wrote (at most
# this share of them different), or, when it wrote none, be far surer: on that bench's
# development set, impostor spellings with no free letters were held at 0.03-0.22, her own
# surname at 0.14-0.77 (100 of 128 spellings verified at 0.25, 0 of 128 impostors).
SPELLING_AGREEMENT = 0.5
SPELLING_FLOOR_UNSEEN = 0.25
# What callers say before the letters, as Whisper writes it ("It's spelled L-O-P-E-Z.").
SPELLING_LEAD_INS = (
    "", "It's ", "It is ", "It's spelled ", "That's ", "Spelled ", "Sure, it's ",
    "My last name is ",
)  # fmt: skip


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


def hear_spelled(
    recognizer: PhraseListener, audio: np.ndarray, surnames: Sequence[str]
) -> tuple[str | None, float]:
    """The letters of `audio` heard held to the spellings of `surnames` and of two decoys
    (None: heard as no spelling, or as a decoy's), and the recogniser's confidence in them.
    Blocking."""
    decoys = decoy_surnames(surnames)
    forms = [
        lead + form
        for lead in SPELLING_LEAD_INS
        for surname in [*surnames, *decoys]
        for form in spelled_forms(surname)
    ]
    heard = recognizer.hear_one_of(audio, forms)
    letters = letters_of(heard.text)
    if letters in {surname_letters(d) for d in decoys}:
        log.warning("spelling heard again: not used, heard as a decoy")
        return None, heard.confidence
    return letters, heard.confidence


def held_spelling_usable(free_text: str, held: str, confidence: float) -> bool:
    """Whether the held hearing's letters may be tried against the surnames on file: they
    agree with the letters the turn's free hearing wrote, or it wrote none and the held
    hearing is far surer."""
    free = letters_of(free_text)
    if free:
        close = Levenshtein.normalized_distance(free, held) <= SPELLING_AGREEMENT
        return close and confidence >= SPELLING_FLOOR
    return confidence >= SPELLING_FLOOR_UNSEEN


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

    async def spelled(self, audio: np.ndarray | None, said: str) -> dict[str, str] | None:
        """A surname spelled after a failed match (`said`: the turn's own transcript), heard
        held to the spellings of the surnames of the patients born on the date she gave (and
        of two decoys): its letters, when they are not a decoy's and `held_spelling_usable`."""
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
        try:
            letters, confidence = await asyncio.to_thread(
                hear_spelled, recognizer, audio, surnames
            )
        except Exception:
            log.exception("spelling heard again: recognition failed")
            return None
        if letters is None or not held_spelling_usable(said, letters, confidence):
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

        started = time.perf_counter()
        try:
            text = await asyncio.to_thread(decode, names)
            if not text:
                return None
            if not any(name_score(text, name) >= NAME_MATCH for name in names):
                # Heard as nobody born that day: the identity check could not use it, and the
                # decoy hearing that would vet it is a decode the other calls need.
                log.info("name heard again: matches none of %d candidate(s)", len(names))
                return None
            decoy_hearing = await asyncio.to_thread(decode, decoys)
        except Exception:
            log.exception("name heard again: recognition failed")
            return None
        if repeats_prompt(decoy_hearing, decoys):
            log.warning("name heard again: not used, the recogniser repeats its prompt")
            return None
        log.info(
            "name heard again with %d candidate(s) in %.1f s",
            len(names), time.perf_counter() - started,
        )
        return HeardAgain(text, born)
