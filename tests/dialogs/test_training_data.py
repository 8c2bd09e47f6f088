"""The clinic's added phrasings and names: what may be added, and the project laid out to train
on (checked by Rasa itself)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from dialogs.train import PROJECT_DIR, RASA_BIN, project_hash, rasa_env
from dialogs.training_data import (
    ADDED_FILE,
    MAX_EXAMPLE_CHARS,
    MAX_LOOKUP_CHARS,
    TrainingDataError,
    check_example,
    check_lookup_entry,
    intents_of,
    lay_out,
    shipped_examples,
    shipped_lookups,
)


@pytest.fixture(scope="module")
def shipped() -> dict[str, list[str]]:
    return shipped_examples()


def test_every_intent_of_the_domain_has_its_shipped_examples(
    shipped: dict[str, list[str]],
) -> None:
    assert list(shipped) == intents_of()
    assert all(len(examples) >= 20 for examples in shipped.values()), {
        k: len(v) for k, v in shipped.items()
    }
    # Entity markup is shown as its words, never as brackets.
    assert not any("](" in e for examples in shipped.values() for e in examples)


@pytest.mark.parametrize(
    ("intent", "text", "why"),
    [
        ("no_such_intent", "my puffer is empty", "there is no intent"),
        ("request_refill", " ", "needs words"),
        ("request_refill", "x" * (MAX_EXAMPLE_CHARS + 1), "at most"),
        ("request_refill", "refill my [lisinopril](medication)", "plain words"),
        ("request_refill", "- refill", "plain words"),
        # The same words in another intent would teach the model both: refused, with where.
        ("billing_insurance", "Could I get a refill please?", "example of 'request_refill'"),
        ("request_refill", "COULD I   get a refill please", "already an example"),
    ],
)
def test_an_example_that_cannot_be_added_is_refused_with_the_reason(
    shipped: dict[str, list[str]], intent: str, text: str, why: str
) -> None:
    assert "could I get a refill please" in shipped["request_refill"]
    with pytest.raises(TrainingDataError, match=why):
        check_example(intent, text, shipped, {})


def test_an_added_example_is_cleaned_and_counted_against_the_added_ones_too(
    shipped: dict[str, list[str]],
) -> None:
    added = {"request_refill": ["my puffer is nearly empty"]}
    assert check_example("request_refill", "  my  inhaler ran dry ", shipped, added) == (
        "my inhaler ran dry"
    )
    with pytest.raises(TrainingDataError, match="example of 'request_refill'"):
        check_example("test_results", "My puffer is nearly empty.", shipped, added)


def test_the_laid_out_project_is_the_shipped_one_plus_the_additions(tmp_path: Path) -> None:
    # Nothing added: the same bytes, hence the same model file as the shipped project.
    plain = lay_out({}, tmp_path / "plain")
    assert project_hash(plain) == project_hash(PROJECT_DIR)
    assert not (plain / ADDED_FILE).exists()
    words = 'my "puffer": it is nearly empty'  # quotes and a colon stay words, not YAML
    added = lay_out({"request_refill": [words], "greet": ["howdy"]}, tmp_path / "added")
    assert project_hash(added) != project_hash(PROJECT_DIR)
    data = yaml.safe_load((added / ADDED_FILE).read_text())
    assert data["nlu"] == [
        {"intent": "greet", "examples": "- howdy\n"},
        {"intent": "request_refill", "examples": f"- {words}\n"},
    ]
    # Laid out again (a second machine, a rollback): the same project, the same model name.
    again = lay_out({"greet": ["howdy"], "request_refill": [words]}, tmp_path / "again")
    assert project_hash(again) == project_hash(added)
    assert shipped_examples(added)["request_refill"] == shipped_examples()["request_refill"]


def test_the_shipped_lookup_tables_are_read_as_the_names_they_hold() -> None:
    tables = shipped_lookups()
    assert set(tables) == {"medication", "specialist", "insurer"}
    assert "lisinopril" in tables["medication"] and "cardiologist" in tables["specialist"]
    assert all(name == name.lower() for names in tables.values() for name in names)


@pytest.mark.parametrize(
    ("key", "text", "why"),
    [
        ("lookup:pharmacy", "walgreens", "no word list 'pharmacy'"),
        ("lookup:insurer", "  ", "needs a name"),
        ("lookup:insurer", "a" * (MAX_LOOKUP_CHARS + 1), "at most"),
        ("lookup:insurer", "blue (ridge)", "letters and digits"),
        ("lookup:insurer", "one two three four five six seven", "up to six words"),
        ("lookup:insurer", "AETNA", "already in the insurer list"),
        ("lookup:insurer", "Blue Ridge  Health Plan", "already in the insurer list"),
    ],
)
def test_a_name_a_word_list_cannot_take_is_refused_with_the_reason(
    key: str, text: str, why: str
) -> None:
    added = {"lookup:insurer": ["blue ridge health plan"]}
    with pytest.raises(TrainingDataError, match=why):
        check_lookup_entry(key, text, shipped_lookups(), added)


def test_a_name_is_kept_lowercase_as_speech_arrives() -> None:
    said = " St. Mary's  Health-Plan "
    assert check_lookup_entry("lookup:insurer", said, shipped_lookups(), {}) == (
        "st. mary's health-plan"
    )


def test_the_clinics_names_go_into_the_shipped_table_and_rasa_accepts_the_project(
    tmp_path: Path,
) -> None:
    added = {"lookup:insurer": ["blue ridge health plan"], "request_refill": ["my puffer is dry"]}
    project = lay_out(added, tmp_path / "project")
    # One table per name (RegexFeaturizer's one feature), the clinic's names at its end.
    tables = shipped_lookups(project)
    assert tables["insurer"] == [*shipped_lookups()["insurer"], "blue ridge health plan"]
    assert tables["medication"] == shipped_lookups()["medication"]
    assert "lookup" not in (project / ADDED_FILE).read_text()
    assert project_hash(lay_out(added, tmp_path / "again")) == project_hash(project)
    # Only names added: no file of phrasings, and still not the shipped project.
    names_only = lay_out({"lookup:specialist": ["wound care nurse"]}, tmp_path / "names")
    assert not (names_only / ADDED_FILE).exists()
    assert project_hash(names_only) != project_hash(PROJECT_DIR)
    # Rasa's own check (warnings count), as the trainer runs it before training.
    checked = subprocess.run(
        [str(RASA_BIN), "data", "validate", "--fail-on-warnings", "--domain", "domain.yml",
         "--data", "data", "--config", "config.yml"],
        cwd=project, env=rasa_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout[-3000:]
