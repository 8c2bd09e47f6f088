"""Errors raised by the triage layer."""

from __future__ import annotations


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message names the file, category and reason."""

    def __init__(self, source: str, reason: str, category: str | None = None) -> None:
        self.source = source
        self.category = category
        self.reason = reason
        where = f"{source}: category {category!r}" if category else source
        super().__init__(f"{where}: {reason}")
