"""A clinic's own red-flag words on top of the shipped lexicon, and the regression that gates
them: additions that raise quiet lines or lose red flags are found, line by line; a pattern
that backtracks without end is stopped by the time limit, not by the server."""

from __future__ import annotations

import asyncio

import pytest

from clinicline.flows import lexicon as flows_lexicon
from nlu.triage import TriageEngine
from nlu.triage.clinic_edits import (
    BENIGN,
    check_edits,
    labelled_sets,
    phrase_of,
    regress,
    stress,
    with_edits,
)
from nlu.triage.engine import DEFAULT_LEXICON
from nlu.triage.errors import LexiconError
from nlu.triage.evaluate import Case

SEIZURE_HEARD_AS = "my brothers having a seas year and his head hit the table on the way down"


def _engine(edits: dict) -> TriageEngine:
    return TriageEngine(with_edits(check_edits(edits)))


def test_an_added_phrase_fires_its_category_and_the_shipped_rules_stay() -> None:
    plain = _engine({})
    edited = _engine({"seizure": [{"phrase": "seas year"}]})
    assert plain.assess(SEIZURE_HEARD_AS).level.value == "none"
    assert edited.assess(SEIZURE_HEARD_AS).categories == ["seizure"]
    assert edited.assess("my chest hurts so bad").categories == ["cardiac"]
    # The shipped rules around it still apply: negation cancels the clinic's words too.
    assert edited.assess("no seas year today").level.value == "none"


def test_a_phrase_typed_with_capitals_and_contractions_matches_what_callers_say() -> None:
    phrase = phrase_of("Tongue feels like COTTON WOOL!")
    assert phrase == "tongue feels like cotton wool"
    assert phrase_of("I can't feel my face") == "i cannot feel my face"
    said = "My mum keeps saying her tongue feels like cotton wool."
    assert _engine({}).assess(said).level.value == "none"
    assert _engine({"stroke": [{"phrase": phrase}]}).assess(said).categories == ["stroke"]


def test_benign_words_silence_a_false_alarm() -> None:
    line = "I am collapsing with exhaustion after the move, I just need to register with you."
    assert _engine({}).assess(line).level.value != "none"
    edited = _engine({BENIGN: [{"phrase": "collapsing with exhaustion after the move"}]})
    assert edited.assess(line).level.value == "none"
    assert edited.assess("my dad collapsed and he is not responding").level.value != "none"


def test_the_regression_finds_lost_red_flags_and_new_alarms_line_by_line() -> None:
    cases = [
        Case("emergent", SEIZURE_HEARD_AS),
        Case("none", "my heart rate app keeps crashing, can I email the readings"),
        Case("emergent", "my chest hurts so bad"),
    ]
    plain = _engine({})
    added = _engine({"seizure": [{"phrase": "seas year"}]})
    assert regress(plain, added, cases).to_json() | {"lost": []} == {
        "lines": 3, "passed": True, "gained": 1, "lost": [], "lost_count": 0,
        "new_alarms": [], "new_alarm_count": 0,
    }  # fmt: skip
    removed = regress(added, plain, cases)
    assert not removed.passed and [x["text"] for x in removed.lost] == [SEIZURE_HEARD_AS]
    noisy = regress(plain, _engine({"cardiac": [{"phrase": "heart"}]}), cases)
    assert not noisy.passed and noisy.new_alarms[0]["now"] == "emergent"


def test_on_every_labelled_set_a_broad_word_is_refused_and_a_narrow_one_kept() -> None:
    cases = labelled_sets()
    assert len(cases) > 5000
    plain = _engine({})
    broad = regress(plain, _engine({"cardiac": [{"phrase": "heart"}]}), cases)
    assert not broad.passed and broad.to_json()["new_alarm_count"] >= 10
    narrow = regress(plain, _engine({"seizure": [{"phrase": "seas year"}]}), cases)
    assert narrow.passed and narrow.gained >= 1


@pytest.mark.parametrize(
    ("edits", "reason"),
    [
        ({"cardiac": [{"pattern": "chest (pain"}]}, "does not compile"),
        ({"no_such_category": [{"phrase": "x"}]}, "no category 'no_such_category'"),
        ({"cardiac": [{"phrase": ""}]}, "1..300 characters"),
        ({"cardiac": [{"words": "x"}]}, '{"phrase": …} or {"pattern": …}'),
        ({"cardiac": "chest"}, "lists of entries"),
        # An addition may not break the lexicon's own proof: lines that must never escalate.
        ({"cardiac": [{"phrase": "refill"}]}, "must not escalate but fires"),
    ],
)
def test_a_malformed_or_self_contradicting_edit_is_refused(edits: dict, reason: str) -> None:
    with pytest.raises(LexiconError, match=reason):
        _engine(edits)


async def test_a_pattern_that_backtracks_without_end_is_stopped_and_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A sound edit within the shipped limit (the whole regression: ~15 s alone, more on a
    # loaded machine) ...
    quick = await flows_lexicon.run_regression({}, {"seizure": [{"phrase": "seas year"}]},
                                               DEFAULT_LEXICON)
    assert quick["passed"] is True, quick
    # ... and one that hangs, stopped at a short limit.
    monkeypatch.setattr(flows_lexicon, "REGRESSION_TIMEOUT_S", 20.0)
    started = asyncio.get_running_loop().time()
    stuck = await flows_lexicon.run_regression(
        {}, {"cardiac": [{"pattern": "(?:a+)+b"}]}, DEFAULT_LEXICON
    )
    assert "backtrack" in stuck["error"], stuck
    assert asyncio.get_running_loop().time() - started < 60


def test_stress_inputs_pass_the_shipped_lexicon_quickly() -> None:
    stress(_engine({}))  # the shipped rules themselves never backtrack without end
