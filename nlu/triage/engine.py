"""The triage engine: run the lexicon over a transcript and decide the level.

A rule match counts unless it is negated ("no chest pain"), told as remote history ("had a
stroke years ago"), or part of a benign phrase ("stroke clinic"). Recent history ("fainted
yesterday") is softened to urgent. Deterministic, and fast enough for every partial transcript.
"""

from __future__ import annotations

import re
from pathlib import Path

from nlu.triage.errors import LexiconError
from nlu.triage.lexicon import Category, Context, Lexicon, load_lexicon
from nlu.triage.model import Flag, Level, TriageResult
from nlu.triage.text import Normalised, normalise

DEFAULT_LEXICON = Path(__file__).with_name("lexicon.yaml")
# How far, in words, negation and history cues reach from a match.
_NEGATION_REACH = 12
_HISTORY_REACH = 8
_PSEUDO_AFTER_REACH = 6
_LIST_JOINERS = frozenset({"or", "nor"})
_MAX_LIST_ITEM = 3


class TriageEngine:
    """Assess transcripts against one validated lexicon."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._self_test()

    @classmethod
    def default(cls) -> TriageEngine:
        return cls.from_file(DEFAULT_LEXICON)

    @classmethod
    def from_file(cls, path: str | Path) -> TriageEngine:
        """Load, validate and self-test a lexicon file (raises LexiconError)."""
        return cls(load_lexicon(path))

    @property
    def categories(self) -> list[str]:
        return [c.name for c in self.lexicon.categories]

    def assess(self, text: str) -> TriageResult:
        norm = normalise(text)
        ctx = self.lexicon.context
        benign = [m.span() for m in ctx.benign.finditer(norm.text)]
        flags: list[Flag] = []
        for category in self.lexicon.categories:
            flag = self._first_flag(category, norm, ctx, benign)
            if flag is not None:
                flags.append(flag)
        level = max((f.level for f in flags), key=lambda lv: lv.rank, default=Level.NONE)
        return TriageResult(text=text, level=level, flags=tuple(flags))

    def _first_flag(
        self, category: Category, norm: Normalised, ctx: Context, benign: list[tuple[int, int]]
    ) -> Flag | None:
        softened: Flag | None = None
        for rule in category.rules:
            for match in rule.finditer(norm.text):
                start, end = match.span()
                if any(b0 <= start and end <= b1 for b0, b1 in benign):
                    continue
                first, last = norm.token_at(start), norm.token_at(max(end - 1, start))
                if _negated(norm, ctx, first, last):
                    continue
                level = _history_level(category, norm, ctx, first, last)
                if level is Level.NONE:
                    continue
                flag = Flag(category.name, level, norm.raw_span(first, last))
                if level is category.level:
                    return flag
                softened = softened or flag
        return softened

    def _self_test(self) -> None:
        """Every example must fire its category; every counter-example must not."""
        source = self.lexicon.source
        for category in self.lexicon.categories:
            for example in category.examples:
                if category.name not in self.assess(example).categories:
                    raise LexiconError(source, f"example {example!r} does not fire",
                                       category.name)
            for counter in category.not_examples:
                if category.name in self.assess(counter).categories:
                    raise LexiconError(source, f"counter-example {counter!r} fires",
                                       category.name)
        for line in self.lexicon.must_not_escalate:
            result = self.assess(line)
            if result.level is not Level.NONE:
                raise LexiconError(source, f"{line!r} must not escalate but fires "
                                   f"{result.categories}")


def _in_spans(pattern: re.Pattern[str], norm: Normalised) -> set[int]:
    tokens: set[int] = set()
    for match in pattern.finditer(norm.text):
        first = norm.token_at(match.start())
        last = norm.token_at(max(match.end() - 1, match.start()))
        tokens.update(range(first, last + 1))
    return tokens


def _negated(norm: Normalised, ctx: Context, first: int, last: int) -> bool:
    """A negator before the match, reached only through bridge words or "or"-lists."""
    tokens = norm.tokens
    after = " ".join(tokens[last + 1 : last + 1 + _PSEUDO_AFTER_REACH])
    pseudo = _in_spans(ctx.pseudo_negation, norm)
    i = first - 1
    stop = max(first - _NEGATION_REACH, 0)
    while i >= stop:
        tok = tokens[i]
        if tok in ctx.negators and i not in pseudo:
            # "never felt pain like this" is emphasis, not negation.
            return not ctx.pseudo_negation_after.search(" " + after) if after else True
        if tok in ctx.negation_bridge:
            i -= 1
            continue
        if tok in _LIST_JOINERS:
            # "no fever or chest pain": hop back over one short list item to its negator.
            j = i - 1
            while j > max(i - 1 - _MAX_LIST_ITEM, stop - 1) and tokens[j] not in ctx.negators \
                    and tokens[j] not in _LIST_JOINERS and tokens[j] not in ctx.clause_breaks:
                j -= 1
            if j >= stop and (tokens[j] in ctx.negators or tokens[j] in _LIST_JOINERS):
                i = j
                continue
        return False
    return False


def _history_level(
    category: Category, norm: Normalised, ctx: Context, first: int, last: int
) -> Level:
    """The category's level, lowered when the match is told as history."""
    lo = max(first - _HISTORY_REACH, 0)
    hi = min(last + 1 + _HISTORY_REACH, len(norm.tokens))
    remote = _in_spans(ctx.remote_history, norm)
    recent = _in_spans(ctx.recent_history, norm)

    def cue_reaches(cues: set[int]) -> bool:
        for idx in cues:
            if lo <= idx < first and not _break_between(norm, ctx, idx, first):
                return True
            if last < idx < hi and not _break_between(norm, ctx, last, idx):
                return True
        return False

    if remote and cue_reaches(remote):
        return Level.NONE if category.remote_history == "suppress" else Level.URGENT
    if recent and category.recent_history == "urgent" and cue_reaches(recent):
        return min(category.level, Level.URGENT, key=lambda lv: lv.rank)
    return category.level


def _break_between(norm: Normalised, ctx: Context, a: int, b: int) -> bool:
    return any(tok in ctx.clause_breaks for tok in norm.tokens[a + 1 : b])
