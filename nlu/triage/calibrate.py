"""Choose the safety net's margin by cross-validation: `python -m nlu.triage.calibrate SETS`.

For every line of the given sets the lexicon is run first; the net is scored only where the
lexicon left the line at none without cancelling anything (exactly where it may act). The
rule: the smallest margin whose false alarms on the benign lines (none + tricky) stay within
the target. K-fold cross-validation (lines dealt to folds by a hash of their text, so the
split is stable) measures what that rule does on lines it did not see: each fold's margin is
chosen on the other folds and scored on it. The margin to ship is the rule applied to all
lines; write it into net_bank.yaml.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from nlu.triage.engine import TriageEngine
from nlu.triage.evaluate import Case, read_set
from nlu.triage.model import Level

_POSITIVE = {"emergent", "urgent", "escalate"}
_BENIGN = {"none", "tricky"}
GRID = [round(0.005 * i, 3) for i in range(0, 81)]  # margins 0.00 .. 0.40


@dataclass(frozen=True, slots=True)
class Scored:
    case: Case
    missed: bool  # a positive line the lexicon left at none
    margin: float | None  # the net's margin where it may act, else None

    def fires(self, margin: float) -> bool:
        return self.margin is not None and self.margin >= margin


def score_cases(engine: TriageEngine, cases: list[Case]) -> list[Scored]:
    assert engine.net is not None
    out = []
    for case in cases:
        result = engine.assess(case.text)
        acts = result.level is Level.NONE and not result.suppressed
        net = engine.net.score(case.text) if acts else None
        out.append(Scored(case, acts and case.label in _POSITIVE and result.level is Level.NONE,
                          None if net is None else net.margin))
    return out


def false_alarm_rate(lines: list[Scored], margin: float) -> float:
    benign = [s for s in lines if s.case.label in _BENIGN]
    return sum(s.fires(margin) for s in benign) / max(len(benign), 1)


def choose_margin(lines: list[Scored], target: float) -> float:
    """The smallest margin on the grid whose benign false-alarm rate is within the target."""
    for margin in GRID:
        if false_alarm_rate(lines, margin) <= target:
            return margin
    return GRID[-1]


def fold_of(case: Case, k: int) -> int:
    return int(hashlib.sha256(case.text.encode()).hexdigest(), 16) % k


@dataclass(frozen=True, slots=True)
class FoldResult:
    margin: float
    recovered: int
    missed: int
    false_alarms: int
    benign: int


def cross_validate(lines: list[Scored], k: int, target: float) -> list[FoldResult]:
    results = []
    for fold in range(k):
        train = [s for s in lines if fold_of(s.case, k) != fold]
        test = [s for s in lines if fold_of(s.case, k) == fold]
        margin = choose_margin(train, target)
        misses = [s for s in test if s.missed]
        benign = [s for s in test if s.case.label in _BENIGN]
        results.append(FoldResult(
            margin, sum(s.fires(margin) for s in misses), len(misses),
            sum(s.fires(margin) for s in benign), len(benign),
        ))  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.02,
                        help="false alarms allowed on benign lines (default 2 %%)")
    args = parser.parse_args(argv)
    engine = TriageEngine.default()
    if engine.net is None or not engine.net.warm_up():
        print("the safety net's model did not load", file=sys.stderr)
        return 1
    lines = [s for path in args.files for s in score_cases(engine, read_set(path))]
    folds = cross_validate(lines, args.folds, args.target)
    print("| fold | margin chosen on the other folds | lexicon misses recovered "
          "| benign false alarms |")
    print("|---|---|---|---|")
    for i, f in enumerate(folds):
        print(f"| {i + 1} | {f.margin:.3f} | {f.recovered}/{f.missed} "
              f"| {f.false_alarms}/{f.benign} |")
    rec, mis = sum(f.recovered for f in folds), sum(f.missed for f in folds)
    fa, ben = sum(f.false_alarms for f in folds), sum(f.benign for f in folds)
    print(f"| all | — | {rec}/{mis} ({100 * rec / max(mis, 1):.1f} %) "
          f"| {fa}/{ben} ({100 * fa / max(ben, 1):.1f} %) |")
    chosen = choose_margin(lines, args.target)
    print(f"\nmargin on all {len(lines)} lines: {chosen:.3f} "
          f"(bank now: {engine.net.bank.margin:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
