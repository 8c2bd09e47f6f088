"""Pure pieces of the store: phone numbers, password hashes, FHIR medication text."""

from __future__ import annotations

import base64
import hashlib

import pytest

from integrations.passwords import hash_password, needs_rehash, verify_password
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
    assert stored.startswith("$argon2id$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horse ", stored)
    assert hash_password("correct horse") != stored, "each hash has its own salt"
    assert not needs_rehash(stored)


def test_an_older_scrypt_hash_still_verifies_and_asks_to_be_rehashed() -> None:
    # Written by the scrypt scheme used before Argon2id (n=2**14, r=8, p=1).
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"correct horse", salt=salt, n=2**14, r=8, p=1, dklen=32)
    stored = (f"scrypt${2**14}$8$1${base64.b64encode(salt).decode()}$"
              f"{base64.b64encode(digest).decode()}")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horse!", stored)
    assert needs_rehash(stored)


def test_an_unknown_user_costs_a_real_hash_and_never_matches(monkeypatch) -> None:
    import integrations.passwords as passwords

    seen: list[str] = []
    real = passwords._verify_argon2
    monkeypatch.setattr(passwords, "_verify_argon2", lambda pw, h: seen.append(h) or real(pw, h))
    assert not verify_password("anything", None)
    assert len(seen) == 1 and seen[0].startswith("$argon2id$")


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
