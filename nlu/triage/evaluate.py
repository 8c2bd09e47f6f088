"""Measure triage per layer on labelled sets: `python -m nlu.triage.evaluate FILE.tsv ...`.

Lines are `label<TAB>text` or `label<TAB>category<TAB>text`. Labels: emergent (must be
emergent, and at the very least urgent), escalate or urgent (urgent or emergent), none and
tricky (must stay none; tricky lines carry alarming words and are counted apart).

Three layers are reported on every set: the lexicon alone (`assess`, what partial transcripts
get), the semantic net alone on what the lexicon left at none, and both together
(`assess_final`, what final transcripts get).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nlu.triage.engine import TriageEngine
from nlu.triage.model import Level, TriageResult

_ESCALATE = {"escalate", "urgent"}
_BENIGN = {"none", "tricky"}
LAYERS = ("lexicon", "net", "together")


@dataclass(frozen=True, slots=True)
class Case:
    label: str
    text: str
    category: str = ""


@dataclass
class Report:
    """Counts per label, and the lines the engine got wrong (for one layer)."""

    totals: dict[str, int] = field(default_factory=dict)
    correct: dict[str, int] = field(default_factory=dict)
    at_least_urgent: dict[str, int] = field(default_factory=dict)
    asked: dict[str, int] = field(default_factory=dict)  # left at none, screening question asked
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    mean_ms: float = 0.0

    def rate(self, *labels: str) -> tuple[int, int]:
        return (sum(self.correct.get(lb, 0) for lb in labels),
                sum(self.totals.get(lb, 0) for lb in labels))

    def escalated(self, *labels: str) -> tuple[int, int]:
        """Lines with these labels that came out urgent or emergent."""
        return (sum(self.at_least_urgent.get(lb, 0) for lb in labels),
                sum(self.totals.get(lb, 0) for lb in labels))


def read_cases(path: Path) -> list[tuple[str, str]]:
    """(label, text) pairs; comment and blank lines are skipped."""
    return [(case.label, case.text) for case in read_set(path)]


def read_set(path: Path) -> list[Case]:
    """The labelled lines of a set, with their category when the set has that column."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split("\t")]
        label = parts[0].lower()
        if label == "label":  # a header row
            continue
        if len(parts) >= 3:
            cases.append(Case(label, "\t".join(parts[2:]), parts[1]))
        else:
            cases.append(Case(label, parts[-1]))
    return cases


def _is_correct(label: str, level: Level) -> bool:
    if label == "emergent":
        return level is Level.EMERGENT
    if label in _ESCALATE:
        return level is not Level.NONE
    return level is Level.NONE


def _tally(report: Report, label: str, text: str, level: Level) -> None:
    report.totals[label] = report.totals.get(label, 0) + 1
    if level is not Level.NONE:
        report.at_least_urgent[label] = report.at_least_urgent.get(label, 0) + 1
    if _is_correct(label, level):
        report.correct[label] = report.correct.get(label, 0) + 1
    else:
        report.misses.append((label, str(level), text))


def evaluate(engine: TriageEngine, cases: list[tuple[str, str]]) -> Report:
    """The lexicon alone (what every partial transcript gets)."""
    report = Report()
    started = time.perf_counter()
    for label, text in cases:
        _tally(report, label, text, engine.assess(text).level)
    report.mean_ms = (time.perf_counter() - started) * 1000 / max(len(cases), 1)
    return report


def evaluate_layers(engine: TriageEngine, cases: list[Case]) -> dict[str, Report]:
    """Lexicon alone; the net alone on the lines the lexicon left at none; both together."""
    reports = {layer: Report() for layer in LAYERS}
    spent = dict.fromkeys(LAYERS, 0.0)
    for case in cases:
        t0 = time.perf_counter()
        lexicon = engine.assess(case.text)
        t1 = time.perf_counter()
        together = engine.assess_final(case.text)
        spent["lexicon"] += t1 - t0
        spent["together"] += time.perf_counter() - t1
        _tally(reports["lexicon"], case.label, case.text, lexicon.level)
        _tally(reports["together"], case.label, case.text, together.level)
        if together.screen:
            asked = reports["together"].asked
            asked[case.label] = asked.get(case.label, 0) + 1
        if lexicon.level is Level.NONE:
            _tally(reports["net"], case.label, case.text, _net_level(together))
    for layer in LAYERS:
        reports[layer].mean_ms = spent[layer] * 1000 / max(len(cases), 1)
    return reports


def _net_level(result: TriageResult) -> Level:
    return Level.URGENT if result.net is not None else Level.NONE


def _pct(pair: tuple[int, int], *, wrong: bool = False) -> str:
    ok, total = pair
    value = total - ok if wrong else ok
    if not total:
        return "—"
    return f"{value}/{total} ({100.0 * value / total:.1f} %)"


def summary_rows(reports: dict[str, Report]) -> list[tuple[str, ...]]:
    """One row per layer: emergent recall, >= urgent recalls, false alarms."""
    rows: list[tuple[str, ...]] = []
    for layer, report in reports.items():
        benign_alarms = report.escalated(*_BENIGN)
        rows.append((
            layer,
            _pct(report.rate("emergent")) if layer != "net" else "(never emergent)",
            _pct(report.escalated("emergent")),
            _pct(report.escalated("emergent", *_ESCALATE)),
            _pct(report.escalated("none")),
            _pct(report.escalated("tricky")),
            _pct(benign_alarms),
        ))  # fmt: skip
    return rows


HEADER = ("layer", "emergent as emergent", "emergent >= urgent", "emergent+urgent >= urgent",
          "false alarms: none", "false alarms: tricky", "false alarms: all benign")


def markdown_table(reports: dict[str, Report]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(reports)]
    return "\n".join(lines)


def screening_line(report: Report) -> str:
    """What the call does with lines nothing flagged: asks the screening question when symptom
    words or the net's closeness say so (`TriageResult.screen`)."""

    def reached(*labels: str) -> tuple[int, int]:
        flagged, total = report.escalated(*labels)
        return flagged + sum(report.asked.get(lb, 0) for lb in labels), total

    def asked(label: str) -> tuple[int, int]:
        return report.asked.get(label, 0), report.totals.get(label, 0)

    return (f"at least urgent or asked the screening question: emergent "
            f"{_pct(reached('emergent'))}, emergent+urgent "
            f"{_pct(reached('emergent', *_ESCALATE))}; asked with nothing flagged: none "
            f"{_pct(asked('none'))}, tricky {_pct(asked('tricky'))}")


def symptom_cases(engine: TriageEngine, cases: list[Case]) -> list[Case]:
    """The lines that describe a symptom (the screening question's trigger)."""
    return [case for case in cases if engine.assess(case.text).symptom]


def intent_report(cases: list[Case], intents_jsonl: Path) -> str:
    """How often Rasa's report_symptom won on symptom lines, from `clinicline nlu --jsonl`."""
    intents = {}
    for line in intents_jsonl.read_text(encoding="utf-8").splitlines():
        if line.strip():
            parsed = json.loads(line)
            intents[parsed["text"]] = parsed["intent"]
    rows = ["| label | symptom lines | report_symptom won | what won instead (top 3) |",
            "|---|---|---|---|"]
    for label in ("emergent", "urgent", "escalate", "none", "tricky", "all"):
        chosen = [c for c in cases if label in (c.label, "all") and c.text in intents]
        if not chosen:
            continue
        won = sum(intents[c.text] == "report_symptom" for c in chosen)
        others = Counter(intents[c.text] for c in chosen if intents[c.text] != "report_symptom")
        top = ", ".join(f"{name} {n}" for name, n in others.most_common(3))
        rows.append(f"| {label} | {len(chosen)} | {_pct((won, len(chosen)))} | {top} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--lexicon", type=Path, default=None)
    parser.add_argument("--no-net", action="store_true", help="the lexicon alone")
    parser.add_argument("--misses", action="store_true", help="list the lines each layer got wrong")
    parser.add_argument("--symptom-lines", action="store_true",
                        help="print the lines that describe a symptom (to pipe to clinicline nlu)")
    parser.add_argument("--intents", type=Path,
                        help="clinicline nlu --jsonl on those lines: how often report_symptom won")
    args = parser.parse_args(argv)
    engine = TriageEngine.from_file(
        args.lexicon or Path(__file__).with_name("lexicon.yaml"),
        **({"net_bank": None} if args.no_net else {}),
    )
    if args.symptom_lines or args.intents:
        symptomatic = [c for p in args.files for c in symptom_cases(engine, read_set(p))]
        if args.intents:
            print(intent_report(symptomatic, args.intents))
        else:
            print("\n".join(dict.fromkeys(c.text for c in symptomatic)))
        return 0
    if engine.net is not None and not engine.net.warm_up():
        print("the safety net's model did not load: lexicon only", file=sys.stderr)
    for path in args.files:
        cases = read_set(path)
        reports = evaluate_layers(engine, cases)
        print(f"\n## {path.name} ({len(cases)} lines)\n")
        print("net: counted on the lines the lexicon left at none; 'together' is assess_final\n")
        print(markdown_table(reports))
        print("\n" + screening_line(reports["together"]))
        print(f"\nmean time per line: lexicon {reports['lexicon'].mean_ms:.3f} ms, "
              f"together {reports['together'].mean_ms:.3f} ms")
        if args.misses:
            for layer in ("lexicon", "together"):
                for label, level, text in reports[layer].misses:
                    if label == "emergent" and level == "urgent" and layer == "together":
                        continue
                    print(f"MISS {layer}\t{label}\tgot {level}\t{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
