"""Triage results: the level a transcript calls for, and the flags and words behind it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    """How fast a human must take over: not at all, soon (nurse), or now (911 message first)."""

    NONE = "none"
    URGENT = "urgent"
    EMERGENT = "emergent"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Level.NONE: 0, Level.URGENT: 1, Level.EMERGENT: 2}


@dataclass(frozen=True, slots=True)
class Flag:
    """One red-flag category that fired, at which level, on which of the caller's words.

    `source` says which layer raised it: "lexicon" (a rule a supervisor can read) or "net"
    (the semantic safety net, which only ever raises to urgent).
    """

    category: str
    level: Level
    matched: str
    source: str = "lexicon"


@dataclass(frozen=True, slots=True)
class NetMatch:
    """The red-flag description of the net's bank an utterance came closest to, and how close."""

    category: str
    description: str
    score: float


@dataclass(frozen=True, slots=True)
class TriageResult:
    """The verdict on one transcript: the highest level among its flags.

    `suppressed`: a rule or a symptom word matched but negation, history or a benign phrase
    cancelled it ("no fever", "had a stroke years ago"); the net stays silent then.
    `symptom`: the caller describes a bodily or mental symptom, so a dialog should screen for
    red flags before any self-service. `net`: set when the semantic net raised the level.
    `near`: the net found the words close to a red flag without raising the level: the dialog
    asks the screening question, as for a symptom.
    """

    text: str
    level: Level
    flags: tuple[Flag, ...]
    net: NetMatch | None = None
    suppressed: bool = False
    symptom: bool = False
    near: NetMatch | None = None

    @property
    def screen(self) -> bool:
        """Nothing flagged, but the caller should be asked the red-flag screening question."""
        return self.level is Level.NONE and (self.symptom or self.near is not None)

    @property
    def matched(self) -> list[str]:
        return [flag.matched for flag in self.flags]

    @property
    def categories(self) -> list[str]:
        return [flag.category for flag in self.flags]

    @property
    def sources(self) -> list[str]:
        return [flag.source for flag in self.flags]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "text": self.text,
            "level": str(self.level),
            "flags": self.categories,
            "matched": self.matched,
            "sources": self.sources,
            "suppressed": self.suppressed,
            "symptom": self.symptom,
            "net": _match_json(self.net),
            "near": _match_json(self.near),
            "screen": self.screen,
        }
        return doc


def _match_json(match: NetMatch | None) -> dict[str, Any] | None:
    if match is None:
        return None
    return {
        "category": match.category,
        "description": match.description,
        "score": round(match.score, 4),
    }
