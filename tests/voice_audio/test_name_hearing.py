"""The name heard again once the date of birth is known: real whisper, real store, flite's voice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet

from clinicline.callflow.name_recheck import (
    DECOY_MATCH,
    NameRecheck,
    decoy_surnames,
    decoys_for,
    held_spelling_usable,
    repeats_prompt,
)
from integrations.ehr.fhir_client import EhrSettings, FhirEhr
from integrations.ehr.sync import EhrSync
from integrations.store import Database
from nlu.names import name_score
from tests.integrations.conftest import add_patient, fresh_database
from tests.integrations.fhir_server import FhirServer, add_clinic
from voice.asr.base import hear_again
from voice.asr.whisper import WhisperRecognizer
from voice.audio.wav import telephone_channel
from voice.tts.external import FliteSynthesizer

BORN = date(1991, 10, 2)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database("sqlite", tmp_path, Fernet.generate_key()) as database:
        yield database


def _said(flite: FliteSynthesizer, text: str) -> np.ndarray:
    line = telephone_channel(np.concatenate(list(flite.synthesize(text))), 8000)
    return np.concatenate([np.zeros(1920, np.int16), line, np.zeros(1600, np.int16)])


async def _spelled(
    names: NameRecheck, whisper: WhisperRecognizer, audio: np.ndarray
) -> dict[str, str] | None:
    """The held hearing of a spelling, given the turn's free hearing as the call has it."""
    free = await asyncio.to_thread(hear_again, whisper, audio, answer="spelling")
    return await names.spelled(audio, free)


async def test_a_name_first_heard_as_words_is_heard_right_once_the_date_is_known(
    db: Database, whisper: WhisperRecognizer, flite: FliteSynthesizer
) -> None:
    await add_patient(db, "Siobhan", "Wojciechowski", BORN, "+15550100777")
    await add_patient(db, "Marcus", "Lopez", BORN, "+15550100778")  # born the same day
    audio = _said(flite, "Siobhan Wojciechowski")
    names = NameRecheck(db, whisper, today=lambda: date(2026, 12, 1))
    names.heard_name(audio)
    assert await names.result() is None  # nothing to hear again before a date
    names.heard_date("yes")  # not a date: nothing starts
    assert await names.result() is None
    names.heard_date("October second nineteen ninety one")
    first = names._task
    names.heard_date("yes, October 2nd, 1991")  # the same date again: the same hearing
    assert names._task is first
    again = await names.result(timeout=60)
    assert again is not None and again.dob == BORN
    assert name_score(again.text, "Siobhan Wojciechowski") >= 0.85, again.text
    assert again.as_metadata() == {"text": again.text, "dob": "1991-10-02"}


async def test_a_patient_only_the_ehr_has_is_among_the_names_heard_again(
    db: Database, whisper: WhisperRecognizer, flite: FliteSynthesizer, fhir_server: FhirServer
) -> None:
    """With an EHR as the source of truth the store has never seen her: her name is a hint
    only because the EHR's patients born that day are read first."""
    born = date(1983, 11, 27)
    add_clinic(fhir_server, date(2031, 3, 20), "Wojciechowski", born=born)
    sync = EhrSync(db, FhirEhr(EhrSettings.from_url(fhir_server.ehr_url, fhir_server.token)))

    async def refresh(day: date) -> object:
        return await sync.before_verification(day.isoformat())

    names = NameRecheck(db, whisper, today=lambda: date(2026, 12, 1), refresh=refresh)
    names.heard_name(_said(flite, "Rosa Wojciechowski"))
    names.heard_date("November twenty seventh nineteen eighty three")
    again = await names.result(timeout=60)
    assert again is not None and again.dob == born
    assert name_score(again.text, "Rosa Wojciechowski") >= 0.85, again.text


async def test_nobody_born_that_day_means_no_second_hearing(
    db: Database, whisper: WhisperRecognizer, flite: FliteSynthesizer
) -> None:
    await add_patient(db, "Siobhan", "Wojciechowski", BORN, "+15550100777")
    names = NameRecheck(db, whisper, today=lambda: date(2026, 12, 1))
    names.heard_name(_said(flite, "Siobhan Wojciechowski"))
    names.heard_date("10021992")  # keyed, a year off
    assert await names.result(timeout=60) is None


async def test_a_name_heard_again_as_nobody_born_that_day_is_not_handed_on(
    db: Database, whisper: WhisperRecognizer, flite: FliteSynthesizer
) -> None:
    """Another person's name (a caller who is not the patient): the second hearing matches no
    candidate, so the identity check gets nothing from it."""
    await add_patient(db, "Siobhan", "Wojciechowski", BORN, "+15550100777")
    await add_patient(db, "Marcus", "Lopez", BORN, "+15550100778")
    names = NameRecheck(db, whisper, today=lambda: date(2026, 12, 1))
    names.heard_name(_said(flite, "Daniel Okafor"))
    names.heard_date("October second nineteen ninety one")
    assert await names.result(timeout=60) is None


def test_decoys_sound_like_no_candidate_and_a_decoy_heard_is_a_repeated_prompt() -> None:
    candidates = ["Peter Lindgren", "Margaret Holloway Smith"]
    decoys = decoys_for(candidates)
    assert len(decoys) == 2
    assert all(name_score(d, c) < DECOY_MATCH for d in decoys for c in candidates)
    assert repeats_prompt(f"My name is {decoys[0]}.", decoys)
    assert not repeats_prompt("Shout out, boy, to Hoskey.", decoys)


@pytest.mark.parametrize(("voice", "used"), [("espeak", True), ("flite", False)])
async def test_a_short_surname_spelled_is_heard_held_to_the_surnames_born_that_day(
    db: Database, whisper: WhisperRecognizer, voice: str, used: bool,
    request: pytest.FixtureRequest,
) -> None:
    """Free, whisper writes espeak's letters a slip off ("L-O-B-E-D."): held to the spellings
    of the surnames of patients born that day (and two decoys'), it hears them, and the two
    agree. Flite's mostly come out as words ("Hello, PDC."), and the held hearing (~0.1) is
    not sure enough alone to verify anyone: an impostor's spelling is held that high too. Its
    decode varies with the machine's load (once heard right): never anyone but her."""
    synthesizer = request.getfixturevalue(voice)
    await add_patient(db, "Marcus", "Lopez", BORN)
    await add_patient(db, "Siobhan", "Nguyen", BORN)  # born the same day
    names = NameRecheck(db, whisper, today=lambda: date(2026, 12, 1))
    names.heard_date("October second nineteen ninety one")  # given before, no name audio kept
    spelled = await _spelled(names, whisper, _said(synthesizer, "L, O, P, E, Z."))
    right = {"letters": "LOPEZ", "dob": "1991-10-02"}
    assert spelled == right if used else spelled in (None, right)


@pytest.mark.parametrize("voice", ["flite", "espeak"])
async def test_a_long_surname_spelled_is_heard_to_its_last_letter(
    db: Database, whisper: WhisperRecognizer, voice: str, request: pytest.FixtureRequest
) -> None:
    """Twelve letters spelled are some 25 of the model's tokens: the held hearing follows the
    spelling to its end (it once stopped at 16 tokens and heard nothing)."""
    synthesizer = request.getfixturevalue(voice)
    await add_patient(db, "Aoife", "Venkataraman", BORN)
    await add_patient(db, "Siobhan", "Nguyen", BORN)  # born the same day
    names = NameRecheck(db, whisper, today=lambda: date(2026, 12, 1))
    names.heard_date("October second nineteen ninety one")
    audio = _said(synthesizer, "V, E, N, K, A, T, A, R, A, M, A, N.")
    spelled = await _spelled(names, whisper, audio)
    assert spelled == {"letters": "VENKATARAMAN", "dob": "1991-10-02"}


async def test_a_spelling_of_nobody_born_that_day_is_not_made_into_one(
    db: Database, whisper: WhisperRecognizer, flite: FliteSynthesizer
) -> None:
    await add_patient(db, "Marcus", "Lopez", BORN)
    names = NameRecheck(db, whisper, today=lambda: date(2026, 12, 1))
    assert await _spelled(names, whisper, _said(flite, "L, O, P, E, Z.")) is None  # no date yet
    names.heard_date("October second nineteen ninety one")
    heard = await _spelled(names, whisper, _said(flite, "W, O, J, C, I, E, C, H, O, W, S, K, I."))
    assert heard is None or heard["letters"] != "LOPEZ", heard


@pytest.mark.parametrize("voice", ["flite", "espeak"])
async def test_a_long_spelling_of_nobody_born_that_day_is_not_forced_onto_a_candidate(
    db: Database, whisper: WhisperRecognizer, voice: str, request: pytest.FixtureRequest
) -> None:
    """Held to three candidates' spellings, "W, O, J, C, I, E, …" came out "T-H-O-M-P-S-O-N"
    above the confidence floor (`clinicline bench --spelling`); its free letters disagree."""
    synthesizer = request.getfixturevalue(voice)
    for given, family in (("Ann", "Thompson"), ("Li", "Zhao"), ("Ruth", "Featherstonehaugh")):
        await add_patient(db, given, family, BORN)
    names = NameRecheck(db, whisper, today=lambda: date(2026, 12, 1))
    names.heard_date("October second nineteen ninety one")
    audio = _said(synthesizer, "W, O, J, C, I, E, C, H, O, W, S, K, I.")
    assert await _spelled(names, whisper, audio) is None


@pytest.mark.parametrize(
    ("free", "held", "confidence", "usable"),
    [
        ("V-M-K-A-B-A-R-A-M-A-M.", "VENKATARAMAN", 0.12, True),  # four slips in twelve
        ("W-O-K-T-I-E-T-H-O-W-F-K-I.", "THOMPSON", 0.2, False),  # another surname
        ("L-O-B-E-D.", "LOPEZ", 0.05, False),  # agrees, but unsure
        ("Eat the brandon.", "BRENNAN", 0.2, False),  # no letters to agree with: unsure
        ("", "VENKATARAMAN", 0.76, True),  # nothing heard freely, the held hearing sure
    ],
)
def test_held_letters_are_used_when_the_free_letters_agree_or_the_hearing_is_sure(
    free: str, held: str, confidence: float, usable: bool
) -> None:
    assert held_spelling_usable(free, held, confidence) is usable


def test_decoy_surnames_are_spelled_unlike_every_candidate() -> None:
    decoys = decoy_surnames(["Holloway", "Lindgren", "Delgadoe"])
    assert len(decoys) == 2 and not {"Holloway", "Lindgren", "Delgado"} & set(decoys)
