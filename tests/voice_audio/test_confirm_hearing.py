"""A yes or a no heard again held to the answers the parser knows: real whisper, flite's voices,
answers over a telephone channel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from clinicline.bench_names import _spoken
from clinicline.callflow.clinic import ClinicConversation
from clinicline.callflow.confirm_recheck import ConfirmRecheck
from clinicline.callflow.recorder import StoreRecorder
from integrations.services.call_report import call_report
from integrations.store import Database
from nlu.confirm import yes_no
from nlu.triage import TriageEngine
from tests.callflow.test_clinic_conversation import AsksForStandIn
from voice.asr.base import hear_again
from voice.asr.whisper import WhisperRecognizer
from voice.session.actions import CallerTurn, CallInfo
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
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}")
    await db.migrate()
    recorder = StoreRecorder(db)
    recorder.start()
    try:
        dialog = AsksForStandIn("refill_confirmed")
        conversation = ClinicConversation(
            triage=TriageEngine.default(), dialog=dialog, gate=dialog, db=db, recorder=recorder,
            answers=ConfirmRecheck(whisper),
        )  # fmt: skip
        call = CallInfo(call_id="answer-again", caller_number=None, started=datetime.now(UTC))
        recorder.open(call)
        await conversation.respond(call, CallerTurn(text="I need a refill"))
        audio = _spoken(FliteSynthesizer("slt"), "nope")
        first = hear_again(whisper, audio)
        assert yes_no(first) is None, first  # what the recogniser makes of it at first
        await conversation.respond(call, CallerTurn(text=first, audio=audio))
        assert yes_no(dialog.sent[-1]) is False, dialog.sent
        await recorder.flush()
        async with db.session() as s:
            report = await call_report(s, "answer-again")
        events = [e for e in report["events"] if e["kind"] == "answer_heard_again"]
        assert [e["data"] for e in events] == [{"yes": False}]
    finally:
        await recorder.stop()
        await db.dispose()
