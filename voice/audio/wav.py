"""WAV files to and from 8 kHz mono int16, and a simulated telephone line for tests.

``telephone_channel`` band-limits audio to 300–3400 Hz and passes it through G.711, which
is what a caller's voice has gone through by the time it reaches the worker.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Literal

import numpy as np
import soxr

from voice.audio.codec import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voice.audio.frames import SAMPLE_RATE

BAND_LOW_HZ = 300.0
BAND_HIGH_HZ = 3400.0
# Width of the cosine roll-off on each band edge; a brick wall would ring audibly.
_ROLLOFF_HZ = 100.0


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Convert float audio in [-1, 1] (or int16) to int16 with clipping."""
    if audio.dtype == np.int16:
        return audio
    scaled = np.clip(np.asarray(audio, dtype=np.float64) * 32767.0, -32768, 32767)
    return np.round(scaled).astype(np.int16)


def resample(pcm: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono int16 audio with soxr (high quality)."""
    if rate_in == rate_out:
        return pcm.astype(np.int16, copy=False)
    out = soxr.resample(pcm.astype(np.float32) / 32768.0, rate_in, rate_out)
    return np.round(np.clip(out * 32768.0, -32768, 32767)).astype(np.int16)


def read_wav(path: Path | str, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read a PCM WAV file as mono int16 at ``rate`` (8 kHz by default).

    Accepts 8-, 16- and 32-bit integer PCM, any channel count (mixed down) and any rate.
    """
    with wave.open(str(path), "rb") as w:
        width, channels, rate_in = w.getsampwidth(), w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 2 and channels == 1 and rate_in == rate:
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)  # exact, no float round trip
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise ValueError(f"{path}: unsupported WAV sample width {width} bytes")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    if rate_in != rate:
        samples = soxr.resample(samples, rate_in, rate)
    return np.round(np.clip(samples * 32768.0, -32768, 32767)).astype(np.int16)


def write_wav(path: Path | str, pcm: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write mono int16 audio as a 16-bit PCM WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(to_int16(pcm).astype("<i2").tobytes())


def wav_bytes(*channels: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit PCM WAV file's bytes holding int16 `channels` of equal length (one: mono,
    two: stereo, left first)."""
    interleaved = np.empty(len(channels[0]) * len(channels), dtype="<i2")
    for i, channel in enumerate(channels):
        interleaved[i :: len(channels)] = to_int16(channel)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(interleaved.tobytes())
    return out.getvalue()


def telephone_band(pcm: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Band-pass 300–3400 Hz with soft edges (FFT mask; the whole clip at once)."""
    if len(pcm) == 0:
        return pcm.astype(np.int16)
    n = 1 << int(np.ceil(np.log2(len(pcm) * 2)))  # zero-pad: avoid circular wrap-around
    spectrum = np.fft.rfft(pcm.astype(np.float64), n)
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    gain = np.ones_like(freqs)
    low_edge = np.clip((freqs - (BAND_LOW_HZ - _ROLLOFF_HZ)) / _ROLLOFF_HZ, 0.0, 1.0)
    high_edge = np.clip(((BAND_HIGH_HZ + _ROLLOFF_HZ) - freqs) / _ROLLOFF_HZ, 0.0, 1.0)
    gain *= 0.5 - 0.5 * np.cos(np.pi * low_edge)
    gain *= 0.5 - 0.5 * np.cos(np.pi * high_edge)
    filtered = np.fft.irfft(spectrum * gain, n)[: len(pcm)]
    return np.round(np.clip(filtered, -32768, 32767)).astype(np.int16)


def telephone_channel(
    pcm: np.ndarray, rate: int = SAMPLE_RATE, codec: Literal["ulaw", "alaw"] = "ulaw"
) -> np.ndarray:
    """Simulate a phone line: resample to 8 kHz, band-limit, then a G.711 round trip."""
    narrow = telephone_band(resample(pcm, rate, SAMPLE_RATE))
    if codec == "ulaw":
        return ulaw_decode(ulaw_encode(narrow))
    return alaw_decode(alaw_encode(narrow))
