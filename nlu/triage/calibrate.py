"""Choose the safety net's thresholds, leaving one example file out at a time.

`python -m nlu.triage.calibrate [--target 0.01]`

The net compares a caller's sentence with the bank: hand-written descriptions and the labelled
example files listed in net_bank.yaml. Each example file was written by someone else, at
another time, in another style, so it stands in for callers nobody has heard yet: every line of
a file is scored against the bank *without that file* (and without the line itself).

For every line the lexicon runs first; the net is scored only where the lexicon left the line
at none without cancelling anything (exactly where the net may act). Three thresholds are
chosen together: `min_score` (the least cosine with a red-flag description), `margin` (by
how much it must beat the closest benign description) and `mild_margin` (how much more when the
caller plays it down: "a bit", "sometimes", "for years"). The rule: among the triples whose false
alarms on the benign lines (none + tricky) stay within the target, the one that recognises
most red-flag lines on its own (every emergent and urgent line, scored as if the lexicon had
missed it: the lines the lexicon will miss tomorrow are ones nobody wrote today). Each file's
figures come from thresholds chosen on the other files; the thresholds to ship are the rule
applied to all of them: write them into net_bank.yaml.

`--screen [--target 0.02]` does the same for the screening thresholds (`screen_min_score`,
`screen_margin`), the firing thresholds as shipped: among the lines neither the lexicon nor the
net flags and that have no symptom word, the pair that asks the screening question of most
red-flag lines while asking it of at most `target` more ordinary (`none`) lines.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

from nlu.triage.engine import TriageEngine
from nlu.triage.evaluate import Case, read_set
from nlu.triage.model import Level
from nlu.triage.net import HAND_WRITTEN, NetScore, SafetyNet

_POSITIVE = {"emergent", "urgent", "escalate"}
_BENIGN = {"none", "tricky"}
MIN_SCORES = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55)
MARGINS = tuple(round(0.01 * i, 2) for i in range(0, 21))  # 0.00 .. 0.20
MILD_MARGINS = (0.0, 0.05, 0.10, 0.15, 0.20, 0.30, 1.0)  # 1.0: a played-down line never fires
SCREEN_MIN_SCORES = (0.30, 0.35, 0.40, 0.45, 0.50)
SCREEN_MARGINS = tuple(round(-0.10 + 0.01 * i, 2) for i in range(11))  # -0.10 .. 0.00


@dataclass(frozen=True, slots=True)
class Scored:
    case: Case
    may_act: bool  # the lexicon left it at none and cancelled nothing
    net: NetScore | None
    symptom: bool = False  # symptom words: the screening question is asked anyway

    @property
    def positive(self) -> bool:
        return self.case.label in _POSITIVE

    @property
    def benign(self) -> bool:
        return self.case.label in _BENIGN


Thresholds = tuple[float, float, float]  # (min_score, margin, mild_margin)


def score_cases(engine: TriageEngine, cases: list[Case], origin: str) -> list[Scored]:
    """Each line as the lexicon and the net (without `origin`'s sentences) judge it."""
    assert engine.net is not None
    held_out = engine.net.score_held_out_all([case.text for case in cases], origin)
    out = []
    for case, net_score in zip(cases, held_out, strict=True):
        result = engine.assess(case.text)
        may_act = result.level is Level.NONE and not result.suppressed
        out.append(Scored(case, may_act, net_score, result.symptom))
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


ScreenThresholds = tuple[float, float]  # (screen_min_score, screen_margin)


def _unasked(net: SafetyNet, lines: list[Scored]) -> list[Scored]:
    """Lines no layer flags and no symptom word sends to the screening question."""
    return [s for s in lines if s.may_act and not s.symptom and not _fires_shipped(net, s)]


def _fires_shipped(net: SafetyNet, s: Scored) -> bool:
    return s.net is not None and net.fires(s.net)


def _near(net: SafetyNet, s: Scored, th: ScreenThresholds) -> bool:
    return s.net is not None and net.near(s.net, min_score=th[0], margin=th[1])


def screen_counts(
    net: SafetyNet, lines: list[Scored], th: ScreenThresholds
) -> tuple[int, int, int, int]:
    """(red-flag lines newly asked, red-flag lines nothing asked, ordinary lines newly asked,
    ordinary lines)."""
    left = _unasked(net, lines)
    red = [s for s in left if s.positive]
    ordinary = sum(s.case.label == "none" for s in lines)
    asked = sum(_near(net, s, th) for s in left if s.case.label == "none")
    return sum(_near(net, s, th) for s in red), len(red), asked, ordinary


def choose_screen(net: SafetyNet, lines: list[Scored], target: float) -> ScreenThresholds:
    best: tuple[int, int, float, float] | None = None
    for th in itertools.product(SCREEN_MIN_SCORES, SCREEN_MARGINS):
        caught, _, asked, ordinary = screen_counts(net, lines, th)
        if asked > target * ordinary:
            continue
        key = (caught, -asked, *th)  # ties: fewer ordinary callers asked, then stricter
        if best is None or key > best:
            best = key
    return (best[2], best[3]) if best is not None else (1.0, 1.0)


def _report_screen(net: SafetyNet, scored: dict[str, list[Scored]], target: float) -> None:
    print("| left out | screen_min_score, screen_margin (chosen on the other files) "
          "| red-flag lines nothing asked, now asked | ordinary lines newly asked |")
    print("|---|---|---|---|")
    totals = [0, 0, 0, 0]
    for origin, test in scored.items():
        train = [s for other, lines in scored.items() if other != origin for s in lines]
        th = choose_screen(net, train, target)
        counts = screen_counts(net, test, th)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        print(f"| {Path(origin).name} | {th[0]:.2f}, {th[1]:.2f} | {counts[0]}/{counts[1]} "
              f"| {counts[2]}/{counts[3]} |")
    c, n, a, o = totals
    print(f"| all | — | {c}/{n} | {a}/{o} ({100 * a / max(o, 1):.1f} %) |")
    th = choose_screen(net, [s for group in scored.values() for s in group], target)
    bank = net.bank
    print(f"\nchosen on all: screen_min_score {th[0]:.2f}, screen_margin {th[1]:.2f} "
          f"(bank now: {bank.screen_min_score:.2f}, {bank.screen_margin:.2f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", type=float, default=None,
                        help="false alarms allowed on benign lines (default 1 %%), or with "
                        "--screen more ordinary lines asked (default 2 %%)")
    parser.add_argument("--screen", action="store_true",
                        help="choose the screening thresholds instead of the firing ones")
    args = parser.parse_args(argv)
    engine = TriageEngine.default()
    net = engine.net
    if net is None or not net.warm_up():
        print("the safety net's model did not load", file=sys.stderr)
        return 1
    bank_dir = Path(net.bank.source).parent
    every = net.bank.description_origins + net.bank.benign_origins
    origins = list(dict.fromkeys(o for o in every if o != HAND_WRITTEN))
    # Answers to the bot's own questions are formulaic: tomorrow's date of birth sounds like the
    # file's, which is always in the bank. Each is scored against the bank without itself only.
    scored = {
        o: score_cases(engine, read_set(bank_dir / o), "" if o in net.bank.answer_files else o)
        for o in origins
    }
    if args.screen:
        # Answers to the identity questions are never asked the screening question by the net.
        asked = {o: lines for o, lines in scored.items() if o not in net.bank.answer_files}
        _report_screen(net, asked, 0.02 if args.target is None else args.target)
        return 0
    args.target = 0.01 if args.target is None else args.target
    print("| left out | min_score, margin, mild_margin (chosen on the other files) "
          "| red-flag lines recognised alone | lexicon misses recovered | benign false alarms |")
    print("|---|---|---|---|---|")
    totals = [0, 0, 0, 0, 0, 0]
    for origin, test in scored.items():
        train = [s for other, lines in scored.items() if other != origin for s in lines]
        th = choose(net, train, args.target)
        alone = standalone_recall(net, test, th)
        misses = [s for s in test if s.positive and s.may_act]
        recovered = sum(_fires(net, s, th) for s in misses)
        wrong = false_alarms(net, test, th)
        for i, v in enumerate((*alone, recovered, len(misses), *wrong)):
            totals[i] += v
        print(f"| {Path(origin).name} | {th[0]:.2f}, {th[1]:.2f}, {th[2]:.2f} "
              f"| {alone[0]}/{alone[1]} | {recovered}/{len(misses)} | {wrong[0]}/{wrong[1]} |")
    a, n, r, m, w, b = totals
    print(f"| all | — | {a}/{n} ({100 * a / max(n, 1):.1f} %) | {r}/{m} "
          f"| {w}/{b} ({100 * w / max(b, 1):.1f} %) |")
    lines = [s for group in scored.values() for s in group]
    th = choose(net, lines, args.target)
    bank = net.bank
    print(f"\nchosen on all {len(lines)} lines: min_score {th[0]:.2f}, margin {th[1]:.2f}, "
          f"mild_margin {th[2]:.2f} (bank now: {bank.min_score:.2f}, {bank.margin:.2f}, "
          f"{bank.mild_margin:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
