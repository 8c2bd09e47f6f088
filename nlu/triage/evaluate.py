"""Measure the triage engine on a labelled TSV: `python -m nlu.triage.evaluate FILE.tsv`.

Labels: emergent (must be emergent), escalate or urgent (urgent or emergent), none and
tricky (must stay none; tricky lines carry alarming words and are counted apart).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from nlu.triage.engine import TriageEngine
from nlu.triage.model import Level

_ESCALATE = {"escalate", "urgent"}
_BENIGN = {"none", "tricky"}


@dataclass
class Report:
    """Counts per label, and the lines the engine got wrong."""

    totals: dict[str, int] = field(default_factory=dict)
    correct: dict[str, int] = field(default_factory=dict)
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    mean_ms: float = 0.0

    def rate(self, *labels: str) -> tuple[int, int]:
        return (sum(self.correct.get(lb, 0) for lb in labels),
                sum(self.totals.get(lb, 0) for lb in labels))


def read_cases(path: Path) -> list[tuple[str, str]]:
    """(label, text) pairs; comment and blank lines are skipped."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, _, text = line.partition("\t")
        cases.append((label.strip().lower(), text.strip()))
    return cases


def _is_correct(label: str, level: Level) -> bool:
    if label == "emergent":
        return level is Level.EMERGENT
    if label in _ESCALATE:
        return level is not Level.NONE
    return level is Level.NONE


def evaluate(engine: TriageEngine, cases: list[tuple[str, str]]) -> Report:
    report = Report()
    started = time.perf_counter()
    for label, text in cases:
        result = engine.assess(text)
        report.totals[label] = report.totals.get(label, 0) + 1
        if _is_correct(label, result.level):
            report.correct[label] = report.correct.get(label, 0) + 1
        else:
            report.misses.append((label, str(result.level), text))
    report.mean_ms = (time.perf_counter() - started) * 1000 / max(len(cases), 1)
    return report


def _line(name: str, pair: tuple[int, int], *, wrong: bool = False) -> str:
    ok, total = pair
    value = total - ok if wrong else ok
    pct = 100.0 * value / total if total else 0.0
    return f"{name:<28} {value:>3}/{total:<3} {pct:6.1f} %"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--lexicon", type=Path, default=None)
    args = parser.parse_args(argv)
    engine = TriageEngine.from_file(args.lexicon) if args.lexicon else TriageEngine.default()
    report = evaluate(engine, read_cases(args.file))
    print(_line("emergent recall", report.rate("emergent")))
    print(_line("escalate recall (>= urgent)", report.rate("emergent", *_ESCALATE)))
    print(_line("false alarms (none)", report.rate("none"), wrong=True))
    print(_line("false alarms (tricky)", report.rate("tricky"), wrong=True))
    print(_line("false alarms (all benign)", report.rate(*_BENIGN), wrong=True))
    print(f"{'mean assess() time':<28} {report.mean_ms:.3f} ms")
    for label, level, text in report.misses:
        print(f"MISS\t{label}\tgot {level}\t{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
