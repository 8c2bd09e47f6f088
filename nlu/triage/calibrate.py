"""Choose the safety net's thresholds by cross-validation: `python -m nlu.triage.calibrate SETS`.

For every line the lexicon runs first; the net is scored only where the lexicon left the line
at none without cancelling anything (exactly where the net may act). Three thresholds are
chosen together: `min_score` (the least cosine with a red-flag description), `margin` (by
how much it must beat the closest benign description) and `mild_margin` (how much more when the
caller plays it down: "a bit", "sometimes", "for years"). The rule: among the triples whose false
alarms on the benign lines (none + tricky) stay within the target, the one that recognises
most red-flag lines on its own (every emergent and urgent line, scored as if the lexicon had
missed it: the lines the lexicon will miss tomorrow are ones nobody wrote today). K-fold
cross-validation (lines dealt to folds by a hash of their text, so the split is stable)
measures that rule on lines it did not see. The thresholds to ship are the rule applied to
all lines; write them into net_bank.yaml.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

from nlu.triage.engine import TriageEngine
from nlu.triage.evaluate import Case, read_set
from nlu.triage.model import Level
from nlu.triage.net import NetScore, SafetyNet

_POSITIVE = {"emergent", "urgent", "escalate"}
_BENIGN = {"none", "tricky"}
MIN_SCORES = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55)
MARGINS = tuple(round(0.01 * i, 2) for i in range(0, 21))  # 0.00 .. 0.20
MILD_MARGINS = (0.0, 0.05, 0.10, 0.15, 0.20, 0.30, 1.0)  # 1.0: a played-down line never fires


@dataclass(frozen=True, slots=True)
class Scored:
    case: Case
    may_act: bool  # the lexicon left it at none and cancelled nothing
    net: NetScore | None

    @property
    def positive(self) -> bool:
        return self.case.label in _POSITIVE

    @property
    def benign(self) -> bool:
        return self.case.label in _BENIGN


Thresholds = tuple[float, float, float]  # (min_score, margin, mild_margin)


def score_cases(engine: TriageEngine, cases: list[Case]) -> list[Scored]:
    assert engine.net is not None
    out = []
    for case in cases:
        result = engine.assess(case.text)
        may_act = result.level is Level.NONE and not result.suppressed
        out.append(Scored(case, may_act, engine.net.score(case.text)))
    return out


def _fires(net: SafetyNet, s: Scored, th: Thresholds) -> bool:
    return s.net is not None and net.fires(s.net, margin=th[1], min_score=th[0],
                                           mild_margin=th[2])


def false_alarms(net: SafetyNet, lines: list[Scored], th: Thresholds) -> tuple[int, int]:
    benign = [s for s in lines if s.benign]
    return sum(s.may_act and _fires(net, s, th) for s in benign), len(benign)


def standalone_recall(net: SafetyNet, lines: list[Scored], th: Thresholds) -> tuple[int, int]:
    positive = [s for s in lines if s.positive]
    return sum(_fires(net, s, th) for s in positive), len(positive)


def choose(net: SafetyNet, lines: list[Scored], target: float) -> Thresholds:
    best: tuple[int, float, Thresholds] | None = None
    for th in itertools.product(MIN_SCORES, MARGINS, MILD_MARGINS):
        wrong, benign = false_alarms(net, lines, th)
        if wrong > target * benign:
            continue
        caught = standalone_recall(net, lines, th)[0]
        key = (caught, sum(th), th)  # ties: the stricter thresholds
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best is not None else (MIN_SCORES[-1], MARGINS[-1], MILD_MARGINS[-1])


def fold_of(case: Case, k: int) -> int:
    return int(hashlib.sha256(case.text.encode()).hexdigest(), 16) % k


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.02,
                        help="false alarms allowed on benign lines (default 2 %%)")
    args = parser.parse_args(argv)
    engine = TriageEngine.default()
    net = engine.net
    if net is None or not net.warm_up():
        print("the safety net's model did not load", file=sys.stderr)
        return 1
    lines = [s for path in args.files for s in score_cases(engine, read_set(path))]
    print("| fold | min_score, margin, mild_margin (chosen on the other folds) "
          "| red-flag lines recognised alone | lexicon misses recovered | benign false alarms |")
    print("|---|---|---|---|---|")
    totals = [0, 0, 0, 0, 0, 0]
    for fold in range(args.folds):
        train = [s for s in lines if fold_of(s.case, args.folds) != fold]
        test = [s for s in lines if fold_of(s.case, args.folds) == fold]
        th = choose(net, train, args.target)
        alone = standalone_recall(net, test, th)
        misses = [s for s in test if s.positive and s.may_act]
        recovered = sum(_fires(net, s, th) for s in misses)
        wrong = false_alarms(net, test, th)
        for i, v in enumerate((*alone, recovered, len(misses), *wrong)):
            totals[i] += v
        print(f"| {fold + 1} | {th[0]:.2f}, {th[1]:.2f}, {th[2]:.2f} | {alone[0]}/{alone[1]} "
              f"| {recovered}/{len(misses)} | {wrong[0]}/{wrong[1]} |")
    a, n, r, m, w, b = totals
    print(f"| all | — | {a}/{n} ({100 * a / max(n, 1):.1f} %) | {r}/{m} "
          f"| {w}/{b} ({100 * w / max(b, 1):.1f} %) |")
    th = choose(net, lines, args.target)
    bank = net.bank
    print(f"\nchosen on all {len(lines)} lines: min_score {th[0]:.2f}, margin {th[1]:.2f}, "
          f"mild_margin {th[2]:.2f} (bank now: {bank.min_score:.2f}, {bank.margin:.2f}, "
          f"{bank.mild_margin:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
