"""Specifications of lexicon loading: a bad supervisor edit is refused with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlu.triage import LexiconError, TriageEngine
from nlu.triage.engine import DEFAULT_LEXICON

MINIMAL = {
    "vocab": {"pain": "pain|hurts"},
    "context": {"negators": ["no", "not"], "negation_bridge": ["any"]},
    "categories": {
        "cardiac": {
            "level": "emergent",
            "patterns": ["chest @pain"],
            "examples": ["chest pain now"],
            "not_examples": ["no chest pain"],
        }
    },
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "lexicon.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _edited(**changes: object) -> dict[str, object]:
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    data["categories"]["cardiac"].update(changes)
    return data


def _lexicon_only(path: Path) -> TriageEngine:
    """These tests are about the lexicon file alone: no symptom words, no net."""
    return TriageEngine.from_file(path, symptoms=None, net_bank=None)


def test_shipped_lexicon_loads_and_passes_its_self_test() -> None:
    engine = TriageEngine.from_file(DEFAULT_LEXICON)
    assert len(engine.categories) >= 20


def test_minimal_valid_lexicon_loads(tmp_path: Path) -> None:
    engine = _lexicon_only(_write(tmp_path, MINIMAL))
    assert engine.assess("my chest hurts").categories == ["cardiac"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"level": "critical"}, "level 'critical' is not one of"),
        ({"patterns": ["chest (pain"]}, "does not compile"),
        ({"patterns": []}, "has no phrases, patterns or near rules"),
        ({"examples": []}, "needs at least one example"),
        ({"examples": ["my knee hurts"]}, "example 'my knee hurts' does not fire"),
        ({"not_examples": ["chest pain"]}, "counter-example 'chest pain' fires"),
        ({"patterns": ["chest @ache"]}, "unknown vocabulary @ache"),
        ({"near": [{"terms": ["chest"], "within": 3}]}, "near rule needs 2-3 terms"),
        ({"colour": "red"}, "unknown keys ['colour']"),
        ({"urgent_within": ["chest @pain at the gym"]}, "needs urgent_examples"),
        (
            {"urgent_within": ["chest @pain at the gym"], "urgent_examples": ["chest pain now"]},
            "urgent example 'chest pain now' does not fire at urgent",
        ),
        (
            {"level": "urgent", "urgent_within": ["x"], "urgent_examples": ["chest pain"]},
            "urgent_within is for emergent categories",
        ),
    ],
)
def test_bad_category_edit_is_rejected_naming_file_category_and_reason(
    tmp_path: Path, changes: dict[str, object], reason: str
) -> None:
    path = _write(tmp_path, _edited(**changes))
    with pytest.raises(LexiconError) as caught:
        _lexicon_only(path)
    message = str(caught.value)
    assert str(path) in message
    assert "'cardiac'" in message
    assert reason in message


def test_invalid_yaml_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("categories: [unclosed\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="not valid YAML"):
        _lexicon_only(path)


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="cannot read"):
        _lexicon_only(tmp_path / "absent.yaml")


def test_line_that_must_not_escalate_but_does_is_rejected(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    data["must_not_escalate"] = ["chest pain in my dream"]
    with pytest.raises(LexiconError, match="must not escalate"):
        _lexicon_only(_write(tmp_path, data))


def test_a_match_inside_an_urgent_within_span_is_urgent_and_one_outside_still_emergent(
    tmp_path: Path,
) -> None:
    edited = _edited(
        urgent_within=["chest @pain (?:only )?at the gym"],
        urgent_examples=["i get chest pain at the gym"],
    )
    engine = _lexicon_only(_write(tmp_path, edited))
    assert engine.assess("i get chest pain only at the gym").level.value == "urgent"
    assert engine.assess("chest pain at the gym and chest pain now").level.value == "emergent"
    assert engine.assess("my chest hurts").level.value == "emergent"
