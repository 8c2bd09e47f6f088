"""The per-call audio tap: caller frames out to asyncio, bot frames in from a queue.

pjmedia's clock thread calls these two methods 50 times a second each. They must never
block and never raise: frames are handed to the loop with ``call_soon_threadsafe`` and
playback is pulled from a lock-free deque. Clearing the deque is how barge-in stops the bot
within one frame.

Taps are never destroyed while the conference bridge runs (`TapPool`). The bridge calls
every port it holds each tick, connected or not (an unconnected port gets empty "heartbeat"
frames), and SWIG lets go of the GIL while a tap's C++ port is being destroyed: the clock
thread then calls into the half-freed Python object and frees it a second time. Measured:
a server answering 4 calls a second from SIPp died of SIGSEGV after 350 to 1,000 calls
(core: `subtype_dealloc` of a tap whose memory already held the string "onFrameReceived").
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import logging
import time
from collections.abc import Callable

import numpy as np
import pjsua2 as pj

from voice.audio.recording import TapRecording

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
FRAME_BYTES = FRAME_SAMPLES * 2
_SILENCE = bytes(FRAME_BYTES)
# A released tap waits this long before another call gets it, so that a connection still
# being torn down on the clock thread cannot hand the next caller a frame of the last call.
QUARANTINE_S = 0.5


def frame_bytes(buf: pj.ByteVector, size: int) -> bytes:
    """The first `size` bytes of a frame's buffer.

    `bytes(buf)` walks SWIG's iterator a byte at a time: 0.36 ms for a 320-byte frame on
    this 2-core machine under load, paid 50 times a second on every call, in the server and
    in every test phone. A libstdc++ vector begins with its begin and end pointers, so the
    bytes are copied in one step instead (1.7 µs); a buffer shorter than `size` by those
    pointers is read the slow way, which also stands in should the layout ever differ."""
    begin, end = (ctypes.c_void_p * 2).from_address(int(buf.this))
    if begin is None or end is None or end - begin < size:
        return bytes(buf)[:size]
    return ctypes.string_at(begin, size)


def _ignore_frame(_pcm: np.ndarray) -> None:
    """Where an idle tap's frames go: nowhere."""


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
        self.in_use = True  # False while a `TapPool` keeps it for the next call
        # The call's recording while it runs (`voice.audio.recording`); None: not recorded.
        self.recording: TapRecording | None = None
        self.createPort(name, audio_format())

    # -- called on pjmedia's clock thread -------------------------------------------------
    def onFrameReceived(self, frame: pj.MediaFrame) -> None:  # noqa: N802 (pjsua2 API)
        try:
            recording = self.recording
            if frame.size < FRAME_BYTES:
                if recording is not None:
                    recording.on_received(_SILENCE)
                return
            raw = frame_bytes(frame.buf, frame.size)
            if recording is not None:
                recording.on_received(raw)
            pcm = np.frombuffer(raw, dtype=np.int16)
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
            recording = self.recording
            if recording is not None:
                recording.on_sent(chunk)
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(chunk)
            frame.size = len(chunk)
        except Exception:
            log.exception("media tap send failed")

    # -- called on the asyncio thread -----------------------------------------------------
    def attach(self, on_frame: Callable[[np.ndarray], None]) -> None:
        """Give the tap to a new owner: its frames go to `on_frame`, nothing queued is left."""
        self._tx.clear()
        self._on_drained = None
        self._on_frame = on_frame
        self.recording = None
        self.in_use = True

    def detach(self) -> None:
        """The owner is done: drop what it queued and stop handing it frames."""
        self._on_frame = _ignore_frame
        self._on_drained = None
        self.recording = None
        self._tx.clear()
        self.in_use = False

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


class TapPool:
    """Media taps made on demand and kept for the life of the endpoint (see the module
    docstring: destroying one while the bridge runs can crash the process).

    Call `close()` only once the bridge's clock has stopped (`SipEndpoint.shutdown` does it
    with `setNoDev`); the taps are then collected before `libDestroy`.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._loop = loop
        self._clock = clock
        self._idle: collections.deque[tuple[float, MediaTap]] = collections.deque()
        self._taps: list[MediaTap] = []

    @property
    def size(self) -> int:
        """Taps made so far: the most legs held at once, plus those in quarantine then."""
        return len(self._taps)

    @property
    def idle(self) -> int:
        return len(self._idle)

    def acquire(self, on_frame: Callable[[np.ndarray], None]) -> MediaTap:
        if self._idle and self._idle[0][0] <= self._clock():
            _ready_at, tap = self._idle.popleft()
            tap.attach(on_frame)
            return tap
        tap = MediaTap(self._loop, on_frame, name=f"tap-{len(self._taps)}")
        self._taps.append(tap)
        return tap

    def release(self, tap: MediaTap, media: pj.AudioMedia | None) -> None:
        """Unhook `tap` from `media` (None once its call is down: the bridge has already
        removed the call's port and its connections, and its port number may belong to a
        new call) and keep it for a later call. Releasing it twice changes nothing."""
        if not tap.in_use:
            return
        for source, sink in ((media, tap), (tap, media)):
            if source is not None and sink is not None:
                with contextlib.suppress(pj.Error):
                    source.stopTransmit(sink)
        tap.detach()
        self._idle.append((self._clock() + QUARANTINE_S, tap))

    def close(self) -> None:
        """Let go of every tap (after the bridge's clock has stopped)."""
        self._idle.clear()
        self._taps.clear()
