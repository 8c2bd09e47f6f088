"""Symptom words: does the caller describe how their body or mind feels?

Not a red flag. When no layer fired but the caller describes a symptom ("my leg hurts",
"I can't sleep"), the dialog asks the red-flag screening question before any self-service.
Deterministic patterns over the canonical text, read from a file supervisors can edit
(`symptoms.yaml`); the engine applies the lexicon's negation and benign phrases to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlu.triage.errors import LexiconError
from nlu.triage.lexicon import read_triage_file

DEFAULT_SYMPTOMS = Path(__file__).with_name("symptoms.yaml")
_KEYS = {"version", "patterns", "not_when", "examples", "not_examples"}


@dataclass(frozen=True, slots=True)
class SymptomSignal:
    """Compiled symptom patterns, the contexts that cancel them, and the examples proving both."""

    source: str
    pattern: re.Pattern[str]
    not_when: re.Pattern[str]
    examples: tuple[str, ...]
    not_examples: tuple[str, ...]

    def matches(self, text: str) -> list[tuple[int, int]]:
        """Character spans of symptom words in canonical text."""
        return [m.span() for m in self.pattern.finditer(text)]

    def excluded_spans(self, text: str) -> list[tuple[int, int]]:
        """Spans where symptom words name a medicine, a test or a visit instead."""
        return [m.span() for m in self.not_when.finditer(text)]


def _strings(data: dict[str, Any], key: str, source: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LexiconError(source, f"'{key}' must be a list of non-empty strings")
    return [v.strip() for v in value]


def _alternation(items: list[str], source: str, key: str) -> re.Pattern[str]:
    if not items:
        return re.compile(r"(?!x)x")
    body = "|".join(f"(?:{item})" for item in items)
    try:
        return re.compile(rf"(?<!\S)(?:{body})(?!\S)")
    except re.error as exc:
        raise LexiconError(source, f"'{key}' does not compile: {exc}") from exc


def parse_symptoms(data: Any, source: str) -> SymptomSignal:
    """Validate parsed YAML; raises LexiconError naming the file and what is wrong."""
    if not isinstance(data, dict):
        raise LexiconError(source, "the file must hold a mapping with 'patterns'")
    unknown = set(data) - _KEYS
    if unknown:
        raise LexiconError(source, f"unknown keys {sorted(unknown)}")
    patterns = _strings(data, "patterns", source)
    if not patterns:
        raise LexiconError(source, "'patterns' must not be empty")
    examples = _strings(data, "examples", source)
    if not examples:
        raise LexiconError(source, "needs at least one example that must count as a symptom")
    return SymptomSignal(
        source=source,
        pattern=_alternation(patterns, source, "patterns"),
        not_when=_alternation(_strings(data, "not_when", source), source, "not_when"),
        examples=tuple(examples),
        not_examples=tuple(_strings(data, "not_examples", source)),
    )


def load_symptoms(path: str | Path) -> SymptomSignal:
    return parse_symptoms(read_triage_file(path), str(path))
