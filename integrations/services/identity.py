"""Who is calling: verify a caller by spoken name + date of birth, with caller ID as a tie-breaker.

Two identifiers are always required (name and DOB). The caller's number only narrows the
candidates: it lowers the name threshold a little and separates namesakes sharing a DOB, but
a number and a DOB without a name that sounds like the patient's never verify anyone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import NotFound
from integrations.phone_numbers import normalise_phone
from integrations.services.audit import add_audit
from integrations.services.transaction import atomic
from integrations.store.crypto import cipher_of
from integrations.store.indexes import dob_key, number_key
from integrations.store.models import Patient, PatientPhone
from nlu.names import name_score
from nlu.spelling import matching_surname

log = logging.getLogger(__name__)

# Thresholds on nlu.names.name_score. Measured: ASR slips of a common name score 0.91-0.94,
# mangled rare names ("olu wa shane adeyemi") 0.75-0.78, another family member 0.6-0.8.
NAME_MATCH = 0.85
NAME_MATCH_WITH_CALLER_ID = 0.75
# Two namesakes are told apart only when the best is near-exact and clearly ahead.
CLEAR_WINNER = 0.95
CLEAR_MARGIN = 0.08

Status = Literal["verified", "no_match", "ambiguous"]


@dataclass(frozen=True)
class Verification:
    status: Status
    patient_id: int | None
    display_name: str | None
    # True when the name alone was not a confident match (caller ID or a namesake margin
    # decided): the dialog should read `display_name` back before going on.
    needs_confirmation: bool = False
    # True when the name matched only as heard the second time (see `verify_caller`).
    second_hearing: bool = False


@dataclass(frozen=True)
class PatientInfo:
    patient_id: int
    display_name: str
    dob: date
    phones: tuple[str, ...]
    mrn: str | None


@dataclass(frozen=True)
class _Candidate:
    patient: Patient
    score: float  # the better of the two hearings
    number_matches: bool
    first_score: float  # the name as first heard, before the date of birth was known


async def verify_caller(
    s: AsyncSession,
    spoken_name: str,
    dob: date,
    caller_number: str | None,
    *,
    call_id: str | None = None,
    heard_again: str | None = None,
) -> Verification:
    """Verify the caller against patients born on `dob`; see the module docstring for the rule.

    `heard_again` is the same spoken name decoded a second time with the names of the patients
    born on `dob` as hints; it counts as the name only at the full threshold, never with the
    caller-ID allowance, and a patient matched only through it is never read back."""
    async with atomic(s):
        number = normalise_phone(caller_number)
        patients = (await s.scalars(select(Patient).where(Patient.dob_index == _dob(s, dob)))).all()
        candidates = [_candidate(p, spoken_name, heard_again, number) for p in patients]
        chosen, status, confirm = _decide(candidates)
        picked = next((c for c in candidates if c.patient is chosen), None)
        second_hearing = picked is not None and picked.first_score < NAME_MATCH <= picked.score
        add_audit(
            s,
            actor="bot",
            action="verify_caller",
            patient_id=chosen.id if chosen else None,
            call_id=call_id,
            detail={
                "status": status,
                "candidates": len(candidates),
                "second_hearing": second_hearing,
            },
        )
        log.info(
            "caller verification",
            extra={"call_id": call_id, "status": status, "same_dob": len(candidates)},
        )
        if chosen is None:
            return Verification(status, None, None)
        if second_hearing:
            # Her name was heard right only with the candidates' names as hints: reading one
            # back would tell a caller who mumbled a name that sounds near it.
            confirm = False
        return Verification("verified", chosen.id, chosen.full_name, confirm, second_hearing)


async def verify_by_spelling(
    s: AsyncSession, spelled: str, dob: date, *, call_id: str | None = None
) -> Verification:
    """A caller whose spoken name matched nobody spells her surname. The date of birth she
    confirmed and the surname's letters are the two identifiers: verified when the letters are
    the surname of one patient born that day (`nlu.spelling.matching_surname`: exact for a
    short surname, a slip allowed in a long one when no other surname comes as close). Twins,
    or namesakes born the same day, stay unverified: the letters cannot tell them apart. The
    matched name is never read back (she did not say it)."""
    async with atomic(s):
        patients = (await s.scalars(select(Patient).where(Patient.dob_index == _dob(s, dob)))).all()
        surname = matching_surname(spelled, [p.last_name for p in patients])
        matched = [p for p in patients if surname is not None and p.last_name == surname]
        chosen = matched[0] if len(matched) == 1 else None
        status: Status = "verified" if chosen else ("ambiguous" if matched else "no_match")
        add_audit(
            s,
            actor="bot",
            action="verify_caller",
            patient_id=chosen.id if chosen else None,
            call_id=call_id,
            detail={"status": status, "candidates": len(patients), "spelled": True},
        )
        log.info(
            "caller verification by spelling",
            extra={"call_id": call_id, "status": status, "same_dob": len(patients)},
        )
        if chosen is None:
            return Verification(status, None, None)
        return Verification("verified", chosen.id, chosen.full_name)


def _dob(s: AsyncSession, dob: date) -> str:
    """Dates of birth are stored encrypted: patients are found by the date's blind index."""
    return dob_key(cipher_of(s), dob)


def _candidate(
    patient: Patient, spoken: str, heard_again: str | None, number: str | None
) -> _Candidate:
    first = name_score(spoken, patient.full_name)
    again = name_score(heard_again, patient.full_name) if heard_again else 0.0
    # A second hearing counts only as a full match: biased by the names it was given, a near
    # miss of it says little.
    best = max(first, again) if again >= NAME_MATCH else first
    return _Candidate(patient, best, _has_number(patient, number), first)


def _has_number(patient: Patient, number: str | None) -> bool:
    return number is not None and any(ph.number == number for ph in patient.phones)


def _decide(candidates: list[_Candidate]) -> tuple[Patient | None, Status, bool]:
    """(patient, status, needs_confirmation) for the candidates born on the spoken DOB."""
    passing = [
        c
        for c in candidates
        if c.score >= NAME_MATCH
        or (c.number_matches and c.first_score >= NAME_MATCH_WITH_CALLER_ID)
    ]
    if not passing:
        return None, "no_match", False
    if len(passing) == 1:
        return passing[0].patient, "verified", passing[0].score < NAME_MATCH
    by_number = [c for c in passing if c.number_matches]
    if len(by_number) == 1:
        return by_number[0].patient, "verified", True
    ranked = sorted(passing, key=lambda c: c.score, reverse=True)
    best, second = ranked[0], ranked[1]
    if best.score >= CLEAR_WINNER and best.score - second.score >= CLEAR_MARGIN:
        return best.patient, "verified", True
    return None, "ambiguous", False


def _info(p: Patient) -> PatientInfo:
    return PatientInfo(p.id, p.full_name, p.dob, tuple(ph.number for ph in p.phones), p.mrn)


async def get_patient(s: AsyncSession, patient_id: int, *, viewer: str = "bot") -> PatientInfo:
    """One patient's demographics; the read is written to the audit log as `viewer`."""
    async with atomic(s):
        patient = await s.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"no patient with id {patient_id}")
        add_audit(s, actor=viewer, action="view_patient", patient_id=patient_id)
        return _info(patient)


async def patients_by_number(s: AsyncSession, caller_number: str | None) -> list[PatientInfo]:
    """Patients on file with this phone number (for a screen-pop hint, never for verification)."""
    number = normalise_phone(caller_number)
    if number is None:
        return []
    async with atomic(s):
        rows = await s.scalars(
            select(Patient)
            .join(PatientPhone)
            .where(PatientPhone.number_index == number_key(cipher_of(s), number))
            .order_by(Patient.id)
        )
        return [_info(p) for p in rows.unique()]


async def names_born_on(s: AsyncSession, dob: date) -> list[str]:
    """Full names of patients born on `dob`: vocabulary to bias a second ASR pass on the name."""
    async with atomic(s):
        rows = await s.execute(
            select(Patient.first_name, Patient.last_name).where(Patient.dob_index == _dob(s, dob))
        )
        return sorted({f"{first} {last}" for first, last in rows})


async def surnames_born_on(s: AsyncSession, dob: date) -> list[str]:
    """Surnames of patients born on `dob`: what a spelled surname is heard as (held to them)."""
    async with atomic(s):
        rows = await s.scalars(select(Patient.last_name).where(Patient.dob_index == _dob(s, dob)))
        return sorted(set(rows))
