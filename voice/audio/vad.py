"""Utterance detection on call audio: webrtcvad plus guards against line noise.

webrtcvad alone calls band-limited white noise speech on every frame, so a frame only counts
as voiced when it is also above an absolute energy floor, clearly above a tracked noise floor,
and not spectrally flat (noise is flat, voiced speech is not).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

from voice.audio.frames import FRAME_MS, SAMPLE_RATE, AudioFrame, join_frames

# Spectrum bins of a 160-sample frame covering 300–3400 Hz (50 Hz per bin).
_BAND = slice(6, 69)
_WINDOW = np.hanning(160)


@dataclass(frozen=True, slots=True)
class VadConfig:
    """Knobs of the utterance detector; the defaults suit a caller answering a question."""

    aggressiveness: int = 3
    ignore_ms: int = 80  # webrtcvad reports the first ~80 ms of any stream as speech
    start_frames: int = 4  # voiced frames within start_window that open an utterance
    start_window: int = 6
    hangover_ms: int = 500
    long_pause_ms: int = 1200  # digits, dates and member IDs come with pauses
    # A first, shorter pause (0: none) at which `SpeechPaused` carries the words so far, so
    # that recognising them can start before the utterance ends; `SpeechResumed` if it goes on.
    early_pause_ms: int = 0
    preroll_ms: int = 240  # audio kept from before the start so the first phoneme survives
    tail_ms: int = 200  # trailing audio kept after the last voiced frame
    max_utterance_s: float = 30.0
    energy_floor_dbfs: float = -50.0
    noise_margin_db: float = 6.0
    noise_rise_db_per_s: float = 3.0
    max_flatness: float = 0.4


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The caller started speaking (use it for barge-in)."""

    timestamp: float


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    """The caller finished an utterance; ``pcm`` is 8 kHz int16, pre-roll included."""

    pcm: np.ndarray
    start: float
    end: float
    forced: bool = False  # cut at max_utterance_s rather than by a pause

    @property
    def seconds(self) -> float:
        return len(self.pcm) / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class SpeechPaused:
    """The caller has been quiet for `early_pause_ms`: ``pcm`` is the utterance so far (pre-roll
    and the quiet included), what `SpeechEnded` will carry, less the rest of its tail, if she
    stays quiet."""

    pcm: np.ndarray


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """The caller spoke again after `SpeechPaused`, before the utterance ended."""


VadEvent = SpeechStarted | SpeechPaused | SpeechResumed | SpeechEnded


def frame_dbfs(pcm: np.ndarray) -> float:
    """RMS level of a frame in dB relative to full scale."""
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
    return 20.0 * np.log10(max(rms, 1e-3) / 32768.0)


def spectral_flatness(pcm: np.ndarray) -> float:
    """Geometric over arithmetic mean of the in-band power spectrum: ~0.6 noise, <0.1 vowels."""
    power = np.abs(np.fft.rfft(pcm.astype(np.float64) * _WINDOW))[_BAND] ** 2 + 1e-9
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))


class UtteranceDetector:
    """Turns a stream of 20 ms frames into SpeechStarted / SpeechEnded events.

    One instance per call leg; not thread-safe (feed it from the call's asyncio task).
    """

    def __init__(self, config: VadConfig | None = None, *, long_pause: bool = False) -> None:
        self.config = config or VadConfig()
        self.long_pause = long_pause
        self._vad = webrtcvad.Vad(self.config.aggressiveness)
        self.reset()

    def reset(self) -> None:
        """Forget the stream (e.g. after the worker played a prompt without barge-in)."""
        cfg = self.config
        self._seen = 0
        self._noise_db: float | None = None
        self._recent: deque[bool] = deque(maxlen=cfg.start_window)
        self._preroll: deque[AudioFrame] = deque(maxlen=max(1, cfg.preroll_ms // FRAME_MS))
        self._frames: list[AudioFrame] = []
        self._in_speech = False
        self._silent_run = 0
        self._ignored_levels: list[float] = []

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def hangover_ms(self) -> int:
        return self.config.long_pause_ms if self.long_pause else self.config.hangover_ms

    def push(self, frame: AudioFrame) -> list[VadEvent]:
        """Feed one frame; returns the events it caused (usually none)."""
        self._seen += 1
        level = frame_dbfs(frame.pcm)
        if self._seen * FRAME_MS <= self.config.ignore_ms:
            # The ignored head still tells us the line's noise level.
            self._ignored_levels.append(level)
            self._preroll.append(frame)
            return []
        voiced = self._is_voiced(frame, level)
        self._track_noise(level)
        if self._in_speech:
            return self._continue_utterance(frame, voiced)
        return self._maybe_start(frame, voiced)

    def flush(self) -> list[VadEvent]:
        """End of stream: close an open utterance."""
        if not self._in_speech:
            return []
        return [self._close(forced=False)]

    # -- internals -------------------------------------------------------------------------

    def _is_voiced(self, frame: AudioFrame, level: float) -> bool:
        cfg = self.config
        if level < cfg.energy_floor_dbfs:
            return False
        if self._noise_db is not None and level < self._noise_db + cfg.noise_margin_db:
            return False
        if spectral_flatness(frame.pcm) > cfg.max_flatness:
            return False
        return bool(self._vad.is_speech(frame.pcm.tobytes(), SAMPLE_RATE))

    def _track_noise(self, level: float) -> None:
        # Minimum tracking: fall fast to quiet frames, creep up slowly so that speech
        # does not raise the floor but a noisier line eventually does.
        if self._noise_db is None:
            levels = self._ignored_levels or [level]
            self._noise_db = float(np.median(levels))
            return
        if level < self._noise_db:
            self._noise_db += 0.3 * (level - self._noise_db)
        else:
            self._noise_db += self.config.noise_rise_db_per_s * FRAME_MS / 1000

    def _maybe_start(self, frame: AudioFrame, voiced: bool) -> list[VadEvent]:
        self._recent.append(voiced)
        self._preroll.append(frame)
        if sum(self._recent) < self.config.start_frames:
            return []
        self._in_speech = True
        self._silent_run = 0
        self._frames = list(self._preroll)
        self._preroll.clear()
        self._recent.clear()
        first_voiced = len(self._frames) - self.config.start_window
        start = self._frames[max(first_voiced, 0)].timestamp
        return [SpeechStarted(timestamp=start)]

    def _continue_utterance(self, frame: AudioFrame, voiced: bool) -> list[VadEvent]:
        self._frames.append(frame)
        early = self._early_pause_ms
        paused = early > 0 and self._silent_run * FRAME_MS >= early
        self._silent_run = 0 if voiced else self._silent_run + 1
        if self._silent_run * FRAME_MS >= self.hangover_ms:
            return [self._close(forced=False)]
        if len(self._frames) * FRAME_MS / 1000 >= self.config.max_utterance_s:
            return [self._close(forced=True)]
        if voiced and paused:
            return [SpeechResumed()]
        if early > 0 and not paused and self._silent_run * FRAME_MS >= early:
            return [SpeechPaused(pcm=join_frames(self._kept()))]
        return []

    @property
    def _early_pause_ms(self) -> int:
        """The early pause, when it comes before the end (never with the long pause: digits and
        dates pause between groups, and their turns end late anyway)."""
        early = self.config.early_pause_ms
        return early if not self.long_pause and 0 < early < self.hangover_ms else 0

    def _kept(self) -> list[AudioFrame]:
        """The utterance's frames with at most `tail_ms` of the quiet after the last word."""
        keep_tail = self.config.tail_ms // FRAME_MS
        return self._frames[: len(self._frames) - max(self._silent_run - keep_tail, 0)]

    def _close(self, *, forced: bool) -> SpeechEnded:
        kept = self._kept()
        event = SpeechEnded(
            pcm=join_frames(kept),
            start=kept[0].timestamp,
            end=kept[-1].timestamp + FRAME_MS / 1000,
            forced=forced,
        )
        self._frames = []
        self._in_speech = False
        self._silent_run = 0
        return event
