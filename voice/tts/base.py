"""The synthesiser interface and the sentence splitting that lets playback start early.

A TTS engine speaks a whole sentence at a time, so the worker asks for audio sentence by
sentence: the caller hears the first one while the rest is still being rendered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np

# Words whose trailing period does not end a sentence (common in clinic speech).
_ABBREVIATIONS = frozenset(
    {"dr", "mr", "mrs", "ms", "st", "no", "vs", "etc", "e.g", "i.e", "a.m", "p.m", "jr", "sr"}
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+")
# Longer sentences are cut at clause boundaries so the first audio is not held back.
MAX_SENTENCE_CHARS = 220


@runtime_checkable
class Synthesizer(Protocol):
    """Text in, 8 kHz mono int16 out, one sentence per yielded array."""

    voice_id: str  # stable identity of engine + voice; part of the prompt-cache key
    sample_rate: int

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield audio for each sentence of ``text`` in order, rendering lazily."""
        ...


def _ends_with_abbreviation(piece: str) -> bool:
    last = piece.rstrip().rsplit(None, 1)[-1].lower().rstrip(".!?\"')]")
    return last in _ABBREVIATIONS


def _split_long(sentence: str) -> list[str]:
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return [sentence]
    parts: list[str] = []
    current = ""
    for clause in _CLAUSE_BREAK.split(sentence):
        if current and len(current) + len(clause) + 1 > MAX_SENTENCE_CHARS:
            parts.append(current)
            current = clause
        else:
            current = f"{current} {clause}".strip()
    if current:
        parts.append(current)
    return parts


def split_sentences(text: str) -> list[str]:
    """Split text into speakable sentences, keeping "Dr. Lee" and "9 a.m. Monday" whole."""
    pieces = [p for p in _SENTENCE_END.split(text.strip()) if p.strip()]
    sentences: list[str] = []
    carry = ""
    for piece in pieces:
        carry = f"{carry} {piece}".strip() if carry else piece.strip()
        if not _ends_with_abbreviation(carry):
            sentences.extend(_split_long(carry))
            carry = ""
    if carry:
        sentences.extend(_split_long(carry))
    return sentences


_CLAUSE_BREAK = re.compile(r"(?<=[,:;])\s+")


def split_for_streaming(text: str, min_words: int = 6) -> list[str]:
    """Sentences, with a long first sentence cut at its first clause break.

    Synthesis runs a whole piece at a time, so the first piece decides when the caller
    first hears the bot: "Sure, first, what is your name?" starts after "Sure," renders.
    """
    sentences = split_sentences(text)
    if not sentences or len(sentences[0].split()) < min_words:
        return sentences
    head, *tail = _CLAUSE_BREAK.split(sentences[0], maxsplit=1)
    return [head, *tail, *sentences[1:]] if tail else sentences
