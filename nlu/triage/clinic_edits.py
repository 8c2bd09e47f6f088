"""A clinic's own red-flag words on top of the shipped lexicon, and the regression that gates them.

Supervisors add phrases (plain words) or patterns (regular expressions) to a category; the
shipped `lexicon.yaml` stays as it is, and the clinic's additions are applied on top of it
(`with_edits`). Before an addition is kept, `regress` compares the lexicon with and without it
on every labelled set the project has (`examples/`, the shared development set): an addition
that loses a red flag the lexicon caught, or that raises a line that must stay quiet, is refused
with the lines it broke. The comparison runs in a child process with a time limit
(`python -m nlu.triage.clinic_edits`), so a pattern that backtracks without end costs a refusal,
not a server.

Edits are JSON: ``{"category": [{"phrase": "..."} | {"pattern": "..."}, ...], ...}``; the key
``benign`` adds to the phrases whose words are not a red flag ("the stroke clinic").
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlu.triage.engine import DEFAULT_LEXICON, TriageEngine
from nlu.triage.errors import LexiconError
from nlu.triage.evaluate import Case, read_set
from nlu.triage.lexicon import Lexicon, parse_lexicon, read_triage_file
from nlu.triage.model import Level
from nlu.triage.net import DEFAULT_BANK
from nlu.triage.text import normalise

EXAMPLES = DEFAULT_BANK.with_name("examples")
BENIGN = "benign"  # the edits' key for words that are not a red flag
# Lines whose label says the lexicon must raise them (to at least this level) or leave them.
_RED = {"emergent": Level.EMERGENT, "urgent": Level.URGENT, "escalate": Level.URGENT}
_QUIET = {"none", "tricky"}
MAX_ENTRY_CHARS = 300
MAX_ENTRIES = 500
# Inputs a pattern must get through quickly: long runs of one word or letter are what make a
# careless regex backtrack for minutes.
_STRESS = tuple(
    " ".join([word] * n) for word in ("a", "my chest", "can not", "aaaa") for n in (40, 400)
) + ("a" * 5000, "pain " * 1000)

Edits = dict[str, list[dict[str, str]]]


def phrase_of(words: str) -> str:
    """A supervisor's words as the lexicon sees a caller's: lowercase, no punctuation,
    contractions expanded ("Can't breathe!" -> "cannot breathe"), so that the phrase matches."""
    return normalise(words).text


def check_edits(raw: Any) -> Edits:
    """The edits as stored, or LexiconError saying what is malformed."""
    if not isinstance(raw, dict):
        raise LexiconError("clinic edits", "must map category names to lists of entries")
    edits: Edits = {}
    count = 0
    for category, entries in raw.items():
        if not isinstance(category, str) or not isinstance(entries, list):
            raise LexiconError("clinic edits", "must map category names to lists of entries")
        for entry in entries:
            if (
                not isinstance(entry, dict)
                or len(entry) != 1
                or next(iter(entry)) not in ("phrase", "pattern")
                or not isinstance(next(iter(entry.values())), str)
            ):
                raise LexiconError("clinic edits", 'each entry is {"phrase": …} or {"pattern": …}')
            words = next(iter(entry.values()))
            if not words.strip() or len(words) > MAX_ENTRY_CHARS:
                raise LexiconError(
                    "clinic edits", f"an entry has 1..{MAX_ENTRY_CHARS} characters", category
                )
            count += 1
        edits[category] = [dict(e) for e in entries]
    if count > MAX_ENTRIES:
        raise LexiconError("clinic edits", f"at most {MAX_ENTRIES} entries")
    return edits


def with_edits(edits: Mapping[str, Sequence[Mapping[str, str]]], base: Path = DEFAULT_LEXICON,
               source: str = "clinic edits") -> Lexicon:
    """The shipped lexicon with the clinic's additions; LexiconError names a bad one."""
    data = copy.deepcopy(read_triage_file(base))
    categories = data.get("categories") or {}
    for category, entries in edits.items():
        if category == BENIGN:
            context = data.setdefault("context", {})
            context["benign"] = [*context.get("benign", []), *(
                re.escape(words) if kind == "phrase" else words
                for entry in entries for kind, words in entry.items()
            )]  # fmt: skip
            continue
        if category not in categories:
            raise LexiconError(source, f"there is no category {category!r}")
        body = categories[category]
        for entry in entries:
            kind, words = next(iter(entry.items()))
            key = "phrases" if kind == "phrase" else "patterns"
            body.setdefault(key, [])
            body[key] = [*body[key], words]
    return parse_lexicon(data, source)


def categories_of(base: Path = DEFAULT_LEXICON) -> list[dict[str, str]]:
    """The lexicon's categories as supervisors pick them: name, level, what it is about."""
    return [dict(c) for c in _categories(base)]


@functools.cache
def _categories(base: Path) -> tuple[dict[str, str], ...]:
    # Read once per process: the shipped file changes with a release, not while serving.
    data = read_triage_file(base)
    return tuple(
        {"name": str(name), "level": str(body.get("level", "")),
         "description": str(body.get("description", ""))}
        for name, body in (data.get("categories") or {}).items()
    )  # fmt: skip


@dataclass
class Regression:
    """What an edit would change on the labelled sets, line by line."""

    lines: int = 0
    lost: list[dict[str, str]] = field(default_factory=list)  # red flags no longer caught
    new_alarms: list[dict[str, str]] = field(default_factory=list)  # quiet lines now raised
    gained: int = 0  # red-flag lines caught (or caught higher) that were not before

    @property
    def passed(self) -> bool:
        return not self.lost and not self.new_alarms

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines, "passed": self.passed, "gained": self.gained,
            "lost": self.lost[:50], "lost_count": len(self.lost),
            "new_alarms": self.new_alarms[:50], "new_alarm_count": len(self.new_alarms),
        }  # fmt: skip


def labelled_sets(extra: Iterable[Path] = ()) -> list[Case]:
    """Every labelled line the project holds: its example sets and any EXTRA file."""
    cases: list[Case] = []
    for path in [*sorted(EXAMPLES.glob("*.tsv")), *extra]:
        if path.exists():
            cases += read_set(path)
    return cases


def regress(old: TriageEngine, new: TriageEngine, cases: Sequence[Case]) -> Regression:
    """Compare the lexicon before (OLD) and after (NEW) an edit on CASES (the lexicon alone:
    the layer that decides, and the one every partial transcript gets)."""
    report = Regression(lines=len(cases))
    levels = old.levels_beside(new, (case.text for case in cases))
    for case, (was, now) in zip(cases, levels, strict=True):
        line = {"label": case.label, "text": case.text, "was": was.value, "now": now.value}
        if case.label in _RED:
            if now.rank < was.rank:
                report.lost.append(line)
            elif now.rank > was.rank:
                report.gained += 1
        elif case.label in _QUIET and now.rank > was.rank:
            report.new_alarms.append(line)
    return report


def stress(engine: TriageEngine) -> None:
    """Run every rule over the inputs that make careless patterns backtrack (the caller's
    time limit is what catches one that never ends)."""
    for text in _STRESS:
        engine.assess(text)


def main(argv: list[str] | None = None) -> int:
    """Read {"before": edits, "after": edits} on stdin, print the regression as JSON."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--extra", action="append", default=[], type=Path,
                        help="another labelled set (label<TAB>text), e.g. the shared dev set")
    parser.add_argument("--base", type=Path, default=DEFAULT_LEXICON,
                        help="the lexicon the edits go on top of (default: the shipped one)")
    args = parser.parse_args(argv)
    request = json.load(sys.stdin)
    try:
        published = check_edits(request["before"])
        old = TriageEngine(with_edits(published, args.base, source="published edits"))
        # Built, the new lexicon has passed its own self-test: every example still fires.
        new = TriageEngine(with_edits(check_edits(request["after"]), args.base, "this edit"))
        stress(new)
    except LexiconError as exc:
        print(json.dumps({"error": str(exc)}))
        return 0
    print(json.dumps(regress(old, new, labelled_sets(args.extra)).to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
