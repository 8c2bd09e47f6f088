"""Caller verification: name + date of birth; caller ID narrows but never verifies alone."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from integrations.services import identity
from integrations.store import Database
from integrations.store.models import AuditEvent
from tests.integrations.conftest import add_patient

DOB = date(1972, 3, 4)


@pytest.fixture
async def maria(db: Database) -> int:
    await add_patient(db, "Marcus", "Lopez", DOB, "+15550100099")  # same DOB, other person
    await add_patient(db, "Maria", "Lopez", date(1975, 3, 4), "+15550100098")
    return await add_patient(db, "Maria", "Lopez", DOB, "+15550100001")


async def _verify(db: Database, name: str, dob: date, number: str | None = None):
    async with db.session() as s:
        return await identity.verify_caller(s, name, dob, number)


async def test_name_and_date_of_birth_verify_the_caller(db: Database, maria: int) -> None:
    result = await _verify(db, "Maria Lopez", DOB)
    assert result == identity.Verification("verified", maria, "Maria Lopez")


@pytest.mark.parametrize("heard", ["maria lopes", "Lopez, Maria", "MARIA LOPEZ"])
async def test_small_recognition_slips_in_the_name_still_verify(
    db: Database, maria: int, heard: str
) -> None:
    result = await _verify(db, heard, DOB)
    assert (result.status, result.patient_id) == ("verified", maria)


async def test_a_wrong_date_of_birth_does_not_verify(db: Database, maria: int) -> None:
    result = await _verify(db, "Maria Lopez", date(1972, 4, 3), "+15550100001")
    assert result == identity.Verification("no_match", None, None)


async def test_someone_else_with_the_same_birthday_does_not_verify(
    db: Database, maria: int
) -> None:
    assert (await _verify(db, "Rebecca Thornton", DOB)).status == "no_match"


async def test_caller_id_and_birthday_without_the_name_never_verify(
    db: Database, maria: int
) -> None:
    result = await _verify(db, "Rebecca Thornton", DOB, "+15550100001")
    assert result.status == "no_match" and result.patient_id is None


async def test_duplicate_records_are_ambiguous_until_caller_id_narrows_them(
    db: Database,
) -> None:
    dob = date(1990, 7, 19)
    await add_patient(db, "Chris", "Morgan", dob, "+15550100020")
    second = await add_patient(db, "Chris", "Morgan", dob, "+15550100021")
    assert (await _verify(db, "Chris Morgan", dob)).status == "ambiguous"
    assert (await _verify(db, "Chris Morgan", dob, "+15550100031")).status == "ambiguous"
    narrowed = await _verify(db, "Chris Morgan", dob, "(555) 010-0021")
    assert (narrowed.status, narrowed.patient_id) == ("verified", second)


async def test_every_verification_attempt_is_audited(db: Database, maria: int) -> None:
    async with db.session() as s:
        await identity.verify_caller(s, "Maria Lopez", DOB, None, call_id="call-7")
        await identity.verify_caller(s, "Nobody Known", DOB, None, call_id="call-7")
        rows = (await s.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    assert [(r.action, r.patient_id, r.detail["status"]) for r in rows] == [
        ("verify_caller", maria, "verified"),
        ("verify_caller", None, "no_match"),
    ]


async def test_patients_are_found_by_caller_id_for_a_screen_pop_hint(
    db: Database, maria: int
) -> None:
    async with db.session() as s:
        found = await identity.patients_by_number(s, "sip:+15550100001@10.0.0.9")
        assert [p.patient_id for p in found] == [maria]
        assert await identity.patients_by_number(s, "anonymous") == []


async def test_names_born_on_a_date_bias_the_recogniser(db: Database, maria: int) -> None:
    async with db.session() as s:
        assert await identity.names_born_on(s, DOB) == ["Marcus Lopez", "Maria Lopez"]


async def test_caller_id_lets_a_mangled_rare_name_through_with_a_read_back(
    db: Database,
) -> None:
    dob = date(1988, 6, 2)
    pid = await add_patient(db, "Oluwaseun", "Adeyemi", dob, "+15550100040")
    heard = "olu wa shane adeyemi"
    assert (await _verify(db, heard, dob)).status == "no_match"
    helped = await _verify(db, heard, dob, "+15550100040")
    assert (helped.status, helped.patient_id, helped.needs_confirmation) == ("verified", pid, True)


async def test_twins_on_one_household_line_are_ambiguous_by_nickname(db: Database) -> None:
    dob = date(2001, 9, 14)
    await add_patient(db, "Daniel", "Reyes", dob, "+15550100004")
    await add_patient(db, "Danielle", "Reyes", dob, "+15550100004")
    assert (await _verify(db, "Danny Reyes", dob, "+15550100004")).status == "ambiguous"


# The same name decoded again with the names of the patients born on the date as hints.
async def _verify_heard_again(
    db: Database, first: str, again: str, dob: date, number: str | None = None
) -> identity.Verification:
    async with db.session() as s:
        return await identity.verify_caller(s, first, dob, number, heard_again=again)


async def test_a_name_heard_right_the_second_time_verifies_without_a_read_back(
    db: Database,
) -> None:
    born = date(1983, 5, 17)
    pid = await add_patient(db, "Xiaoming", "Okonkwo", born, "+15550100777")
    first = "the I'm in the Conco"  # how the recogniser first heard her, no hints
    assert (await _verify(db, first, born)).status == "no_match"
    result = await _verify_heard_again(db, first, "Xiaoming Okonkwo", born)
    assert result == identity.Verification("verified", pid, "Xiaoming Okonkwo", False, True)
    async with db.session() as s:
        audit = (await s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()))).first()
    assert audit is not None and audit.detail["second_hearing"] is True


async def test_a_second_hearing_that_is_only_close_counts_for_nothing(db: Database) -> None:
    born = date(1983, 5, 17)
    await add_patient(db, "Saoirse", "MacLeod", born, "+15550100777")
    near = "Sasha MacLeod"  # heard that way again, even with her name as a hint
    assert identity.name_score(near, "Saoirse MacLeod") >= identity.NAME_MATCH_WITH_CALLER_ID
    assert identity.name_score(near, "Saoirse MacLeod") < identity.NAME_MATCH
    # Near is not enough from a hearing biased towards the name, caller ID or not.
    for number in (None, "+15550100777"):
        result = await _verify_heard_again(db, "Sir Worsamakloud", near, born, number)
        assert result.status == "no_match"


async def test_a_second_hearing_of_someone_else_s_name_does_not_verify(
    db: Database, maria: int
) -> None:
    # Another person's name said with Maria's date of birth: both hearings stay far from hers.
    result = await _verify_heard_again(db, "Ethan Smith", "Ethan Smith", DOB)
    assert result.status == "no_match"
