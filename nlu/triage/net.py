"""The semantic safety net: catches callers who describe a red flag in words no rule knows.

Each final utterance is compared (cosine of sentence embeddings) with a bank of red-flag
descriptions per category and with benign counter-descriptions (`net_bank.yaml`, data a
supervisor can read). It fires when the closest red-flag description is close enough and beats
the closest benign one by the bank's margin, unless the utterance says the trouble is over
("fine now"). When the caller plays it down ("a bit", "sometimes", "for years", "still
playing", a refill or a result) and says nothing bad or sudden ("barely", "right now"), the red
flag must win by a wider margin: mild and long-standing complaints are what the dialog's
screening question is for, not a nurse at once. It only ever raises `none` to `urgent` (the
nurse, now): deciding `emergent` stays with the deterministic lexicon. Embeddings do not
understand negation, so the engine keeps the net silent wherever the lexicon suppressed a match
on purpose.

If the model cannot load, triage goes on lexicon-only and says so once in the log.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nlu.triage.embedder import SHARED, Embedder, ModelFiles, packaged_model_files
from nlu.triage.errors import LexiconError
from nlu.triage.lexicon import read_triage_file
from nlu.triage.model import NetMatch
from nlu.triage.text import normalise

log = logging.getLogger(__name__)

DEFAULT_BANK = Path(__file__).with_name("net_bank.yaml")
_BANK_KEYS = {
    "version", "margin", "min_score", "min_words", "silent_when", "categories", "benign",
    "mild_when", "mild_margin", "mild_exempt", "severe_when",
}
_NEVER = "(?!x)x"


@dataclass(frozen=True, slots=True)
class NetBank:
    """Red-flag descriptions by category, benign counter-descriptions, and the margin."""

    source: str
    margin: float
    min_score: float
    min_words: int
    silent_when: re.Pattern[str]
    descriptions: tuple[tuple[str, str], ...]  # (category, description)
    benign: tuple[str, ...]
    mild_when: re.Pattern[str] = re.compile(_NEVER)
    mild_margin: float = 0.0  # the extra margin a played-down utterance needs
    mild_exempt: frozenset[str] = frozenset()  # categories never played down (self-harm)
    severe_when: re.Pattern[str] = re.compile(_NEVER)  # words that undo a playing-down


@dataclass(frozen=True, slots=True)
class NetScore:
    """The net's view of one utterance, whether or not it fires."""

    category: str
    description: str
    score: float  # cosine with the closest red-flag description
    benign: str
    benign_score: float  # cosine with the closest benign description
    mild: bool = False  # the caller plays it down, and the category may be played down

    @property
    def margin(self) -> float:
        return self.score - self.benign_score


def _strings(value: Any, where: str, source: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise LexiconError(source, f"{where} must be a non-empty list of sentences")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise LexiconError(source, f"{where} must hold only non-empty strings")
    return [" ".join(v.split()) for v in value]


def parse_bank(data: Any, source: str) -> NetBank:
    """Validate parsed YAML; raises LexiconError naming the file, category and reason."""
    if not isinstance(data, dict) or set(data) - _BANK_KEYS:
        raise LexiconError(source, f"the bank must be a mapping with keys {sorted(_BANK_KEYS)}")
    margin = data.get("margin")
    if not isinstance(margin, int | float) or not -1.0 < float(margin) < 1.0:
        raise LexiconError(source, "'margin' must be a number between -1 and 1")
    min_score = data.get("min_score", 0.0)
    if not isinstance(min_score, int | float) or not 0.0 <= float(min_score) < 1.0:
        raise LexiconError(source, "'min_score' must be a number between 0 and 1")
    min_words = data.get("min_words", 3)
    if not isinstance(min_words, int) or min_words < 1:
        raise LexiconError(source, "'min_words' must be a positive whole number")
    categories = data.get("categories")
    if not isinstance(categories, dict) or not categories:
        raise LexiconError(source, "'categories' must map category names to descriptions")
    descriptions: list[tuple[str, str]] = []
    for name, lines in categories.items():
        if not isinstance(name, str) or not name.strip():
            raise LexiconError(source, "category names must be non-empty strings")
        descriptions += [(name, line) for line in _strings(lines, f"category {name!r}", source)]
    texts = [line for _, line in descriptions]
    benign = _strings(data.get("benign"), "'benign'", source)
    silent_when = _word_regex(data.get("silent_when"), "silent_when", source)
    mild_when = _word_regex(data.get("mild_when"), "mild_when", source)
    severe_when = _word_regex(data.get("severe_when"), "severe_when", source)
    mild_margin = data.get("mild_margin", 0.0)
    if not isinstance(mild_margin, int | float) or not 0.0 <= float(mild_margin) <= 2.0:
        raise LexiconError(source, "'mild_margin' must be a number between 0 and 2")
    exempt = data.get("mild_exempt") or []
    if not isinstance(exempt, list) or not set(exempt) <= {c for c, _ in descriptions}:
        raise LexiconError(source, "'mild_exempt' must list categories of the bank")
    duplicates = sorted({t for t in texts + benign if (texts + benign).count(t) > 1})
    if duplicates:
        raise LexiconError(source, f"sentences listed twice: {duplicates[:3]}")
    return NetBank(
        source, float(margin), float(min_score), min_words, silent_when, tuple(descriptions),
        tuple(benign), mild_when, float(mild_margin), frozenset(exempt), severe_when,
    )  # fmt: skip


def _word_regex(value: Any, key: str, source: str) -> re.Pattern[str]:
    """A list of regexes over the canonical transcript, matched on whole words."""
    patterns = value or []
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
        raise LexiconError(source, f"'{key}' must be a list of regexes")
    try:
        return re.compile("|".join(rf"(?<!\S)(?:{p})(?!\S)" for p in patterns) or _NEVER)
    except re.error as exc:
        raise LexiconError(source, f"'{key}' does not compile: {exc}") from exc


def load_bank(path: str | Path) -> NetBank:
    return parse_bank(read_triage_file(path), str(path))


class SafetyNet:
    """Scores utterances against a bank; the embedding model loads on first use, once.

    `model_files` defaults to the packaged model; a loader may be given (tests use it to
    count loads or to simulate a missing model).
    """

    def __init__(
        self,
        bank: NetBank,
        *,
        model_files: ModelFiles | None = None,
        loader: Callable[[ModelFiles], Embedder] = SHARED.get,
    ) -> None:
        self.bank = bank
        self._files = model_files
        self._loader = loader
        self._lock = threading.Lock()
        self._ready = False
        self._embedder: Embedder | None = None
        self._red: np.ndarray | None = None
        self._benign: np.ndarray | None = None

    @property
    def available(self) -> bool:
        """Loads the model if need be; False (with one warning) when it cannot load."""
        return self._load() is not None

    def warm_up(self) -> bool:
        """Load the model and embed the bank now (call at start-up, off the event loop)."""
        return self.available

    def match(self, text: str) -> NetMatch | None:
        """The description this utterance is a red flag like, or None when the net is silent."""
        scored = self.score(text)
        if scored is None or not self.fires(scored):
            return None
        return NetMatch(scored.category, scored.description, round(scored.score, 4))

    def fires(self, scored: NetScore, margin: float | None = None,
              min_score: float | None = None, mild_margin: float | None = None) -> bool:
        """Close enough to a red flag, and closer to it than to anything ordinary.

        A played-down utterance must beat the ordinary by `mild_margin` more.
        """
        margin = self.bank.margin if margin is None else margin
        min_score = self.bank.min_score if min_score is None else min_score
        if scored.mild:
            margin += self.bank.mild_margin if mild_margin is None else mild_margin
        return scored.score >= min_score and scored.margin >= margin

    def score(self, text: str) -> NetScore | None:
        """The closest red-flag and benign descriptions; None when unscorable or unavailable."""
        if len(text.split()) < self.bank.min_words:
            return None
        canonical = normalise(text).text
        if self.bank.silent_when.search(canonical):
            return None
        embedder = self._load()
        if embedder is None or self._red is None or self._benign is None:
            return None
        vector = embedder.embed([text])[0]
        red = self._red @ vector
        benign = self._benign @ vector
        best, worst = int(np.argmax(red)), int(np.argmax(benign))
        category, description = self.bank.descriptions[best]
        mild = (
            category not in self.bank.mild_exempt
            and self.bank.mild_when.search(canonical) is not None
            and self.bank.severe_when.search(canonical) is None
        )
        return NetScore(
            category, description, float(red[best]), self.bank.benign[worst],
            float(benign[worst]), mild,
        )  # fmt: skip

    def _load(self) -> Embedder | None:
        if self._ready:
            return self._embedder
        with self._lock:
            if not self._ready:
                try:
                    files = self._files or packaged_model_files()
                    embedder = self._loader(files)
                    self._red = embedder.embed([d for _, d in self.bank.descriptions])
                    self._benign = embedder.embed(list(self.bank.benign))
                    self._embedder = embedder
                except Exception as exc:  # any failure: the lexicon still works alone
                    log.warning("triage safety net unavailable, lexicon only: %s", exc)
                    self._embedder = None
                self._ready = True
        return self._embedder
