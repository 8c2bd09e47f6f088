"""Recall and false alarms per layer on the labelled example sets, held at the levels reached.

The example sets are also the safety net's bank (net_bank.yaml `examples`), so the net is
measured the only honest way: every line of a file against the bank without that file
(`SafetyNet.score_held_out`), as `python -m nlu.triage.calibrate` does. The lexicon is
measured on every line. The floors are today's figures (docs/triage.md): a change that loses
a caught line or adds a false alarm fails here. Held-out sets are never used here: they are
read once per round, for the report (`python -m nlu.triage.evaluate tests/nlu/triage_heldout*.tsv`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.triage import TriageEngine
from nlu.triage.calibrate import Scored, false_alarms, score_cases, standalone_recall
from nlu.triage.evaluate import Report, evaluate_layers, read_set
from nlu.triage.model import Level
from nlu.triage.net import DEFAULT_BANK, SafetyNet

EXAMPLES = DEFAULT_BANK.with_name("examples")
SHARED = Path(__file__).parents[3] / "shared" / "eval" / "triage.tsv"


@pytest.fixture(scope="module")
def engine() -> TriageEngine:
    engine = TriageEngine.default()
    assert engine.net is not None and engine.net.warm_up()
    return engine


def _lexicon(engine: TriageEngine, name: str) -> Report:
    # The lexicon's report does not depend on the net: leave it out and its embedding time too.
    alone = TriageEngine(engine.lexicon, symptoms=engine.symptoms)
    return evaluate_layers(alone, read_set(EXAMPLES / name))["lexicon"]


@pytest.mark.parametrize(
    ("name", "emergent", "benign_alarms"),
    [
        ("tuning1.tsv", (110, 112), 2),
        ("tuning2.tsv", (213, 215), 2),
        ("own_cases.tsv", (178, 178), 0),
        ("generalisation.tsv", (245, 245), 0),
        ("blind_round1.tsv", (224, 238), 15),
        ("blind_round2.tsv", (207, 215), 13),
        ("blind_round3.tsv", (116, 121), 10),
        ("blind_round4.tsv", (215, 230), 32),
        ("blind_round5.tsv", (220, 240), 24),
        ("blind_round6.tsv", (238, 250), 13),
        ("blind_round7.tsv", (263, 266), 16),
        ("blind_round8.tsv", (249, 266), 14),
        ("blind_round9.tsv", (248, 266), 14),
        ("blind_round10.tsv", (266, 266), 26),
        ("conversation_turns.tsv", (0, 0), 0),
        ("plain_symptoms.tsv", (0, 0), 0),
        ("identity_answers.tsv", (0, 0), 0),
        ("medication_answers.tsv", (0, 0), 0),
    ],
)
def test_the_lexicon_on_each_example_set(
    engine: TriageEngine, name: str, emergent: tuple[int, int], benign_alarms: int
) -> None:
    r = _lexicon(engine, name)
    assert r.rate("emergent") >= emergent
    assert r.rate("emergent")[1] == emergent[1]
    assert r.escalated("none", "tricky")[0] <= benign_alarms
    assert r.escalated("none")[0] <= 2  # ordinary calls, not one set over 1 %


def test_plain_symptoms_are_signalled_for_the_screening_question(engine: TriageEngine) -> None:
    cases = read_set(EXAMPLES / "plain_symptoms.tsv")
    assert sum(engine.assess(case.text).symptom for case in cases) >= 49  # of 50


@pytest.fixture(scope="module")
def held_out(engine: TriageEngine) -> dict[str, list[Scored]]:
    """Every example line, scored by the net with its own file left out of the bank (a file of
    answers to the bot's own questions stays in it: only the line itself is left out)."""
    assert engine.net is not None
    answers = engine.net.bank.answer_files
    return {
        path.name: score_cases(
            engine, read_set(path),
            "" if f"examples/{path.name}" in answers else f"examples/{path.name}",
        )  # fmt: skip
        for path in sorted(EXAMPLES.glob("*.tsv"))
    }


def test_the_net_recognises_red_flags_from_files_it_has_not_seen(
    engine: TriageEngine, held_out: dict[str, list[Scored]]
) -> None:
    net = engine.net
    assert isinstance(net, SafetyNet)
    shipped = (net.bank.min_score, net.bank.margin, net.bank.mild_margin)
    lines = [s for group in held_out.values() for s in group]
    caught, red = standalone_recall(net, lines, shipped)
    wrong, benign = false_alarms(net, lines, shipped)
    assert red == 4488 and benign == 4852  # with blind_round10 (round 14)
    # 4169 (92.9 %) as shipped; before round 14, 3815 of 4102 (93.0 %).
    assert caught >= 4165
    assert wrong <= 82  # 81 (1.7 %) as shipped
    # What it adds where it matters: red-flag lines the lexicon missed, in files it never saw.
    misses = [s for s in lines if s.positive and s.may_act]
    recovered = sum(net.fires(s.net) for s in misses if s.net is not None)
    # 403/484 before the rules of 2026-12-06 for silent emergent lines (16 fewer misses),
    # 387/468 before its meningitis rules (8 fewer), 379/460 before its diabetic ones (8 fewer),
    # 371/452 before its burns (6 fewer), 366/446 before its bleeding (5 fewer).
    assert (recovered, len(misses)) >= (360, 441) and len(misses) == 441  # 361 as shipped


def test_a_lines_own_file_is_what_the_held_out_score_leaves_out(engine: TriageEngine) -> None:
    net = engine.net
    assert isinstance(net, SafetyNet)
    red_category, red_line = next(
        (c, d) for (c, d), o in zip(net.bank.descriptions, net.bank.description_origins,
                                    strict=True) if o == "examples/tuning1.tsv"
    )
    seen = net.score(red_line)
    unseen = net.score_held_out(red_line, "examples/tuning1.tsv")
    assert seen is not None and unseen is not None
    assert seen.description == red_line and seen.score == pytest.approx(1.0, abs=1e-3)
    assert unseen.description != red_line and unseen.score < seen.score
    assert red_category == seen.category


@pytest.mark.skipif(not SHARED.exists(), reason="the shared dev set lives beside the repository")
def test_shared_dev_set(engine: TriageEngine) -> None:
    r = evaluate_layers(engine, read_set(SHARED))
    assert r["lexicon"].rate("emergent") == (15, 15)
    assert r["together"].escalated("emergent", "escalate") == (22, 22)
    assert r["together"].escalated("none", "tricky") == (0, 14)


def test_short_turns_mid_call_never_raise_a_red_flag(engine: TriageEngine) -> None:
    """Answers, closings, menu picks and errands ("option two please", "I'm calling for my
    mum"), written apart from the bank's own turns: thresholds chosen on whole sentences alone
    fired on 11 of these 150 (round 10, before the turns joined the bank)."""
    turns = read_set(Path(__file__).with_name("triage_turns_heldout.tsv"))
    assert len(turns) == 150
    raised = [t.text for t in turns if engine.assess_final(t.text).level is not Level.NONE]
    assert len(raised) <= 1, raised  # 0 as shipped


def test_answers_to_which_medication_are_not_red_flags(engine: TriageEngine) -> None:
    # A `make run` refill call in flite's voice: this answer went to a nurse as urgent.
    assert engine.assess_final("It's my blood pressure pill.", answering=True).level is Level.NONE
    # Answers nobody tuned on: 12 of 80 raised the call before medication_answers.tsv.
    cases = read_set(Path(__file__).parent / "medication_answers_heldout.tsv")
    raised = [c.text for c in cases if engine.assess_final(c.text, answering=True).level
              is not Level.NONE]  # fmt: skip
    assert len(cases) == 80 and len(raised) <= 3, raised
