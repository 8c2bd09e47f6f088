"""20 ms telephone frames (8 kHz mono int16, 160 samples) and chunking of longer audio."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One 20 ms frame of call audio; ``timestamp`` is seconds since the stream started."""

    pcm: np.ndarray
    timestamp: float

    def __post_init__(self) -> None:
        if self.pcm.dtype != np.int16 or self.pcm.shape != (FRAME_SAMPLES,):
            raise ValueError(
                f"an AudioFrame holds {FRAME_SAMPLES} int16 samples, "
                f"got {self.pcm.shape} {self.pcm.dtype}"
            )

    @property
    def duration(self) -> float:
        return FRAME_SAMPLES / SAMPLE_RATE

    @classmethod
    def from_bytes(cls, data: bytes, timestamp: float) -> AudioFrame:
        """Build a frame from 320 bytes of little-endian int16 (as pjsua2 hands them over)."""
        return cls(np.frombuffer(data, dtype="<i2").astype(np.int16, copy=False), timestamp)


def silence(seconds: float) -> np.ndarray:
    """Digital silence at 8 kHz, for padding and tests."""
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def chunk_frames(pcm: np.ndarray, start: float = 0.0, pad: bool = True) -> Iterator[AudioFrame]:
    """Cut 8 kHz int16 audio into consecutive frames.

    A trailing partial frame is zero-padded when ``pad`` is true (so nothing the caller said
    is lost) and dropped otherwise.
    """
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise ValueError("chunk_frames expects mono int16 audio")
    whole = len(pcm) // FRAME_SAMPLES
    for i in range(whole):
        chunk = pcm[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
        yield AudioFrame(chunk, start + i * FRAME_MS / 1000)
    rest = len(pcm) - whole * FRAME_SAMPLES
    if rest and pad:
        tail = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        tail[:rest] = pcm[whole * FRAME_SAMPLES :]
        yield AudioFrame(tail, start + whole * FRAME_MS / 1000)


def loud_frames(pcm: np.ndarray, min_rms: float) -> np.ndarray:
    """Indices of the whole 20 ms frames of PCM whose RMS level reaches MIN_RMS (int16 units)."""
    frames = pcm[: len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    return np.flatnonzero(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)) >= min_rms)


def without_leading_quiet(
    pcm: np.ndarray, min_rms: float = 100.0, keep_frames: int = 1
) -> np.ndarray:
    """PCM from `keep_frames` frames before its first frame at MIN_RMS (-50 dBFS by default:
    below the softest onset of a voice); unchanged when no frame is that loud."""
    loud = loud_frames(pcm, min_rms)
    if len(loud) == 0:
        return pcm
    return pcm[max(0, int(loud[0]) - keep_frames) * FRAME_SAMPLES :]


def join_frames(frames: list[AudioFrame]) -> np.ndarray:
    """Concatenate frames back into one array."""
    if not frames:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate([f.pcm for f in frames])
