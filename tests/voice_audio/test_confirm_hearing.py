"""A yes or a no heard again held to the answers the parser knows: real whisper, flite's voices,
answers over a telephone channel."""

from __future__ import annotations

from pathlib import Path

from clinicline.bench_names import _spoken
from clinicline.callflow.confirm_recheck import ConfirmRecheck
from nlu.confirm import yes_no
from tests.voice_audio.stand_in_call import stand_in_call
from voice.asr.base import hear_again
from voice.asr.whisper import WhisperRecognizer
from voice.session.actions import CallerTurn
from voice.tts.external import FliteSynthesizer

ANSWERS = (
    ("yes", True), ("yeah", True), ("that's right", True), ("correct", True), ("sure", True),
    ("yes it is", True), ("no", False), ("nope", False), ("that's wrong", False),
    ("not quite", False), ("incorrect", False), ("no it's not", False),
)  # fmt: skip


async def test_answers_the_free_hearing_misses_or_turns_around_come_out_right(
    whisper: WhisperRecognizer,
) -> None:
    recheck = ConfirmRecheck(whisper)
    free_right = free_flipped = right = flipped = 0
    for voice in (FliteSynthesizer("slt"), FliteSynthesizer("awb")):
        for said, meant in ANSWERS:
            audio = _spoken(voice, said)
            heard = hear_again(whisper, audio)
            free = yes_no(heard)
            again = await recheck.heard_again(heard, audio)
            final = yes_no(again) if again is not None else free
            free_right += free is meant
            free_flipped += free is (not meant)
            right += final is meant
            flipped += final is (not meant)
    assert right >= free_right + 4, (free_right, right)
    assert flipped <= free_flipped, (free_flipped, flipped)


async def test_a_reply_that_is_no_answer_is_left_as_the_free_hearing_wrote_it(
    whisper: WhisperRecognizer, flite: FliteSynthesizer
) -> None:
    """A corrected date, a question, a symptom: the dialog gets what was said."""
    recheck = ConfirmRecheck(whisper)
    for words in (
        "no it's March fourth nineteen seventy two", "what did you say", "my chest hurts",
        "hold on a second", "Maria Lopez",
    ):  # fmt: skip
        audio = _spoken(flite, words)
        heard = hear_again(whisper, audio)
        assert await recheck.heard_again(heard, audio) is None, (words, heard)


async def test_on_a_call_the_dialog_gets_the_answer_heard_again_and_the_record_says_so(
    whisper: WhisperRecognizer, tmp_path: Path
) -> None:
    """The clinic conversation, after the refill question, with a Rasa stand-in that records
    what it is sent: flite's "nope", which the free hearing writes as no answer at all."""
    async with stand_in_call(
        tmp_path, "refill_confirmed", "answer-again", answers=ConfirmRecheck(whisper)
    ) as line:
        await line.conversation.respond(line.call, CallerTurn(text="I need a refill"))
        audio = _spoken(FliteSynthesizer("slt"), "nope")
        first = hear_again(whisper, audio)
        assert yes_no(first) is None, first  # what the recogniser makes of it at first
        await line.conversation.respond(line.call, CallerTurn(text=first, audio=audio))
        assert yes_no(line.dialog.sent[-1]) is False, line.dialog.sent
        assert await line.event_data("answer_heard_again") == [{"yes": False}]
