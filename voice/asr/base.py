"""The interface every speech recogniser of the voice worker implements.

A call creates one ``RecognitionStream`` per utterance (or per question, for streaming
engines), feeds it 8 kHz int16 audio and asks for the final ``Transcript``. ``finish`` may
block for a second on CPU engines: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

# What the caller was just asked for, when the dialog says: engines may tune for it.
AnswerKind = Literal["name", "date", "spelling", "medication", "when"]


@dataclass(frozen=True, slots=True)
class Transcript:
    """Final words of one utterance; ``text`` is empty when the engine heard no speech."""

    text: str
    confidence: float  # in [0, 1]; engines differ in calibration, compare within one engine
    audio_seconds: float
    decode_seconds: float

    @property
    def real_time_factor(self) -> float:
        return self.decode_seconds / self.audio_seconds if self.audio_seconds else 0.0


@runtime_checkable
class RecognitionStream(Protocol):
    """One utterance (or one question's worth of audio) being recognised."""

    def accept(self, pcm: np.ndarray) -> str | None:
        """Feed 8 kHz int16 audio; returns a partial transcript when the engine streams."""
        ...

    def finish(self) -> Transcript:
        """Return the final transcript; the stream must not be used afterwards."""
        ...

    def cancel(self) -> None:
        """Nobody wants this utterance any more (the caller went on speaking, or hung up).
        A decode still waiting for the engine must not start: on a shared engine it would
        hold the slot another call is waiting for. One already running may finish."""
        ...


@runtime_checkable
class SpeechRecognizer(Protocol):
    """A loaded engine, shared by every call of the worker process."""

    name: str
    sample_rate: int
    streaming: bool

    def new_stream(
        self,
        *,
        grammar: Sequence[str] | None = None,
        hints: Sequence[str] = (),
        answer: AnswerKind | None = None,
    ) -> RecognitionStream:
        """Open a stream; ``grammar`` restricts the answer where the engine can (yes/no,
        digits), ``hints`` are words this call makes likely (the caller's medications).
        ``answer``: what the caller was just asked for. A name the engine may never have
        heard, or a date: expect only ``hints`` (not the clinic-wide vocabulary) and keep a
        doubtful result rather than none (the name matcher or date parser judges it)."""
        ...


@runtime_checkable
class DateListener(Protocol):
    """A recogniser that can hear an utterance as a date of birth and nothing else."""

    def hear_date(self, pcm: np.ndarray, examples: Sequence[str], this_year: int) -> Transcript:
        """The likeliest date said (written as the engine writes dates), with the engine's
        confidence in it; an empty transcript when nothing could be heard. Blocking."""
        ...


@runtime_checkable
class PhraseListener(Protocol):
    """A recogniser that can hear an utterance as one of a few phrases and nothing else."""

    def hear_one_of(self, pcm: np.ndarray, phrases: Sequence[str]) -> Transcript:
        """The likeliest phrase, with the engine's confidence in it. Blocking."""
        ...


def hear_again(
    recognizer: SpeechRecognizer,
    pcm: np.ndarray,
    *,
    hints: Sequence[str] = (),
    answer: AnswerKind | None = None,
) -> str:
    """Decode audio already heard once, whole, with other hints: a second hearing. Blocking
    (run it in a thread)."""
    stream = recognizer.new_stream(hints=hints, answer=answer)
    stream.accept(pcm)
    return stream.finish().text.strip()
