"""When a pause ends the caller's turn: the rule on the words, and the hearing that applies it.

The hearing test feeds real synthesised speech through the real VAD and the real turn-taking;
the recogniser is a stand-in that hears a fixed text (the rule reads the words, not the audio).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from clinicline.callflow.echo import EchoConversation
from nlu.triage import TriageEngine
from tests.voice.test_session_partials import WholeUtteranceStandIn, caller_input
from voice.asr.base import AnswerKind
from voice.audio.frames import chunk_frames
from voice.session.actions import CallInfo
from voice.session.inbox import Utterance
from voice.session.turn_end import TurnEndConfig, sounds_unfinished
from voice.tts.piper import PiperSynthesizer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("I need to move my", None),
        ("I need to move my...", None),
        ("I'm calling about the", None),
        ("It's, um", None),
        ("so my husband and", None),
        ("March fourth", "date"),
        ("the fourth of March nineteen", "date"),
        ("It's September 14th,", "date"),
        ("March twenty second", "date"),
        ("Maria", "name"),
        ("Maria. Maria.", "name"),
        ("my name is", "name"),
        ("", None),  # speech nobody made out yet
    ],
)
def test_words_that_hang_wait_for_more(text: str, answer: AnswerKind | None) -> None:
    assert sounds_unfinished(text, answer)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("I need to move my appointment.", None),
        ("No.", None),
        ("Yes, that's right.", None),
        ("I think so.", None),
        ("March fourth, 1972.", "date"),
        ("March fourth nineteen seventy two", "date"),
        ("oh three oh four seventy-two", "date"),
        ("two thousand and five", "date"),
        ("3 4 72", "date"),
        ("Maria Lopez", "name"),
        ("It's Siobhan Wojciechowski.", "name"),
    ],
)
def test_finished_words_end_the_turn_at_the_short_pause(
    text: str, answer: AnswerKind | None
) -> None:
    assert not sounds_unfinished(text, answer)


def test_a_turn_cannot_end_sooner_when_the_words_hang_than_when_they_are_finished() -> None:
    with pytest.raises(ValueError, match="finished_ms <= unfinished_ms"):
        TurnEndConfig(finished_ms=900, unfinished_ms=350)


class Asking(EchoConversation):
    """The echo dialog, waiting for an answer of one kind (a name, a date, a spelling)."""

    def __init__(self, answer: AnswerKind | None) -> None:
        super().__init__(TriageEngine.default())
        self.answer = answer

    def expected_answer(self, call: CallInfo) -> AnswerKind | None:
        return self.answer


async def _utterances(
    piper: PiperSynthesizer, heard: str, pause: float, answer: AnswerKind | None = None
) -> list[Utterance]:
    """Two stretches of speech with `pause` seconds between them (after the detector's own
    250 ms), through a hearing whose recogniser hears `heard`: the utterances handed on."""
    got: list[Utterance] = []
    hearing = caller_input(
        "turn-end", Asking(answer), WholeUtteranceStandIn(heard), on_utterance=got.append
    )
    speech = np.concatenate(list(piper.synthesize("I need to move my appointment")))
    quiet = np.zeros(2400, dtype=np.int16)  # 300 ms: the detector ends the utterance
    try:
        for frame in chunk_frames(np.concatenate([speech, quiet])):
            hearing.on_frame(frame.pcm)
        await asyncio.sleep(pause)  # the caller is silent (frames of silence are not needed)
        for frame in chunk_frames(np.concatenate([speech, quiet])):
            hearing.on_frame(frame.pcm)
        await asyncio.sleep(1.5)  # every wait is over
    finally:
        hearing.close()
    return got


async def test_a_pause_after_finished_words_ends_the_turn(piper: PiperSynthesizer) -> None:
    # 0.4 s after the detector: past the short pause (0.1 s), short of the long one (0.65 s).
    got = await _utterances(piper, "I need to move my appointment.", pause=0.4)
    assert len(got) == 2


async def test_the_same_pause_after_hanging_words_waits_for_the_rest(
    piper: PiperSynthesizer,
) -> None:
    got = await _utterances(piper, "I need to move my", pause=0.4)
    assert len(got) == 1  # the second stretch joined the first
    assert got[0].turn.audio is not None and len(got[0].turn.audio) > 2 * 8000


async def test_letters_spelled_with_a_pause_to_think_are_one_answer(
    piper: PiperSynthesizer,
) -> None:
    # 1.1 s of quiet after the detector's 250 ms: past the long pause of a sentence (0.9 s in
    # all), short of a spelling's (1.6 s).
    assert len(await _utterances(piper, "L, O, P.", pause=1.1)) == 2
    got = await _utterances(piper, "L, O, P.", pause=1.1, answer="spelling")
    assert len(got) == 1
