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
    """One red-flag category that fired, at which level, on which of the caller's words."""

    category: str
    level: Level
    matched: str


@dataclass(frozen=True, slots=True)
class TriageResult:
    """The verdict on one transcript: the highest level among its flags."""

    text: str
    level: Level
    flags: tuple[Flag, ...]

    @property
    def matched(self) -> list[str]:
        return [flag.matched for flag in self.flags]

    @property
    def categories(self) -> list[str]:
        return [flag.category for flag in self.flags]

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "level": str(self.level),
            "flags": self.categories,
            "matched": self.matched,
        }
