"""The per-call audio tap: caller frames out to asyncio, bot frames in from a queue.

pjmedia's clock thread calls these two methods 50 times a second each. They must never
block and never raise: frames are handed to the loop with ``call_soon_threadsafe`` and
playback is pulled from a lock-free deque. Clearing the deque is how barge-in stops the bot
within one frame.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

import numpy as np
import pjsua2 as pj

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
FRAME_BYTES = FRAME_SAMPLES * 2
_SILENCE = bytes(FRAME_BYTES)


def audio_format() -> pj.MediaFormatAudio:
    fmt = pj.MediaFormatAudio()
    fmt.type = pj.PJMEDIA_TYPE_AUDIO
    fmt.clockRate = SAMPLE_RATE
    fmt.channelCount = 1
    fmt.bitsPerSample = 16
    fmt.frameTimeUsec = 20000
    return fmt


class MediaTap(pj.AudioMediaPort):
    """A conference-bridge port connected both ways to one call's audio."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_frame: Callable[[np.ndarray], None],
        name: str = "tap",
    ) -> None:
        super().__init__()
        self._loop = loop
        self._on_frame = on_frame
        self._tx: collections.deque[bytes] = collections.deque()
        self._on_drained: Callable[[], None] | None = None
        self.frames_received = 0
        self.frames_sent = 0
        self.createPort(name, audio_format())

    # -- called on pjmedia's clock thread -------------------------------------------------
    def onFrameReceived(self, frame: pj.MediaFrame) -> None:  # noqa: N802 (pjsua2 API)
        try:
            if frame.size < FRAME_BYTES:
                return
            pcm = np.frombuffer(bytes(frame.buf), dtype=np.int16)
            self.frames_received += 1
            self._loop.call_soon_threadsafe(self._on_frame, pcm)
        except Exception:  # an exception here would be printed and swallowed by SWIG
            log.exception("media tap receive failed")

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:  # noqa: N802 (pjsua2 API)
        try:
            try:
                chunk = self._tx.popleft()
                self.frames_sent += 1
                if not self._tx and self._on_drained is not None:
                    self._loop.call_soon_threadsafe(self._on_drained)
            except IndexError:
                chunk = _SILENCE
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(chunk)
            frame.size = len(chunk)
        except Exception:
            log.exception("media tap send failed")

    # -- called on the asyncio thread -----------------------------------------------------
    def enqueue(self, pcm: np.ndarray) -> int:
        """Queue 8 kHz int16 audio for the caller; returns the number of frames queued."""
        data = np.asarray(pcm, dtype=np.int16).tobytes()
        pad = (-len(data)) % FRAME_BYTES
        data += bytes(pad)
        frames = [data[i : i + FRAME_BYTES] for i in range(0, len(data), FRAME_BYTES)]
        self._tx.extend(frames)
        return len(frames)

    def clear(self) -> int:
        """Drop queued playback (barge-in); returns how many frames were dropped."""
        dropped = len(self._tx)
        self._tx.clear()
        return dropped

    @property
    def queued_frames(self) -> int:
        return len(self._tx)

    def on_drained(self, callback: Callable[[], None] | None) -> None:
        self._on_drained = callback
