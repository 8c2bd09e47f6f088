"""Specifications of medication name matching against a caller's list."""

from __future__ import annotations

import pytest

from nlu.medication_table import BRANDS, USES
from nlu.medications import generic_name, match_medication, named_drug

MEDS = [
    "Lisinopril 10 mg tablet",
    "Metformin ER 500 mg",
    "Atorvastatin 20 mg tablet",
    "Levothyroxine 50 mcg",
    "Albuterol HFA inhaler",
    "Sertraline 50 mg",
]


@pytest.mark.parametrize(
    ("spoken", "candidate", "via"),
    [
        ("lisinopril", "Lisinopril 10 mg tablet", "exact"),
        ("my Zestril", "Lisinopril 10 mg tablet", "brand"),
        ("I need my metformin refilled", "Metformin ER 500 mg", "exact"),
        ("glucophage", "Metformin ER 500 mg", "brand"),
        ("Lipitor", "Atorvastatin 20 mg tablet", "brand"),
        ("synthroid please", "Levothyroxine 50 mcg", "brand"),
        ("the ventolin inhaler", "Albuterol HFA inhaler", "brand"),
        ("zoloft", "Sertraline 50 mg", "brand"),
    ],
)
def test_generic_and_brand_names_match(spoken: str, candidate: str, via: str) -> None:
    match = match_medication(spoken, MEDS)
    assert match is not None
    assert (match.candidate, match.via, match.score) == (candidate, via, 1.0)


@pytest.mark.parametrize(
    ("spoken", "candidate"),
    [
        ("lisinipril", "Lisinopril 10 mg tablet"),
        ("a tor va statin", "Atorvastatin 20 mg tablet"),
        ("lipator", "Atorvastatin 20 mg tablet"),
        ("met forming", "Metformin ER 500 mg"),
        ("life at their oxine", "Levothyroxine 50 mcg"),
        ("pro air", "Albuterol HFA inhaler"),
    ],
)
def test_misrecognised_names_still_match(spoken: str, candidate: str) -> None:
    match = match_medication(spoken, MEDS)
    assert match is not None and match.candidate == candidate
    assert 0.72 <= match.score <= 1.0


@pytest.mark.parametrize(
    "spoken",
    ["the water pill", "lasix", "hello", "yes", "no that's all thanks", "who is the president",
     "do i have a visit coming up soon", "I am not sure what it is called"],
)  # fmt: skip
def test_unrelated_words_match_nothing(spoken: str) -> None:
    assert match_medication(spoken, MEDS) is None


@pytest.mark.parametrize(
    ("spoken", "candidate"),
    [
        ("my blood pressure one", "Lisinopril 10 mg tablet"),
        ("I'm almost out of my cholesterol medicine", "Atorvastatin 20 mg tablet"),
        ("the one for my depression", "Sertraline 50 mg"),
        ("my sugar pills", "Metformin ER 500 mg"),
        ("the one for my asthma", "Albuterol HFA inhaler"),
        ("something for my anxiety", "Sertraline 50 mg"),
    ],
)
def test_what_a_medicine_is_for_names_the_one_on_the_list_for_it(
    spoken: str, candidate: str
) -> None:
    match = match_medication(spoken, MEDS)
    assert match is not None and (match.candidate, match.via) == (candidate, "use")
    assert match.score < 0.85  # never sure enough to skip "is that the one?"


def test_two_medications_for_the_same_use_name_neither() -> None:
    meds = ["Lisinopril 10 mg", "Amlodipine 5 mg", "Atorvastatin 40 mg"]
    assert match_medication("my blood pressure pill", meds) is None
    assert match_medication("my cholesterol pill", meds).candidate == "Atorvastatin 40 mg"  # type: ignore[union-attr]


def test_a_name_heard_badly_names_the_one_it_is_clearly_closest_to() -> None:
    # flite's "the atorvastatin" through whisper, a `make run` call (James Carter's list).
    meds = ["atorvastatin 40 mg tablet", "amlodipine 5 mg tablet"]
    match = match_medication("The imprecastatin.", meds)
    assert match is not None and (match.candidate, match.via) == (meds[0], "near")
    assert match.score < 0.72
    # Close to two of them alike: neither (the caller is asked again).
    assert match_medication("the imprecastatin", [*meds, "rosuvastatin 10 mg"]) is None


def test_empty_candidate_list_matches_nothing() -> None:
    assert match_medication("lisinopril", []) is None


def test_generic_name_of_brand_and_generic() -> None:
    assert generic_name("Lipitor 20 mg") == "atorvastatin"
    assert generic_name("metformin") == "metformin"
    assert generic_name("unknownium") is None


def test_a_form_names_the_one_medication_of_that_form() -> None:
    meds = ["Albuterol inhaler 90 mcg", "Sertraline 50 mg"]
    match = match_medication("hi um I'm running out of my inhaler", meds)
    assert match is not None and (match.candidate, match.via) == (meds[0], "form")
    # Two inhalers: the form alone does not say which; pills never name one.
    two = [*meds, "Fluticasone inhaler 110 mcg"]
    assert match_medication("I need my inhaler", two) is None
    assert match_medication("I need my pills", meds) is None


def test_every_use_names_generics_the_table_knows() -> None:
    # A typo in the uses would match nothing, silently.
    assert {g for generics in USES.values() for g in generics} <= BRANDS.keys()


@pytest.mark.parametrize(
    ("said", "named"),
    [
        ("I need a refill on my metformin and a checkup", "metformin"),
        ("can you renew my Glucophage please", "glucophage"),
        ("I need a refill on my methformin.", "metformin"),  # espeak-ng through a call
        ("I need a prescription refilled for my daughter", None),  # long words, no drug
        ("my blood pressure pill", None),  # a use names none outright
        ("the imprecastatin", None),  # misheard: matched against her list, not named here
    ],
)
def test_a_drug_named_outright_is_found_in_any_words(said: str, named: str | None) -> None:
    assert named_drug(said) == named
