"""The caller's voice over the bot's: the bot stops at once, and goes on when she only said
"mm-hmm" or coughed; it stays stopped when she took the turn.

The session, its utterance detector, turn-taking, media queue and transcript are the real ones,
fed real Piper speech in real time; the recogniser is a stand-in that hears every utterance as
the test's text (what Whisper makes of an acknowledgement or a cough is the real-call tests'
business, tests/voice/test_calls.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from clinicline.callflow.echo import EchoConversation
from nlu.backchannel import is_backchannel, no_words
from nlu.triage import TriageEngine
from tests.voice.test_session_partials import (
    MemoryRecorder,
    QueueMedia,
    WholeUtteranceStandIn,
    stand_in_session,
)
from voice.audio.frames import FRAME_SAMPLES, chunk_frames
from voice.session.actions import CallInfo, PlayPrompt, Say
from voice.session.call_session import SessionConfig
from voice.tts.piper import PiperSynthesizer

NOTICE = (
    "Our clinic is open from eight in the morning to six in the evening on weekdays, and from "
    "nine to one on Saturdays. Flu shots are given without an appointment every morning."
)


class NoticeFirst(EchoConversation):
    """Opens with a long notice the caller may interrupt, then echoes her words."""

    async def start(self, call: CallInfo) -> Sequence[PlayPrompt | Say]:
        return [Say(NOTICE)]


async def _speak_over_the_notice(
    piper: PiperSynthesizer, heard_as: str, left_s: float | None = None
) -> tuple[MemoryRecorder, QueueMedia]:
    """The caller says something 1.5 s into the notice, or once the bot has only `left_s` of
    it left to say (counted in frames sent: a loaded machine drains the queue late); the
    recogniser hears `heard_as`. Returns once the call has been quiet for a while."""
    session, recorder, media = stand_in_session(
        "over-the-bot", NoticeFirst(TriageEngine.default()), WholeUtteranceStandIn(heard_as),
        piper, config=SessionConfig(silence_timeout=30, acknowledgements_go_on=True),
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    drain = loop.create_task(media.drain())
    run = loop.create_task(session.run())
    try:
        while not media.sent:
            await asyncio.sleep(0.02)
        if left_s is None:
            await asyncio.sleep(1.5)
        else:
            until = _notice_frames(piper) - left_s / 0.02
            while len(media.sent) < until:
                await asyncio.sleep(0.02)
        words = np.concatenate(list(piper.synthesize("mm hmm, okay")))
        for frame in chunk_frames(np.concatenate([words, np.zeros(8000, dtype=np.int16)])):
            session.on_frame(frame.pcm)
            await asyncio.sleep(0.02)
        for _ in range(600):  # the notice (or the reply) plays out
            if not media.frames and len(recorder.turns) >= 2 and not session.input.busy:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        drain.cancel()
        await asyncio.gather(drain, return_exceptions=True)
    return recorder, media


def _notice_frames(piper: PiperSynthesizer) -> int:
    return sum(-(-len(c) // FRAME_SAMPLES) for c in piper.synthesize(NOTICE))


@pytest.mark.parametrize("heard_as, why", [("Mm-hmm, okay.", "acknowledgement"),
                                            ("", "noise"), ("(coughing)", "noise")])  # fmt: skip
async def test_an_acknowledgement_or_a_noise_lets_the_bot_go_on(
    piper: PiperSynthesizer, heard_as: str, why: str
) -> None:
    recorder, media = await _speak_over_the_notice(piper, heard_as)
    bot = [text for speaker, text in recorder.turns if speaker == "bot"]
    assert bot == [NOTICE], recorder.turns  # said to the end; no reply to "mm-hmm"
    assert "bot_went_on" in recorder.events, recorder.events
    # Everything was said, and a word or so again after the pause.
    assert len(media.sent) >= _notice_frames(piper) - 5, (len(media.sent), _notice_frames(piper))


async def test_words_that_take_the_turn_stop_the_bot_for_good(piper: PiperSynthesizer) -> None:
    recorder, _media = await _speak_over_the_notice(piper, "Wait, I need to cancel my appointment.")
    bot = [text for speaker, text in recorder.turns if speaker == "bot"]
    assert bot[0] == NOTICE + " [interrupted]", recorder.turns
    assert bot[1] == "I heard: Wait, I need to cancel my appointment.", recorder.turns
    assert "bot_went_on" not in recorder.events


async def test_okay_as_the_bot_finishes_is_an_answer(piper: PiperSynthesizer) -> None:
    """Under a second left to say: "okay" answers what the bot was saying, it is a turn."""
    recorder, _media = await _speak_over_the_notice(piper, "Okay.", left_s=0.6)
    bot = [text for speaker, text in recorder.turns if speaker == "bot"]
    # Answered, not gone on from. (CI39, loaded: the words came in as two utterances, both
    # answered, the second reply cut by the second; so not necessarily the last line.)
    assert "I heard: Okay." in bot, recorder.turns
    assert "bot_went_on" not in recorder.events


@pytest.mark.parametrize(
    "text", ["Mm-hmm.", "Uh-huh.", "Okay.", "Yeah, yeah.", "Oh, I see.", "Right.", "Thank you."]
)
def test_acknowledgements(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize(
    "text",
    ["Okay, but can I ask something?", "No.", "Wait.", "Yes, I need a refill.", "Hello?", ""],
)
def test_words_that_are_more_than_an_acknowledgement(text: str) -> None:
    assert not is_backchannel(text)


def test_sounds_without_words() -> None:
    assert no_words("") and no_words(" ... ") and no_words("(coughs)") and no_words("[door]")
    assert not no_words("(coughs) help")


class TwoReplies(EchoConversation):
    """Opens with two sentences said one after the other."""

    async def start(self, call: CallInfo) -> Sequence[PlayPrompt | Say]:
        return [Say(NOTICE), Say("And this is never heard.")]


async def test_words_cut_off_before_they_began_are_not_in_the_record(
    piper: PiperSynthesizer,
) -> None:
    """The caller hangs up during the first sentence: it is written as interrupted, and the
    second, which never sent a sound, is not written as said."""
    session, recorder, media = stand_in_session(
        "cut-before-it-began", TwoReplies(TriageEngine.default()), WholeUtteranceStandIn(""),
        piper,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    drain = loop.create_task(media.drain())
    run = loop.create_task(session.run())
    try:
        while len(media.sent) < 25:  # half a second of the first sentence
            await asyncio.sleep(0.02)
        session.on_hangup(200, "BYE")
        await asyncio.wait_for(run, 30)
    finally:
        run.cancel()
        drain.cancel()
        await asyncio.gather(run, drain, return_exceptions=True)
    bot = [text for speaker, text in recorder.turns if speaker == "bot"]
    assert bot == [NOTICE + " [interrupted]"], recorder.turns
