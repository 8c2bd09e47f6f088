"""Transcribes the far side of a bridged call (the agent or nurse) into the call record.

Once caller and agent are bridged the bot is silent, but the record should still read as a
conversation: the caller's words keep arriving through the call session, and this listener
adds the agent's. Nobody waits on these transcripts, so utterances are cut at a long pause
(whole sentences read better than fragments) and decoded one at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from voice.asr.base import SpeechRecognizer
from voice.audio.frames import AudioFrame
from voice.audio.vad import SpeechEnded, UtteranceDetector, VadConfig, VadEvent
from voice.session.actions import CallInfo
from voice.session.conversation import CallRecorder

log = logging.getLogger(__name__)


class LegTranscriber:
    """Feed it a leg's 20 ms frames; it writes each utterance as a turn of `speaker`."""

    def __init__(
        self,
        call: CallInfo,
        speaker: str,
        *,
        recognizer: SpeechRecognizer,
        recorder: CallRecorder,
        vad: VadConfig | None = None,
        on_text: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.call = call
        self.speaker = speaker
        self.on_text = on_text  # each utterance's words, once written (e.g. to screen them)
        self.recognizer = recognizer
        self.recorder = recorder
        self._vad = UtteranceDetector(vad, long_pause=True)
        self._loop = asyncio.get_running_loop()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._frames = 0
        self._closed = False
        self.turns = 0

    def on_frame(self, pcm: np.ndarray) -> None:
        """One frame of the leg's audio (asyncio thread)."""
        if self._closed:
            return
        frame = AudioFrame(pcm, self._frames * 0.02)
        self._frames += 1
        self._decode_ended(self._vad.push(frame))

    async def close(self, timeout: float = 10.0) -> None:
        """Stop listening; let utterances already heard finish decoding (up to `timeout`),
        the one under way when the call ended included: words said up to the hang-up are
        written and screened too."""
        if self._closed:
            return
        self._closed = True
        self._decode_ended(self._vad.flush())
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def _decode_ended(self, events: list[VadEvent]) -> None:
        for event in events:
            if isinstance(event, SpeechEnded):
                task = self._loop.create_task(self._transcribe(event.pcm))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _transcribe(self, pcm: np.ndarray) -> None:
        end = datetime.now(UTC)
        start = end - timedelta(seconds=len(pcm) / 8000)

        def run() -> str:
            stream = self.recognizer.new_stream()
            stream.accept(pcm)
            return stream.finish().text.strip()

        async with self._lock:
            try:
                text = await asyncio.to_thread(run)
            except Exception:
                log.exception("call %s: %s leg recognition failed", self.call.call_id, self.speaker)
                return
        if text:
            self.turns += 1
            await self.recorder.turn(self.call, self.speaker, text, start, end)
            if self.on_text is not None:
                await self.on_text(text)
