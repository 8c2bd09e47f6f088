"""The transcriber of a bridged leg (a call back, a monitored call, the nurse's side) writes
what was said up to the hang-up: a sentence cut short by the call ending is decoded and
screened, not dropped with the detector's open utterance. Real Whisper on Piper's voice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from tests.voice.test_session_partials import MemoryRecorder
from voice.asr.whisper import WhisperRecognizer
from voice.audio.frames import chunk_frames
from voice.phone.phone import trim_silence
from voice.session.actions import CallInfo
from voice.session.listener import LegTranscriber
from voice.tts.piper import PiperSynthesizer

SAID = "I have had chest pain since this morning."
# What the line carried before she spoke: the detector keeps a little of it before the words,
# as on a call (fed from the first voiced sample, "chest" lost its onset and came out "Jeff").
LEAD_IN = np.zeros(8000 // 2, dtype=np.int16)


async def _listen(
    whisper: WhisperRecognizer, audio: np.ndarray
) -> tuple[MemoryRecorder, list[str]]:
    recorder, screened = MemoryRecorder(), []

    async def screen(text: str) -> None:
        screened.append(text)

    call = CallInfo(call_id="leg-test", caller_number=None, started=datetime.now(UTC))
    leg = LegTranscriber(call, "caller", recognizer=whisper, recorder=recorder, on_text=screen)
    for frame in chunk_frames(audio):
        leg.on_frame(frame.pcm)
    await leg.close(timeout=60)
    await leg.close(timeout=60)  # a second close changes nothing
    return recorder, screened


async def test_words_said_up_to_the_hang_up_are_written_and_screened(
    whisper: WhisperRecognizer,
    piper: PiperSynthesizer,
    phone_speech: Callable[[object, str], np.ndarray],
) -> None:
    speech = trim_silence(phone_speech(piper, SAID), margin_frames=0)
    recorder, screened = await _listen(whisper, np.concatenate([LEAD_IN, speech]))  # no pause after
    assert len(recorder.turns) == 1 and recorder.turns[0][0] == "caller", recorder.turns
    assert "chest pain" in recorder.turns[0][1].lower(), recorder.turns
    assert screened == [recorder.turns[0][1]]


async def test_a_sentence_ended_before_the_hang_up_is_written_once(
    whisper: WhisperRecognizer,
    piper: PiperSynthesizer,
    phone_speech: Callable[[object, str], np.ndarray],
) -> None:
    speech = trim_silence(phone_speech(piper, SAID), margin_frames=0)
    quiet = np.zeros(8000 * 2, dtype=np.int16)  # the detector closes it at its long pause
    recorder, screened = await _listen(whisper, np.concatenate([LEAD_IN, speech, quiet]))
    assert len(recorder.turns) == 1 and "chest pain" in recorder.turns[0][1].lower()
    assert len(screened) == 1
