"""A date of birth heard again (held to dates with Whisper): real whisper, flite's and espeak-ng's
voices, the birthdays and spoken forms of the names bench."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from clinicline.bench_names import BIRTHDAYS, SPOKEN_WAYS, _spoken, ways_to_say
from clinicline.callflow.date_recheck import EXAMPLES, DateRecheck
from nlu.dates import parse_dob
from tests.voice_audio.stand_in_call import stand_in_call
from voice.asr.base import hear_again
from voice.asr.whisper import WhisperRecognizer
from voice.session.actions import CallerTurn
from voice.tts.external import EspeakSynthesizer, FliteSynthesizer

TODAY = date(2026, 12, 1)


def _first_hearing(whisper: WhisperRecognizer, audio: np.ndarray) -> str:
    return hear_again(whisper, audio, answer="date")  # as a date answer is first heard


async def test_dates_said_in_words_are_understood_more_often_heard_again(
    whisper: WhisperRecognizer, flite: FliteSynthesizer
) -> None:
    voice = flite
    recheck = DateRecheck(whisper, today=lambda: TODAY)
    first = again = wrong_again = heard_again = 0
    for born in BIRTHDAYS:
        for way in SPOKEN_WAYS:
            audio = _spoken(voice, ways_to_say(born)[way])
            heard = _first_hearing(whisper, audio)
            understood = parse_dob(heard, TODAY)
            first += understood == born
            second = await recheck.heard_again(heard, audio)
            if understood is not None:
                assert second is None  # a date heard the first time is not heard again
                again += understood == born
                continue
            heard_again += 1
            final = parse_dob(second, TODAY) if second else None
            again += final == born
            wrong_again += final is not None and final != born
    # Each date is read back, so a wrong one costs about the turn a miss costs: the bar is more
    # dates understood, and a wrong date for fewer than half of the answers heard again.
    assert again > first, (first, again)
    assert wrong_again * 2 < heard_again, (heard_again, wrong_again)


async def test_no_audio_or_a_date_already_heard_means_no_second_hearing(
    whisper: WhisperRecognizer,
) -> None:
    recheck = DateRecheck(whisper, today=lambda: TODAY)
    assert await recheck.heard_again("July 19, 1990", None) is None
    assert await recheck.heard_again("the nineteenth of July 1990", None) is None
    assert await recheck.heard_again("mumble", None) is None


async def test_on_a_call_the_dialog_gets_the_date_heard_again_and_the_record_says_so(
    whisper: WhisperRecognizer, tmp_path: Path
) -> None:
    """The clinic conversation, expecting a date of birth, with a Rasa stand-in that records
    what it is sent (the real dialogs are exercised on real calls elsewhere)."""
    async with stand_in_call(
        tmp_path, "dob", "date-again", dates=DateRecheck(whisper, today=lambda: TODAY)
    ) as line:
        await line.conversation.respond(line.call, CallerTurn(text="I'd like to book a visit"))
        audio = _spoken(FliteSynthesizer("slt"), "September fourteenth oh one")
        first = _first_hearing(whisper, audio)
        assert parse_dob(first, TODAY) is None, first  # what the recogniser makes of it at first
        await line.conversation.respond(line.call, CallerTurn(text=first, audio=audio))
        assert parse_dob(line.dialog.sent[-1], TODAY) == date(2001, 9, 14), line.dialog.sent
        assert len(await line.event_data("date_heard_again")) == 1


async def test_a_date_over_a_hundred_years_ago_is_heard_again_and_replaced_only_by_a_likelier(
    whisper: WhisperRecognizer, flite: FliteSynthesizer
) -> None:
    """The slip of a real call ("July 19, 1919" for "July 19th, 1990") as the first hearing,
    with flite's audio of what was said: the second hearing is the likelier date. A caller who
    is over 100 keeps her date when hearing again gives it again."""
    recheck = DateRecheck(whisper, today=lambda: TODAY)
    said_1990 = _spoken(flite, "July nineteenth, nineteen ninety")
    again = await recheck.heard_again("July 19, 1919.", said_1990)
    assert again is not None and parse_dob(again, TODAY) == date(1990, 7, 19), again
    said_1919 = _spoken(flite, "March third, nineteen nineteen")
    assert await recheck.heard_again("March 3, 1919.", said_1919) is None


async def test_held_to_dates_the_second_hearing_understands_what_the_free_one_cannot(
    whisper: WhisperRecognizer,
) -> None:
    """espeak-ng's dates, which a free decode turns into words ("And very high in 2000 and
    high"): three birthdays of the names bench in its six spoken forms, heard again freely with
    dates in the prompt (the product's second hearing before) and held to dates (now)."""
    voice = EspeakSynthesizer("en-us")
    recheck = DateRecheck(whisper, today=lambda: TODAY)
    free = held = held_wrong = 0
    for born in (date(2005, 1, 9), date(2010, 2, 28), date(1969, 6, 21)):
        for way in SPOKEN_WAYS:
            audio = _spoken(voice, ways_to_say(born)[way])
            heard = _first_hearing(whisper, audio)
            again = hear_again(whisper, audio, hints=EXAMPLES, answer="date")
            free += parse_dob(heard, TODAY) == born or parse_dob(again, TODAY) == born
            second = await recheck.heard_again(heard, audio)
            final = parse_dob(second or heard, TODAY)
            held += final == born
            held_wrong += second is not None and final != born
    # Where this was written held was at least 4 more than free; on an AMD EPYC without
    # AVX-512 (2026-12-05) it is 10 against 9, with CTranslate2's AVX and AVX2 kernels alike:
    # the decodes near the confidence floor differ from machine to machine, the order does not.
    assert held > free, (free, held)
    assert held_wrong < held, (held, held_wrong)  # a wrong date is read back: it costs a turn


async def test_an_answer_that_holds_no_date_is_not_made_into_one(
    whisper: WhisperRecognizer, flite: FliteSynthesizer
) -> None:
    """The grammar holds only dates: the confidence floor keeps words that are none out."""
    recheck = DateRecheck(whisper, today=lambda: TODAY)
    made = []
    for words in (
        "I don't know it off the top of my head", "hang on let me check", "Mary Smith",
        "what do you need that for?", "I'm calling for my mother", "my chest really hurts",
    ):  # fmt: skip
        audio = _spoken(flite, words)
        heard = _first_hearing(whisper, audio)
        if parse_dob(heard, TODAY) is None and await recheck.heard_again(heard, audio):
            made.append(words)
    assert len(made) <= 1, made
