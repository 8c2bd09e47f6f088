"""Frames, WAV files and the simulated telephone line."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from voice.audio.frames import (
    FRAME_SAMPLES,
    AudioFrame,
    chunk_frames,
    join_frames,
    loud_frames,
    without_leading_quiet,
)
from voice.audio.wav import read_wav, telephone_band, telephone_channel, write_wav
from voice.tts.piper import PiperSynthesizer


def tone(freq: float, seconds: float = 1.0, rate: int = 8000, amp: float = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_chunking_pads_the_last_partial_frame_and_keeps_every_sample() -> None:
    audio = np.arange(FRAME_SAMPLES * 2 + 7, dtype=np.int16)
    frames = list(chunk_frames(audio))
    assert len(frames) == 3
    assert [f.timestamp for f in frames] == [0.0, 0.02, 0.04]
    assert np.array_equal(join_frames(frames)[: len(audio)], audio)
    assert not join_frames(frames)[len(audio) :].any()


def test_chunking_can_drop_the_partial_tail() -> None:
    audio = np.zeros(FRAME_SAMPLES + 5, dtype=np.int16)
    assert len(list(chunk_frames(audio, pad=False))) == 1


def test_a_frame_rejects_audio_of_the_wrong_size_or_type() -> None:
    with pytest.raises(ValueError):
        AudioFrame(np.zeros(159, dtype=np.int16), 0.0)
    with pytest.raises(ValueError):
        AudioFrame(np.zeros(160, dtype=np.float32), 0.0)


def test_a_frame_reads_the_little_endian_bytes_pjsua2_delivers() -> None:
    pcm = np.arange(-80, 80, dtype=np.int16)
    assert np.array_equal(AudioFrame.from_bytes(pcm.astype("<i2").tobytes(), 1.0).pcm, pcm)


def test_wav_round_trip_is_lossless_at_8_khz(tmp_path: Path) -> None:
    audio = tone(700)
    write_wav(tmp_path / "a.wav", audio)
    assert np.array_equal(read_wav(tmp_path / "a.wav"), audio)


def test_reading_a_22_khz_stereo_wav_gives_8_khz_mono(tmp_path: Path) -> None:
    mono = tone(500, seconds=2.0, rate=22050)
    with wave.open(str(tmp_path / "s.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(np.repeat(mono, 2).astype("<i2").tobytes())
    audio = read_wav(tmp_path / "s.wav")
    assert audio.dtype == np.int16
    assert abs(len(audio) - 16000) <= 2
    assert rms(audio) == pytest.approx(rms(mono), rel=0.05)


def test_telephone_band_removes_hum_and_high_frequencies_but_keeps_the_voice_band() -> None:
    assert rms(telephone_band(tone(60))) < 0.01 * rms(tone(60))
    assert rms(telephone_band(tone(3900))) < 0.01 * rms(tone(3900))
    assert rms(telephone_band(tone(1000))) == pytest.approx(rms(tone(1000)), rel=0.02)


def test_telephone_channel_accepts_wideband_audio_and_returns_8_khz() -> None:
    wide = tone(1000, seconds=1.0, rate=16000)
    line = telephone_channel(wide, rate=16000, codec="alaw")
    assert line.dtype == np.int16
    assert len(line) == 8000


def test_a_reply_starts_one_frame_before_its_first_sound(piper: PiperSynthesizer) -> None:
    """Piper opens each sentence with quiet; the bot's first word should not wait for it."""
    pcm = np.concatenate(list(piper.synthesize("Okay. What can I help you with?")))
    trimmed = without_leading_quiet(pcm)
    dropped = len(pcm) - len(trimmed)
    assert dropped > 0 and dropped % FRAME_SAMPLES == 0
    assert np.array_equal(trimmed, pcm[dropped:])  # nothing but the opening quiet goes
    first_loud = int(loud_frames(pcm, 100.0)[0])
    assert dropped == (first_loud - 1) * FRAME_SAMPLES


def test_audio_with_no_sound_is_left_as_it_is() -> None:
    quiet = np.full(8000, 20, dtype=np.int16)
    assert np.array_equal(without_leading_quiet(quiet), quiet)
    assert len(loud_frames(quiet, 100.0)) == 0
