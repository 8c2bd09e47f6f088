"""Load and validate the red-flag lexicon (YAML that supervisors edit) into compiled rules.

Rules are regexes over the canonical text of `nlu.triage.text`, written with two shorthands:
`@name` expands to the vocabulary entry `name`, and `~N` stands for up to N arbitrary words.
A `near` rule fires when all its terms occur, in any order, within a window of words.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nlu.triage.errors import LexiconError
from nlu.triage.model import Level

_VOCAB_REF = re.compile(r"@(\w+)")
_GAP = re.compile(r"\s*~(\d+)\s*")
_HISTORY_MODES = {"suppress", "urgent"}
_RECENT_MODES = {"urgent", "keep"}
_CATEGORY_KEYS = {
    "level", "description", "phrases", "patterns", "near", "examples", "not_examples",
    "remote_history", "recent_history", "urgent_within", "urgent_examples",
}
_CONTEXT_KEYS = {
    "negators", "negation_bridge", "pseudo_negation", "pseudo_negation_after", "clause_breaks",
    "remote_history", "recent_history", "benign",
}


@dataclass(frozen=True, slots=True)
class Category:
    """One red-flag category with its compiled rules and the examples that prove them."""

    name: str
    level: Level
    rules: tuple[re.Pattern[str], ...]
    examples: tuple[str, ...]
    not_examples: tuple[str, ...]
    remote_history: str
    recent_history: str
    # A match wholly inside one of these spans fires at `urgent` (for an emergent category):
    # "out of breath on the stairs" is a nurse's question, "out of breath" alone is not.
    urgent_within: re.Pattern[str] | None = None
    urgent_examples: tuple[str, ...] = ()
    # The index in `rules` of the first near rule (None: there is none); a near rule's
    # capturing groups are its later terms.
    near_from: int | None = None
    # All the rules as one alternation: a text it does not match fires none of them, so most
    # categories are ruled out with one scan instead of one per rule. None where the rules
    # cannot be joined safely (see `_any_of`).
    any_rule: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """Words and patterns that cancel or soften a match: negation, history, benign uses."""

    negators: frozenset[str]
    negation_bridge: frozenset[str]
    clause_breaks: frozenset[str]
    pseudo_negation: re.Pattern[str]
    pseudo_negation_after: re.Pattern[str]
    remote_history: re.Pattern[str]
    recent_history: re.Pattern[str]
    benign: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Lexicon:
    """A validated lexicon: context rules, categories, and lines that must never escalate."""

    source: str
    context: Context
    categories: tuple[Category, ...]
    must_not_escalate: tuple[str, ...]


def _fail(source: str, reason: str, category: str | None = None) -> LexiconError:
    return LexiconError(source, reason, category)


def _expand(pattern: str, vocab: dict[str, str], source: str, where: str | None) -> str:
    def ref(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in vocab:
            raise _fail(source, f"unknown vocabulary @{name} in {pattern!r}", where)
        return f"(?:{vocab[name]})"

    expanded = _VOCAB_REF.sub(ref, pattern.strip())
    return _GAP.sub(lambda m: rf"(?: \S+){{0,{m.group(1)}}} ", expanded)


def _compile(pattern: str, source: str, where: str | None) -> re.Pattern[str]:
    try:
        # Whitespace boundaries: canonical tokens are separated by single spaces.
        return re.compile(rf"(?<!\S)(?:{pattern})(?!\S)")
    except re.error as exc:
        raise _fail(source, f"regex {pattern!r} does not compile: {exc}", where) from exc


def _string_list(value: Any, field: str, source: str, where: str | None) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(source, f"{field} must be a list of non-empty strings", where)
    return [v.strip() for v in value]


def _phrase_regex(phrase: str) -> str:
    return r"\s+".join(re.escape(word) for word in phrase.lower().split())


def _near_regex(rule: Any, vocab: dict[str, str], source: str, where: str) -> str:
    if not isinstance(rule, dict) or set(rule) - {"terms", "within"}:
        raise _fail(source, "each near rule needs 'terms' (2-3 strings) and 'within'", where)
    terms = _string_list(rule.get("terms"), "near.terms", source, where)
    within = rule.get("within")
    if not 2 <= len(terms) <= 3 or not isinstance(within, int) or not 0 <= within <= 12:
        raise _fail(source, "near rule needs 2-3 terms and 'within' between 0 and 12", where)
    parts = [f"(?:{_expand(t, vocab, source, where)})" for t in terms]
    gap = rf"(?: \S+){{0,{within}}} "
    # Every term after the first is a group of its own: the engine looks for a negator before
    # each ("pregnant and there is no bleeding" negates the bleeding, not the pregnancy).
    orders = [
        gap.join([first, *(f"({term})" for term in rest)])
        for first, *rest in itertools.permutations(parts)
    ]
    return "|".join(orders)


def _category(
    name: str, body: Any, vocab: dict[str, str], source: str
) -> Category:
    if not isinstance(body, dict):
        raise _fail(source, "must be a mapping", name)
    unknown = set(body) - _CATEGORY_KEYS
    if unknown:
        raise _fail(source, f"unknown keys {sorted(unknown)}", name)
    try:
        level = Level(str(body.get("level")))
    except ValueError:
        raise _fail(
            source, f"level {body.get('level')!r} is not one of none, urgent, emergent", name
        ) from None
    if level is Level.NONE:
        raise _fail(source, "a red-flag category cannot have level 'none'", name)
    sources = [_phrase_regex(p) for p in _string_list(body.get("phrases"), "phrases", source, name)]
    sources += [
        _expand(p, vocab, source, name)
        for p in _string_list(body.get("patterns"), "patterns", source, name)
    ]
    near = body.get("near") or []
    if not isinstance(near, list):
        raise _fail(source, "near must be a list", name)
    near_from = len(sources)
    sources += [_near_regex(rule, vocab, source, name) for rule in near]
    if not sources:
        raise _fail(source, "has no phrases, patterns or near rules", name)
    examples = _string_list(body.get("examples"), "examples", source, name)
    if not examples:
        raise _fail(source, "needs at least one example that must fire", name)
    remote = body.get("remote_history", "suppress")
    recent = body.get("recent_history", "urgent")
    if remote not in _HISTORY_MODES or recent not in _RECENT_MODES:
        raise _fail(source, "remote_history must be suppress|urgent, recent_history urgent|keep",
                    name)
    milder = _string_list(body.get("urgent_within"), "urgent_within", source, name)
    milder_examples = _string_list(body.get("urgent_examples"), "urgent_examples", source, name)
    if milder and level is not Level.EMERGENT:
        raise _fail(source, "urgent_within is for emergent categories", name)
    if milder and not milder_examples:
        raise _fail(source, "urgent_within needs urgent_examples that prove it", name)
    return Category(
        name=name,
        level=level,
        rules=tuple(_compile(s, source, name) for s in sources),
        examples=tuple(examples),
        not_examples=tuple(_string_list(body.get("not_examples"), "not_examples", source, name)),
        remote_history=remote,
        recent_history=recent,
        urgent_within=_alternation(milder, vocab, source) if milder else None,
        urgent_examples=tuple(milder_examples),
        near_from=near_from if near else None,
        any_rule=_any_of(sources),
    )


# Group references and inline flags mean something else, or nothing, once patterns are joined.
_UNJOINABLE = re.compile(r"\\[1-9]|\(\?P[=<]|\(\?[aiLmsux]")


def _any_of(sources: list[str]) -> re.Pattern[str] | None:
    if any(_UNJOINABLE.search(source) for source in sources):
        return None
    try:
        return _compile("|".join(f"(?:{s})" for s in sources), "", None)
    except LexiconError:
        return None


def _alternation(items: list[str], vocab: dict[str, str], source: str) -> re.Pattern[str]:
    if not items:
        return re.compile(r"(?!x)x")  # an empty list matches nothing
    return _compile("|".join(f"(?:{_expand(i, vocab, source, None)})" for i in items), source,
                    None)


def _context(body: Any, vocab: dict[str, str], source: str) -> Context:
    if not isinstance(body, dict):
        raise _fail(source, "'context' must be a mapping")
    unknown = set(body) - _CONTEXT_KEYS
    if unknown:
        raise _fail(source, f"unknown context keys {sorted(unknown)}")

    def words(key: str) -> frozenset[str]:
        return frozenset(w.lower() for w in _string_list(body.get(key), key, source, None))

    def regex(key: str) -> re.Pattern[str]:
        return _alternation(_string_list(body.get(key), key, source, None), vocab, source)

    negators = words("negators")
    if not negators:
        raise _fail(source, "context.negators must not be empty")
    return Context(
        negators=negators,
        negation_bridge=words("negation_bridge"),
        clause_breaks=words("clause_breaks"),
        pseudo_negation=regex("pseudo_negation"),
        pseudo_negation_after=regex("pseudo_negation_after"),
        remote_history=regex("remote_history"),
        recent_history=regex("recent_history"),
        benign=regex("benign"),
    )


def parse_lexicon(data: Any, source: str) -> Lexicon:
    """Validate parsed YAML and compile it; raises LexiconError naming what is wrong."""
    if not isinstance(data, dict):
        raise _fail(source, "the file must hold a mapping with 'categories'")
    vocab_raw = data.get("vocab") or {}
    if not isinstance(vocab_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in vocab_raw.items()
    ):
        raise _fail(source, "'vocab' must map names to non-empty regex strings")
    vocab: dict[str, str] = {}
    for key, value in vocab_raw.items():  # later entries may use earlier ones
        vocab[key] = _expand(value, vocab, source, f"vocab.{key}")
        _compile(vocab[key], source, f"vocab.{key}")
    categories = data.get("categories")
    if not isinstance(categories, dict) or not categories:
        raise _fail(source, "'categories' must be a non-empty mapping")
    return Lexicon(
        source=source,
        context=_context(data.get("context") or {}, vocab, source),
        categories=tuple(_category(str(n), b, vocab, source) for n, b in categories.items()),
        must_not_escalate=tuple(
            _string_list(data.get("must_not_escalate"), "must_not_escalate", source, None)
        ),
    )


def read_triage_file(path: str | Path) -> Any:
    """Parse one of triage's YAML data files; unreadable or invalid YAML becomes LexiconError."""
    source = str(path)
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(source, f"cannot read the file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise _fail(source, f"not valid YAML: {exc}") from exc


def load_lexicon(path: str | Path) -> Lexicon:
    """Read a lexicon file; YAML errors and schema errors both become LexiconError."""
    return parse_lexicon(read_triage_file(path), str(path))
