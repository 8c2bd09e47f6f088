"""A call's recording, kept in memory while the call runs: what the caller said on one
channel, what the caller heard (the bot, then the agent once bridged) on the other.

The caller's media tap appends the frames it receives and the frames it sends on pjmedia's
clock thread (one `list.append` each, no locks: CPython's append is atomic), so the two
channels line up frame for frame. A leg bridged later (the agent) records what it receives
from the frame the caller's channel had reached when it joined. At the end the worker turns it
into a stereo WAV, which the store keeps encrypted; nothing is written to disk in the clear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from voice.audio.frames import FRAME_SAMPLES, SAMPLE_RATE
from voice.audio.wav import wav_bytes

FRAME_BYTES = FRAME_SAMPLES * 2
_SILENCE = bytes(FRAME_BYTES)


@dataclass(eq=False)
class TapRecording:
    """The frames one media tap received and sent, up to `limit` of each."""

    limit: int
    received: list[bytes] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)

    def on_received(self, raw: bytes) -> None:
        """Clock thread: a frame heard from the leg (short ones recorded as silence)."""
        if len(self.received) < self.limit:
            self.received.append(raw if len(raw) == FRAME_BYTES else _SILENCE)

    def on_sent(self, raw: bytes) -> None:
        """Clock thread: a frame played to the leg."""
        if len(self.sent) < self.limit:
            self.sent.append(raw if len(raw) == FRAME_BYTES else _SILENCE)


class CallRecording:
    """Both sides of one call: the caller's leg, and any leg bridged to it later."""

    def __init__(self, max_seconds: float) -> None:
        self.limit = int(max_seconds * SAMPLE_RATE / FRAME_SAMPLES)
        self.caller = TapRecording(self.limit)
        self._joined: list[tuple[int, TapRecording]] = []

    def join(self) -> TapRecording:
        """A leg bridged to the caller from now (an agent): what it says goes on the channel
        of what the caller heard, from this frame on."""
        offset = len(self.caller.sent)
        leg = TapRecording(max(0, self.limit - offset))
        self._joined.append((offset, leg))
        return leg

    @property
    def seconds(self) -> float:
        return len(self.caller.received) * FRAME_SAMPLES / SAMPLE_RATE

    def channels(self) -> tuple[np.ndarray, np.ndarray]:
        """(what the caller said, what the caller heard), int16, of equal length."""
        said = _pcm(self.caller.received)
        heard = _pcm(self.caller.sent).astype(np.int32)
        length = max(len(said), len(heard))
        for offset, leg in self._joined:
            length = max(length, offset * FRAME_SAMPLES + len(leg.received) * FRAME_SAMPLES)
        said = np.pad(said, (0, length - len(said)))
        heard = np.pad(heard, (0, length - len(heard)))
        for offset, leg in self._joined:
            start = offset * FRAME_SAMPLES
            voice = _pcm(leg.received)
            heard[start : start + len(voice)] += voice
        return said, np.clip(heard, -32768, 32767).astype(np.int16)

    def wav(self) -> bytes:
        """A stereo 8 kHz 16-bit WAV: left the caller, right what the caller heard."""
        return wav_bytes(*self.channels())


def _pcm(frames: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(frames), dtype="<i2") if frames else np.zeros(0, np.int16)
