"""Partial transcripts while the caller is still talking, for engines that stream (Vosk).

Recognition runs off the event loop: frames are batched and handed to a worker thread, one
batch at a time, and every new partial is passed to `on_partial` (the triage screen), so a
red flag can interrupt before the caller has finished the sentence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

from voice.asr.base import RecognitionStream

log = logging.getLogger(__name__)


class LivePartials:
    def __init__(self, stream: RecognitionStream, on_partial: Callable[[str], None]) -> None:
        self._stream = stream
        self._on_partial = on_partial
        self._buffer: list[np.ndarray] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._last = ""

    def push(self, pcm: np.ndarray) -> None:
        if self._closed:
            return
        self._buffer.append(pcm)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._buffer and not self._closed:
            chunk = np.concatenate(self._buffer)
            self._buffer.clear()
            try:
                partial = await asyncio.to_thread(self._stream.accept, chunk)
            except Exception:
                log.exception("streaming recognition failed")
                self._closed = True
                return
            if partial and partial != self._last and not self._closed:
                self._last = partial
                self._on_partial(partial)

    def close(self) -> None:
        self._closed = True
        self._buffer.clear()
