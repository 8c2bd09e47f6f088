"""A red flag said before a short breath is acted on from the words before the breath.

A caller in a panic rarely stops: "my husband just collapsed and he is not breathing", a breath,
and on. The hearing starts recognising at the breath and, when she goes on, recognises the
whole utterance again at its end; the words up to the breath are screened as soon as they are
in. Real Piper speech, fed in real time through the real utterance detector, the real
turn-taking and the real Whisper model; the conversation is the echo dialog with the real
triage engine.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from clinicline.callflow.echo import EchoConversation
from nlu.triage import TriageEngine
from tests.voice.test_session_partials import MemoryRecorder, caller_input
from voice.asr.base import Transcript
from voice.asr.whisper import WhisperRecognizer
from voice.audio.frames import FRAME_SAMPLES, chunk_frames
from voice.audio.vad import VadConfig
from voice.session.actions import PlayPrompt
from voice.session.call_session import SessionConfig
from voice.tts.piper import PiperSynthesizer

EARLY_100_MS = replace(SessionConfig().vad, early_pause_ms=100)
FLAG = "My husband just collapsed and he is not breathing."
GOES_ON = (
    "I don't know what to do, he was fine a minute ago, we were sitting at the table having "
    "dinner and then he just went down on the floor and now he won't answer me at all."
)


def _spoken(piper: PiperSynthesizer, text: str) -> np.ndarray:
    """The words without the voice's own leading and trailing silence."""
    pcm = np.concatenate(list(piper.synthesize(text)))
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 500)
    return pcm[loud[0] : loud[-1] + 1]


@pytest.mark.parametrize(
    ("vad", "breath_s"),
    [
        # A breath of 260 ms: the detector's pause (250 ms) is over, the turn's (350 ms) is not
        # by the time her voice is back, so the utterance goes on.
        pytest.param(None, 0.26, id="utterance-ended-at-the-breath"),
        # With recognition from the early pause (100 ms), a breath of 200 ms ends nothing: the
        # words up to it come from the decode begun at the pause.
        pytest.param(EARLY_100_MS, 0.2, id="early-decode-at-the-breath"),
    ],
)
async def test_a_red_flag_before_a_breath_is_acted_on_from_the_words_before_it(
    whisper: WhisperRecognizer,
    piper: PiperSynthesizer,
    vad: VadConfig | None,
    breath_s: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    # Every decode's length and words, for the failure message: a CI run once recorded her
    # words from "I don't know" on, without the red flag before the breath, and its decodes
    # were not known.
    decodes: list[tuple[float, str]] = []
    transcribe = whisper.transcribe

    def kept(pcm: np.ndarray, *args: Any, **kwargs: Any) -> Transcript:
        transcript = transcribe(pcm, *args, **kwargs)
        decodes.append((round(len(pcm) / 8000, 2), transcript.text))
        return transcript

    monkeypatch.setattr(whisper, "transcribe", kept)
    flagged: list[int] = []  # for each emergency message: how many turns were recorded then
    handed_on: list[str] = []
    recorder = MemoryRecorder()
    hearing = caller_input(
        "flag-before-a-breath", EchoConversation(TriageEngine.default()), whisper,
        recorder=recorder,
        on_utterance=lambda utterance: handed_on.append(utterance.turn.text or ""),
        on_red_flag=lambda actions: flagged.extend(
            len(recorder.turns) for a in actions
            if isinstance(a, PlayPrompt) and a.name == "emergency"
        ),
        vad=vad,
    )  # fmt: skip
    breath = np.zeros(int(breath_s * 8000) // FRAME_SAMPLES * FRAME_SAMPLES, dtype=np.int16)
    speech = np.concatenate([_spoken(piper, FLAG), breath, _spoken(piper, GOES_ON)])
    started = loop.time()
    try:
        for i, frame in enumerate(chunk_frames(speech)):  # at the pace a phone line brings it
            hearing.on_frame(frame.pcm)
            await asyncio.sleep(max(0.0, started + (i + 1) * 0.02 - loop.time()))
        for frame in chunk_frames(np.zeros(8000, dtype=np.int16)):
            hearing.on_frame(frame.pcm)
            await asyncio.sleep(0.02)
        for _ in range(300):  # the whole utterance, recognised once she stopped
            if handed_on or recorder.turns:
                break
            await asyncio.sleep(0.1)
    finally:
        hearing.close()
    assert flagged, (recorder.turns, handed_on, decodes)
    # Acted on from the words before the breath, before any whole utterance was recognised and
    # recorded: screened at the breath, or while they hung unfinished (a loaded CI machine
    # has taken either path). From the whole utterance alone the flag would follow its turn.
    # How soon on this machine is the turn-taking benchmark's business.
    assert flagged[0] == 0, (flagged, recorder.events, recorder.turns, decodes)
    assert len(flagged) == 1  # the whole utterance's words do not play the message twice
