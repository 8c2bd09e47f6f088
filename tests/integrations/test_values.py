"""Pure pieces of the store: phone numbers, password hashes, FHIR medication text."""

from __future__ import annotations

import pytest

from integrations.passwords import hash_password, verify_password
from integrations.phone_numbers import normalise_phone
from integrations.seed.fhir_records import split_strength


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+15550100001", "+15550100001"),
        ("(555) 010-0001", "+15550100001"),
        ("1-555-010-0001", "+15550100001"),
        ("sip:+15550100001@10.0.0.5;user=phone", "+15550100001"),
        ("tel:5550100001", "+15550100001"),
        ("0044 20 7946 0018", "+442079460018"),
        ("anonymous", None),
        ("12345", None),
        (None, None),
    ],
)
def test_caller_ids_normalise_to_e164(raw: str | None, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


def test_a_password_hash_verifies_only_its_password() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horse ", stored)
    assert hash_password("correct horse") != stored, "each hash has its own salt"


def test_a_malformed_hash_never_verifies() -> None:
    assert not verify_password("x", "md5$abc")
    assert not verify_password("x", "scrypt$bad")


@pytest.mark.parametrize(
    ("text", "name", "strength"),
    [
        ("Lisinopril 10 MG Oral Tablet", "lisinopril", "10 mg"),
        ("albuterol 90 mcg/actuation inhaler", "albuterol", "90 mcg/actuation"),
        ("Hydrocodone-Acetaminophen 5-325 mg tablet", "hydrocodone-acetaminophen", "5-325 mg"),
        ("Metformin oral tablet", "metformin", ""),
    ],
)
def test_medication_text_splits_into_name_and_strength(text: str, name: str, strength: str) -> None:
    assert split_strength(text) == (name, strength)
