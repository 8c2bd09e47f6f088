"""A call's recording: the caller on the left, what she heard (the bot, then a bridged agent
from the frame she joined at) on the right, frame-aligned, capped, as a stereo WAV."""

from __future__ import annotations

import io
import wave

import numpy as np

from voice.audio.frames import FRAME_SAMPLES
from voice.audio.recording import CallRecording


def _frame(value: int) -> bytes:
    return np.full(FRAME_SAMPLES, value, dtype="<i2").tobytes()


def test_the_agent_is_heard_from_the_frame_she_joined_at_mixed_with_the_bot() -> None:
    recording = CallRecording(max_seconds=60)
    for _ in range(3):  # the greeting: the caller is silent, the bot speaks
        recording.caller.on_received(_frame(0))
        recording.caller.on_sent(_frame(100))
    agent = recording.join()
    for _ in range(2):  # bridged: the caller talks, the agent answers, the bot is quiet
        recording.caller.on_received(_frame(7))
        recording.caller.on_sent(_frame(0))
        agent.on_received(_frame(40))
    said, heard = recording.channels()
    assert len(said) == len(heard) == 5 * FRAME_SAMPLES
    assert list(said[:: FRAME_SAMPLES]) == [0, 0, 0, 7, 7]
    assert list(heard[:: FRAME_SAMPLES]) == [100, 100, 100, 40, 40]
    assert recording.seconds == 5 * FRAME_SAMPLES / 8000


def test_loud_voices_on_one_channel_clip_instead_of_wrapping_round() -> None:
    recording = CallRecording(max_seconds=60)
    agent = recording.join()
    recording.caller.on_sent(_frame(30000))
    agent.on_received(_frame(30000))
    _, heard = recording.channels()
    assert heard.max() == 32767


def test_it_stops_at_its_cap_and_short_frames_count_as_silence() -> None:
    recording = CallRecording(max_seconds=0.1)  # five frames
    for _ in range(8):
        recording.caller.on_received(_frame(5))
    recording.caller.on_sent(b"\x01")  # a short frame: silence, never half a frame
    said, heard = recording.channels()
    assert len(said) == 5 * FRAME_SAMPLES and heard[:FRAME_SAMPLES].max() == 0


def test_the_wav_is_stereo_8_khz_with_the_caller_on_the_left() -> None:
    recording = CallRecording(max_seconds=60)
    recording.caller.on_received(_frame(9))
    recording.caller.on_sent(_frame(-3))
    with wave.open(io.BytesIO(recording.wav())) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert samples[0] == 9 and samples[1] == -3 and len(samples) == 2 * FRAME_SAMPLES
