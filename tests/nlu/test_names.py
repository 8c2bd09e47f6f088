"""Specifications of spoken-name matching."""

from __future__ import annotations

import pytest

from nlu.names import (
    holds_a_name,
    introduced_name,
    name_in_answer,
    name_score,
    speaks_for_someone_else,
)


@pytest.mark.parametrize(
    ("spoken", "candidate"),
    [
        ("Maria Lopes", "Maria Lopez"),
        ("Lopez Maria", "Maria Lopez"),
        ("marya lopez", "Maria Lopez"),
        ("my name is maria lopez", "Maria Elena Lopez"),
        ("Jon Smyth", "John Smith"),
        ("Steven Clarke", "Stephen Clark"),
        ("Mohammed Ali", "Muhammad Ali"),
        ("mary ann smith", "Maryann Smith"),
        ("Lopez, Maria", "Maria Lopez"),
    ],
)
def test_same_name_spelled_or_ordered_differently_scores_high(spoken: str, candidate: str) -> None:
    assert name_score(spoken, candidate) >= 0.85


@pytest.mark.parametrize(
    ("spoken", "candidate"),
    [
        ("Robert Brown", "Maria Lopez"),
        ("Aisha Khan", "Maria Lopez"),
        ("I should con", "Aisha Khan"),
        ("maria", "Maria Lopez"),
        ("", "Maria Lopez"),
    ],
)
def test_different_or_partial_name_scores_low(spoken: str, candidate: str) -> None:
    assert name_score(spoken, candidate) < 0.7


def test_score_is_in_unit_interval_and_exact_is_one() -> None:
    assert name_score("Aisha Khan", "Aisha Khan") == 1.0
    assert 0.0 <= name_score("zzz", "Aisha Khan") <= 1.0


def test_similar_sounding_different_first_name_is_below_exact_match() -> None:
    assert name_score("Jane Doe", "John Doe") < name_score("John Doe", "John Doe")


@pytest.mark.parametrize(
    "answer",
    ["Goodbye.", "hello?", "Thank you", "um, sorry, what?", "OK", "The first one.",
     "Yes, please cancel it.", "I just need to reschedule my appointment"],
)  # fmt: skip
def test_small_talk_holds_no_name(answer: str) -> None:
    assert not holds_a_name(answer)


@pytest.mark.parametrize("answer", ["Maria Lopez", "Hello, it's Ann Lee", "Will Hope", "Joy"])
def test_an_answer_with_any_other_word_may_be_a_name(answer: str) -> None:
    assert holds_a_name(answer)


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("Hi, this is James Carter. I need to cancel my appointment.", "James Carter"),
        ("I'm calling for my mother, Maria Lopez. She needs a refill.", "Maria Lopez"),
        ("Hello, my name is Aisha Khan and I'd like to book an appointment.", "Aisha Khan"),
        ("My wife Maria Lopez needs her blood pressure pills.", "Maria Lopez"),
        ("Hi, this is Mary-Ann O'Neil Smith calling about my test results.",
         "Mary-Ann O'Neil Smith"),
        ("My son Jacob Featherstonehaugh has a fever.", "Jacob Featherstonehaugh"),
        ("Yes, this is Aisha Khan.", "Aisha Khan"),
        ("Hi, this is Maria, I'm calling for my son Jacob Lopez.", "Jacob Lopez"),
        # The caller's own name, when she calls for someone else: not the patient's.
        ("Hi, this is Maria Lopez, I'm calling for my son.", None),
        # Not a full name, not surely a name, or not the patient's.
        ("This is Dr. Patel's office calling.", None),
        ("I'm calling about my appointment on Monday.", None),
        ("Hi, I'm Maria. I need a refill.", None),
        ("this is james carter i need to cancel", None),
        ("I'm Calling About My Results", None),
        ("This is March 4th", None),
        ("I'm returning a call from Nurse Jackie.", None),
    ],
)
def test_a_name_given_unasked_is_two_or_three_capitalised_words_after_an_introduction(
    said: str, name: str | None
) -> None:
    assert introduced_name(said) == name


@pytest.mark.parametrize(
    ("said", "for_another"),
    [
        ("I'm calling for my mother, Maria Lopez.", True),
        ("My son needs his shots.", True),
        ("Her date of birth is March 4th, 1972.", True),
        ("I'm calling on behalf of a patient.", True),
        ("I need to cancel my appointment.", False),
        ("This is James Carter.", False),
        ("My date of birth is November 20th, 1958.", False),
    ],
)
def test_a_caller_who_speaks_of_the_patient_as_another_person(said: str, for_another: bool) -> None:
    assert speaks_for_someone_else(said) is for_another


@pytest.mark.parametrize(
    ("answer", "name"),
    [
        ("Maria Lopez", "Maria Lopez"),
        ("Maria Elena Lopez Garcia", "Maria Elena Lopez Garcia"),
        ("Sure, it's for Maria Lopez, she's my mom", "Maria Lopez"),
        ("Hello Dr Smith, the patient is Ann Lee okay", "Ann Lee"),
        ("She needs to refill with her lives in April.", None),  # her request, misheard
        ("my name is maria lopez and i was born", "my name is maria lopez and i was born"),
    ],
)
def test_the_name_in_a_long_answer_is_its_capitalised_run(answer: str, name: str | None) -> None:
    assert name_in_answer(answer) == name
