"""A day and time heard again when the first hearing wrote none: real whisper, flite's and
espeak-ng's voices over a telephone channel."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from clinicline.bench_names import _spoken
from clinicline.callflow.when_recheck import WhenRecheck, echoes_prompt
from nlu.dates import parse_when
from tests.voice_audio.stand_in_call import stand_in_call
from voice.asr.whisper import WhisperRecognizer
from voice.session.actions import CallerTurn
from voice.tts.external import EspeakSynthesizer, FliteSynthesizer

NOW = datetime(2026, 12, 5, 10, 0)


@pytest.mark.parametrize(
    ("voice", "said", "first_hearing"),
    [
        # What the recogniser wrote for these at the first hearing (2026-12-05, development set).
        ("flite slt", "the earliest you have", "See how early if you have..."),
        ("espeak en-us", "the earliest you have", "Nearly a few pounds."),
        ("espeak en-us", "the week after next", "But we can't go next."),
    ],
)
async def test_an_answer_written_as_no_day_is_heard_as_the_one_said(
    whisper: WhisperRecognizer, voice: str, said: str, first_hearing: str
) -> None:
    engine, _, variant = voice.partition(" ")
    synth = EspeakSynthesizer(variant) if engine == "espeak" else FliteSynthesizer(variant)
    again = await WhenRecheck(whisper, now=lambda: NOW).heard_again(
        first_hearing, _spoken(synth, said)
    )
    assert again is not None, (voice, said)
    assert parse_when(again, NOW) == parse_when(said, NOW), (said, again)


@pytest.mark.parametrize(
    "said", ["I need a refill", "can I talk to someone", "what did you say", "my chest hurts"]
)
async def test_a_reply_with_no_day_is_not_made_into_one(
    whisper: WhisperRecognizer, flite: FliteSynthesizer, said: str
) -> None:
    assert await WhenRecheck(whisper, now=lambda: NOW).heard_again(said, _spoken(flite, said)) \
        is None  # fmt: skip


async def test_an_answer_that_names_a_day_is_not_heard_again(
    whisper: WhisperRecognizer, flite: FliteSynthesizer
) -> None:
    """The first hearing's day stands, even against the audio of another one."""
    other_day = _spoken(flite, "Friday")
    assert await WhenRecheck(whisper, now=lambda: NOW).heard_again("Tuesday", other_day) is None


async def test_the_dialog_gets_the_day_heard_again_and_the_record_says_so_rasa_stand_in(
    whisper: WhisperRecognizer, tmp_path: Path
) -> None:
    """The clinic conversation, after "what day and time suit you?", with a Rasa stand-in that
    records what it is sent."""
    async with stand_in_call(
        tmp_path, "when_text", "when-again", whens=WhenRecheck(whisper, now=lambda: NOW)
    ) as line:
        await line.conversation.respond(line.call, CallerTurn(text="I need an appointment"))
        audio = _spoken(EspeakSynthesizer("en-us"), "the earliest you have")
        await line.conversation.respond(
            line.call, CallerTurn(text="Nearly a few pounds.", audio=audio)
        )
        assert parse_when(line.dialog.sent[-1], NOW) is not None, line.dialog.sent
        assert await line.event_data("when_heard_again") == [{}]
        assert line.conversation.expected_answer(line.call) == "when"


@pytest.mark.parametrize(
    ("heard", "echo"),
    [
        ("Monday, Monday, Monday, Wednesday.", True),  # "Monday at eleven", espeak en-029
        ("Wednesday, Friday, Tuesday.", True),  # "Wednesday around two"
        ("Next Thursday, next week, Thursday.", True),  # "next Thursday at two thirty"
        ("Monday or Tuesday", False),
        ("Next Tuesday afternoon.", False),
    ],
)
def test_the_prompts_days_written_back_are_told_from_an_answer(heard: str, echo: bool) -> None:
    assert echoes_prompt(heard) is echo
