"""The triage engine: run the lexicon over a transcript and decide the level.

A rule match counts unless it is negated ("no chest pain"), told as remote history ("had a
stroke years ago"), or part of a benign phrase ("stroke clinic"). Recent history ("fainted
yesterday") is softened to urgent. Deterministic, and fast enough for every partial transcript.
On final transcripts a semantic net (`nlu.triage.net`) may raise what no rule caught to urgent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from nlu.triage.errors import LexiconError
from nlu.triage.lexicon import Category, Context, Lexicon, load_lexicon
from nlu.triage.model import Flag, Level, TriageResult
from nlu.triage.net import DEFAULT_BANK, SafetyNet, load_bank
from nlu.triage.symptoms import DEFAULT_SYMPTOMS, SymptomSignal, load_symptoms
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

    def __init__(
        self,
        lexicon: Lexicon,
        *,
        symptoms: SymptomSignal | None = None,
        net: SafetyNet | None = None,
    ) -> None:
        self.lexicon = lexicon
        self.symptoms = symptoms
        self.net = net
        self._self_test()

    @classmethod
    def default(cls) -> TriageEngine:
        """The shipped lexicon, symptom words and safety net (its model loads on first use)."""
        return cls.from_file(DEFAULT_LEXICON)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        symptoms: str | Path | None = DEFAULT_SYMPTOMS,
        net_bank: str | Path | None = DEFAULT_BANK,
    ) -> TriageEngine:
        """Load, validate and self-test a lexicon file (raises LexiconError).

        The shipped symptom words and safety-net bank come along unless set to None.
        """
        return cls(
            load_lexicon(path),
            symptoms=load_symptoms(symptoms) if symptoms is not None else None,
            net=SafetyNet(load_bank(net_bank)) if net_bank is not None else None,
        )

    def use_lexicon(self, lexicon: Lexicon) -> None:
        """Decide with LEXICON from the next sentence on (a clinic's published edits). It must
        pass the same self-test first; on LexiconError the lexicon in use stays."""
        TriageEngine(lexicon, symptoms=self.symptoms)
        self.lexicon = lexicon

    @property
    def categories(self) -> list[str]:
        return [c.name for c in self.lexicon.categories]

    def assess(self, text: str) -> TriageResult:
        """The lexicon's verdict, whether a rule was suppressed, and the symptom signal.

        Deterministic and synchronous: this is what screens every partial transcript.
        """
        norm = normalise(text)
        ctx = self.lexicon.context
        benign = [m.span() for m in ctx.benign.finditer(norm.text)]
        flags: list[Flag] = []
        suppressed = False
        for category in self.lexicon.categories:
            flag, cancelled = self._first_flag(category, norm, ctx, benign)
            suppressed = suppressed or cancelled
            if flag is not None:
                flags.append(flag)
        level = max((f.level for f in flags), key=lambda lv: lv.rank, default=Level.NONE)
        symptom, symptom_negated = self._symptom_words(norm, ctx, benign)
        return TriageResult(
            text=text,
            level=level,
            flags=tuple(flags),
            suppressed=suppressed or symptom_negated,
            symptom=symptom,
        )

    def levels_beside(
        self, edited: TriageEngine, texts: Iterable[str]
    ) -> Iterator[tuple[Level, Level]]:
        """The lexicon's level for each text here and with `edited` (this lexicon after an
        edit). An edit touches a few of some forty categories: those the two lexicons hold
        alike are run once for both, which halves the work of trying an edit on every
        labelled sentence."""
        if self.lexicon.context != edited.lexicon.context:  # every match may change
            for text in texts:
                yield self.assess(text).level, edited.assess(text).level
            return
        ours = {c.name: c for c in self.lexicon.categories}
        theirs = {c.name: c for c in edited.lexicon.categories}
        alike = [c for name, c in ours.items() if theirs.get(name) == c]
        before = [c for name, c in ours.items() if theirs.get(name) != c]
        after = [c for name, c in theirs.items() if ours.get(name) != c]
        ctx = self.lexicon.context
        for text in texts:
            norm = normalise(text)
            benign = [m.span() for m in ctx.benign.finditer(norm.text)]
            common = self._level(alike, norm, ctx, benign)
            yield (
                _higher(common, self._level(before, norm, ctx, benign)),
                _higher(common, self._level(after, norm, ctx, benign)),
            )

    def _level(
        self, categories: list[Category], norm: Normalised, ctx: Context,
        benign: list[tuple[int, int]],
    ) -> Level:
        level = Level.NONE
        for category in categories:
            flag, _ = self._first_flag(category, norm, ctx, benign)
            if flag is not None:
                level = _higher(level, flag.level)
        return level

    def assess_final(self, text: str, *, answering: bool = False) -> TriageResult:
        """A final transcript: the lexicon first, then the semantic net where nothing fired.

        The net may only raise `none` to `urgent`, and stays silent where the lexicon
        suppressed a match on purpose (negation, history, a benign phrase). Without a net,
        or when its model cannot load, this is `assess`. `answering`: the words answer the
        question for the caller's name or date of birth (`SafetyNet.match` asks more words).
        """
        result = self.assess(text)
        # "No fever", "history of seizures", "stroke clinic": embeddings cannot tell these
        # from the real thing, so where the rules cancelled words on purpose the net is quiet.
        if self.net is None or result.level is not Level.NONE or result.suppressed:
            return result
        verdict = self.net.verdict(text, answering=answering)
        if verdict is None:
            return result
        if verdict.near:
            return replace(result, near=verdict.match)
        if not verdict.fires:
            return result
        match = verdict.match
        flag = Flag(match.category, Level.URGENT, match.description, source="net")
        return replace(result, level=Level.URGENT, flags=(flag,), net=match)

    def _symptom_words(
        self, norm: Normalised, ctx: Context, benign: list[tuple[int, int]]
    ) -> tuple[bool, bool]:
        """Whether a symptom is described, and whether a symptom word was negated."""
        if self.symptoms is None:
            return False, False
        exclusions = benign + self.symptoms.excluded_spans(norm.text)
        described = negated = False
        for start, end in self.symptoms.matches(norm.text):
            if any(b0 <= start and end <= b1 for b0, b1 in exclusions):
                continue
            first, last = norm.token_at(start), norm.token_at(max(end - 1, start))
            if _negated(norm, ctx, first, last):
                negated = True
            else:
                described = True
        return described, negated

    def _first_flag(
        self, category: Category, norm: Normalised, ctx: Context, benign: list[tuple[int, int]]
    ) -> tuple[Flag | None, bool]:
        """The category's flag on this text, and whether a match of it was cancelled."""
        if category.any_rule is not None and category.any_rule.search(norm.text) is None:
            return None, False
        softened: Flag | None = None
        cancelled = False
        milder = (
            [m.span() for m in category.urgent_within.finditer(norm.text)]
            if category.urgent_within is not None
            else []
        )
        for index, rule in enumerate(category.rules):
            near = category.near_from is not None and index >= category.near_from
            for match in rule.finditer(norm.text):
                start, end = match.span()
                if any(b0 <= start and end <= b1 for b0, b1 in benign):
                    cancelled = True
                    continue
                first, last = norm.token_at(start), norm.token_at(max(end - 1, start))
                if near:
                    kept = _without_negated_terms(norm, ctx, match)
                    if kept is None:
                        cancelled = True
                        continue
                    match = kept
                    start, end = match.span()
                    first, last = norm.token_at(start), norm.token_at(max(end - 1, start))
                if _negated(norm, ctx, first, last):
                    cancelled = True
                    continue
                level = _history_level(category, norm, ctx, first, last)
                if level is Level.NONE:
                    cancelled = True
                    continue
                if any(m0 <= start and end <= m1 for m0, m1 in milder):
                    level = min(level, Level.URGENT, key=lambda lv: lv.rank)
                flag = Flag(category.name, level, norm.raw_span(first, last))
                if level is category.level:
                    return flag, cancelled
                softened = softened or flag
        return softened, cancelled

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
            for example in category.urgent_examples:
                flags = [f for f in self.assess(example).flags if f.category == category.name]
                if not flags or flags[0].level is not Level.URGENT:
                    raise LexiconError(source, f"urgent example {example!r} does not fire "
                                       "at urgent", category.name)
        if self.symptoms is not None:
            self._self_test_symptoms(self.symptoms)
        for line in self.lexicon.must_not_escalate:
            result = self.assess(line)
            if result.level is not Level.NONE:
                raise LexiconError(source, f"{line!r} must not escalate but fires "
                                   f"{result.categories}")


    def _self_test_symptoms(self, symptoms: SymptomSignal) -> None:
        for example in symptoms.examples:
            if not self.assess(example).symptom:
                raise LexiconError(symptoms.source, f"example {example!r} is not a symptom")
        for counter in symptoms.not_examples:
            if self.assess(counter).symptom:
                raise LexiconError(symptoms.source, f"counter-example {counter!r} is a symptom")


def _in_spans(pattern: re.Pattern[str], norm: Normalised) -> set[int]:
    tokens: set[int] = set()
    for match in pattern.finditer(norm.text):
        first = norm.token_at(match.start())
        last = norm.token_at(max(match.end() - 1, match.start()))
        tokens.update(range(first, last + 1))
    return tokens


def _without_negated_terms(
    norm: Normalised, ctx: Context, match: re.Match[str]
) -> re.Match[str] | None:
    """A near rule's match whose later terms are not negated: "pregnant and there is no
    bleeding" is not one (its groups are the terms after the first, see
    `lexicon._near_regex`). The rule is tried again short of a negated term, so that "12 weeks
    pregnant and spotting, no pain" keeps the spotting."""
    while True:
        negated_at = next(
            (
                start
                for group in range(1, (match.re.groups or 0) + 1)
                for start, end in [match.span(group)]
                if start >= 0
                and _negated(norm, ctx, norm.token_at(start), norm.token_at(max(end - 1, start)))
            ),
            None,
        )
        if negated_at is None:
            return match
        shorter = match.re.search(norm.text, match.start(), negated_at)
        if shorter is None:
            return None
        match = shorter


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

    def cue_reaches(cues: set[int], inside: bool = False) -> bool:
        for idx in cues:
            if inside and first <= idx <= last:  # "a bee sting last summer that swelled"
                return True
            if lo <= idx < first and not _break_between(norm, ctx, idx, first) \
                    and not _clause_now_between(norm.tokens, idx, first):
                return True
            if last < idx < hi and not _break_between(norm, ctx, last, idx) \
                    and not _clause_of_its_own_between(norm.tokens, last, idx):
                return True
        return False

    if remote and cue_reaches(remote, inside=True):
        return Level.NONE if category.remote_history == "suppress" else Level.URGENT
    if recent and category.recent_history == "urgent" and cue_reaches(recent):
        return min(category.level, Level.URGENT, key=lambda lv: lv.rank)
    return category.level


# A symptom told as back again is now, whatever history came before it: "had a stent put in
# last year and the chest pain's come back, his spray isn't working" was history.
_BACK_AGAIN = frozenset({
    ("come", "back"), ("came", "back"), ("coming", "back"), ("comes", "back"),
    ("is", "back"), ("are", "back"), ("back", "again"), ("has", "returned"),
})  # fmt: skip


def _break_between(norm: Normalised, ctx: Context, a: int, b: int) -> bool:
    between = norm.tokens[a + 1 : b]
    return any(tok in ctx.clause_breaks for tok in between) or any(
        pair in _BACK_AGAIN for pair in zip(between, between[1:], strict=False)
    )


# Transcripts have no commas, so a clause with a subject of its own is found by its words.
_SUBJECTS = frozenset({"i", "he", "she", "they", "we"})
_PAST = frozenset({"had", "got", "was", "were"})
_SAME_THING = frozenset({"one", "it", "them", "that", "those", "these", "some", "this"})
_PRESENT = frozenset({"is", "are", "am", "keeps", "keep", "cannot", "will", "can"})


def _clause_of_its_own_between(tokens: Sequence[str], last: int, cue: int) -> bool:
    """A time told after the match belongs to a later clause with its own subject and
    object: "holding his chest he had a bypass a few years back" (the bypass is the past,
    not the chest) — but not "the chest pain he had a few years back"."""
    for k in range(last + 1, cue - 1):
        if tokens[k] not in _SUBJECTS:
            continue
        verb = k + 1
        if tokens[verb] in {"has", "have"} and verb + 1 < cue and tokens[verb + 1] == "had":
            verb += 1
        # "... had one as a kid": "one", "it" name the same thing, not something else.
        if tokens[verb] in _PAST and verb + 1 < cue and tokens[verb + 1] not in _SAME_THING:
            return True
    return False


def _clause_now_between(tokens: Sequence[str], cue: int, first: int) -> bool:
    """A time told before the match that a new clause in the present follows: "had her
    tonsils out last week and she is spitting out blood"."""
    return any(
        tokens[k] in _SUBJECTS and tokens[k + 1] in _PRESENT and (k == 0 or tokens[k - 1] != "that")
        for k in range(cue + 1, first - 1)
    )


def _higher(a: Level, b: Level) -> Level:
    return a if a.rank >= b.rank else b
