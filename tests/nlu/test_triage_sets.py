"""Recall and false alarms per layer on the development sets, held at the levels reached.

The floors are what the lexicon and the safety net reach today (docs/triage.md): a change that
loses a caught line or adds a false alarm fails here. The held-out sets are not used: they are read
once per round, for the report (`python -m nlu.triage.evaluate tests/nlu/triage_heldout*.tsv`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.triage import TriageEngine
from nlu.triage.evaluate import Report, evaluate_layers, read_set

HERE = Path(__file__).parent
SHARED = HERE.parents[2] / "shared" / "eval" / "triage.tsv"


@pytest.fixture(scope="module")
def engine() -> TriageEngine:
    engine = TriageEngine.default()
    assert engine.net is not None and engine.net.warm_up()
    return engine


def _layers(engine: TriageEngine, path: Path) -> dict[str, Report]:
    return evaluate_layers(engine, read_set(path))


def test_tuning_set(engine: TriageEngine) -> None:
    r = _layers(engine, HERE / "triage_tuning.tsv")
    assert r["lexicon"].rate("emergent") >= (110, 112)
    assert r["together"].escalated("emergent") == (112, 112)
    assert r["together"].escalated("emergent", "urgent") == (171, 171)
    assert r["together"].escalated("none", "tricky")[0] <= 2  # of 190
    assert r["lexicon"].escalated("none") == (0, 110)


def test_second_tuning_set(engine: TriageEngine) -> None:
    r = _layers(engine, HERE / "triage_tuning2.tsv")
    assert r["lexicon"].rate("emergent") >= (213, 215)
    assert r["together"].escalated("emergent") == (215, 215)
    assert r["together"].escalated("emergent", "urgent")[0] >= 321  # of 324
    assert r["lexicon"].escalated("none") == (0, 227)
    assert r["together"].escalated("none")[0] <= 1  # of 227, ordinary calls
    assert r["together"].escalated("none", "tricky")[0] <= 3  # of 359


def test_own_case_set(engine: TriageEngine) -> None:
    r = _layers(engine, HERE / "triage_cases.tsv")
    assert r["together"].rate("emergent") == (178, 178)
    assert r["together"].escalated("emergent", "urgent") == (245, 245)
    assert r["lexicon"].escalated("none", "tricky") == (0, 127)
    assert r["together"].escalated("none", "tricky")[0] <= 1


def test_generalisation_set(engine: TriageEngine) -> None:
    r = _layers(engine, HERE / "triage_generalisation.tsv")
    assert r["lexicon"].rate("emergent")[0] >= 244
    assert r["together"].escalated("emergent", "urgent") == (299, 299)
    assert r["lexicon"].escalated("none", "tricky") == (0, 160)
    assert r["together"].escalated("none", "tricky")[0] <= 2


def test_plain_symptoms_are_not_escalated_but_signalled(engine: TriageEngine) -> None:
    path = HERE / "triage_plain_symptoms.tsv"
    r = _layers(engine, path)
    assert r["together"].escalated("none") == (0, 50)
    assert sum(engine.assess(case.text).symptom for case in read_set(path)) >= 49


@pytest.mark.skipif(not SHARED.exists(), reason="the shared dev set lives beside the repository")
def test_shared_dev_set(engine: TriageEngine) -> None:
    r = _layers(engine, SHARED)
    assert r["lexicon"].rate("emergent") == (15, 15)
    assert r["together"].escalated("emergent", "escalate") == (22, 22)
    assert r["together"].escalated("none", "tricky") == (0, 14)
