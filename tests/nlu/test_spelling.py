"""A spelled surname: its letters in what the recogniser wrote, and which surname on file."""

from __future__ import annotations

import pytest

from nlu.spelling import letters_of, matching_surname, spelled_forms


@pytest.mark.parametrize(
    ("written", "letters"),
    [
        ("L-O-P-E-Z.", "LOPEZ"),
        ("L O P E Z", "LOPEZ"),
        ("L, O, P, E, Z.", "LOPEZ"),
        ("L. O. P. E. Z.", "LOPEZ"),
        ("el oh pee ee zed", "LOPEZ"),
        ("It's L O P E Z.", "LOPEZ"),
        ("My last name is spelled K, H, A, N.", "KHAN"),
        ("P as in Peter, A, double T, O, N", "PATTON"),
        ("double you, oh, jay, see, eye, ee, see, aitch, oh, double u, ess, kay, eye",
         "WOJCIECHOWSKI"),
        ("Lopez.", "LOPEZ"),  # the recogniser knew the name and wrote it whole
        ("O'Brien", "OBRIEN"),
    ],
)  # fmt: skip
def test_letters_however_they_were_said_or_written(written: str, letters: str) -> None:
    assert letters_of(written) == letters


@pytest.mark.parametrize(
    "written",
    ["I don't know how to spell it", "Now, no, T-E-C.", "okay", "", "L", "D&K, TA, RA, MA, N."],
)
def test_words_that_are_not_a_spelling_give_no_letters(written: str) -> None:
    assert letters_of(written) is None


SURNAMES = ["Lopez", "Lopes", "Wojciechowski", "Nguyen", "Venkataraman"]


@pytest.mark.parametrize(
    ("spelled", "surname"),
    [
        ("LOPEZ", "Lopez"),
        ("NGUYEN", "Nguyen"),
        ("WOJCIQCDHOWSKI", "Wojciechowski"),  # two slips in thirteen letters
        ("VENKATARAMAM", "Venkataraman"),
        ("NGUYEM", "Nguyen"),  # one slip in six
        ("LOPEX", None),  # as close to Lopez as to Lopes: neither
        ("NGUYAM", None),  # two slips in six
        ("SMITH", None),
    ],
)
def test_the_surname_the_letters_are(spelled: str, surname: str | None) -> None:
    assert matching_surname(spelled, SURNAMES) == surname


def test_a_short_surname_matches_only_exactly() -> None:
    assert matching_surname("LOPEX", ["Lopez"]) is None
    assert matching_surname("LOPEZ", ["Lopez"]) == "Lopez"


def test_the_written_forms_of_a_spelled_surname_read_back_as_its_letters() -> None:
    for form in spelled_forms("De la Cruz"):
        assert letters_of(form) == "DELACRUZ", form
