"""Campaign dialing rules in the store, on both backends: windows in the patient's own zone,
the do-not-call list and opt-outs, pace, retries with back-off, one dialer per target."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from integrations.errors import InvalidField, NotFound
from integrations.services import campaigns, scheduling
from integrations.services.campaigns import CallBack, CampaignSettings, Dial
from integrations.store import Database
from integrations.store.models import (
    AuditEvent,
    CampaignAttempt,
    CampaignTarget,
    DoNotCall,
    Patient,
)
from tests.integrations.conftest import MONDAY, add_patient, add_small_clinic, same_store

NEW_YORK = ZoneInfo("America/New_York")
# 15:00 UTC on the test Monday (before DST): 10:00 in New York, 07:00 in Los Angeles.
NOON_ISH = datetime(2031, 3, 3, 15, 0, tzinfo=UTC)
ANYTIME = CampaignSettings(window_start=time(0, 0), window_end=time(23, 59), pace_per_minute=60)


async def _patients(db: Database, count: int) -> list[int]:
    return [
        await add_patient(db, f"Pat{i}", "Caller", date(1970, 1, 1 + i), f"+1555020{i:04d}")
        for i in range(count)
    ]


async def _campaign(
    db: Database,
    patients: list[int],
    settings: CampaignSettings = ANYTIME,
    kind: str = "results_ready",
) -> int:
    async with db.session() as s:
        campaign_id = await campaigns.create_campaign(
            s,
            name="test",
            kind=kind,
            targets=[(p, None) for p in patients],
            settings=settings,
            created_by="test",
        )
        await campaigns.set_status(s, campaign_id, "running", actor="test")
    return campaign_id


async def _claim(db: Database, now: datetime = NOON_ISH, worker: str = "w1") -> Dial | None:
    async with db.session() as s:
        return await campaigns.claim_next(s, now=now, clinic_zone=NEW_YORK, worker=worker)


async def _settle(db: Database, dial: Dial, result: str, now: datetime, **kw: object) -> str | None:
    async with db.session() as s:
        return await campaigns.settle_attempt(
            s,
            dial,
            result=result,
            now=now,
            clinic_zone=NEW_YORK,
            **kw,  # type: ignore[arg-type]
        )


async def _target(db: Database, target_id: int) -> CampaignTarget:
    async with db.session() as s:
        target = await s.get(CampaignTarget, target_id)
        assert target is not None
        return target


async def test_calls_only_inside_the_window_in_the_patients_own_time_zone(db: Database) -> None:
    east, west = await _patients(db, 2)
    async with db.session() as s:
        patient = await s.get(Patient, west)
        assert patient is not None
        patient.time_zone = "America/Los_Angeles"
        await s.commit()
    window = CampaignSettings(window_start=time(9, 0), window_end=time(17, 0), pace_per_minute=60)
    await _campaign(db, [east, west], window)

    dial = await _claim(db)  # 10:00 in New York, 07:00 in Los Angeles
    assert dial is not None and dial.patient_id == east
    assert await _claim(db) is None  # the west coast patient is put off, not called
    await _settle(db, dial, "answered", NOON_ISH, outcome="reached")
    async with db.session() as s:
        west_target = await s.scalar(
            select(CampaignTarget).where(CampaignTarget.patient_id == west)
        )
    assert west_target is not None and west_target.status == "pending"
    opening = west_target.next_attempt_at
    assert opening.astimezone(ZoneInfo("America/Los_Angeles")).time() == time(9, 0)
    assert opening.astimezone(ZoneInfo("America/Los_Angeles")).date() == MONDAY
    later = await _claim(db, now=opening)
    assert later is not None and later.patient_id == west


async def test_the_do_not_call_list_and_an_opt_out_are_honoured_at_once(db: Database) -> None:
    listed, opting, other = await _patients(db, 3)
    async with db.session() as s:
        await campaigns.do_not_call(
            s, number="(555) 020-0000", patient_id=None, reason="list", actor="test"
        )
    first = await _campaign(db, [listed, opting, other])
    second = await _campaign(db, [opting])
    dial = await _claim(db)
    assert dial is not None and dial.patient_id == opting  # the listed number is skipped
    # She says "stop calling me" on this call: her target in the other campaign ends too.
    async with db.session() as s:
        await campaigns.do_not_call(
            s, number=dial.number, patient_id=opting, reason="opt_out", call_id="c1"
        )
    assert await _settle(db, dial, "answered", NOON_ISH, outcome="opted_out") == "opted_out"
    nxt = await _claim(db)
    assert nxt is not None and nxt.patient_id == other
    assert await _claim(db) is None
    async with db.session() as s:
        one = await campaigns.campaign_status(s, first)
        two = await campaigns.campaign_status(s, second)
    assert one.outcomes == {"do_not_call": 1, "opted_out": 1}
    assert two.outcomes == {"opted_out": 1} and two.status == "done"
    # A later campaign never calls her either.
    third = await _campaign(db, [opting])
    assert await _claim(db, now=NOON_ISH + timedelta(minutes=5)) is None
    async with db.session() as s:
        assert (await campaigns.campaign_status(s, third)).outcomes == {"do_not_call": 1}


async def test_an_opt_out_the_call_could_not_write_is_written_with_the_attempt(
    db: Database,
) -> None:
    """The store was down when she said "stop calling me": the attempt's settling, which the
    dialer retries, writes her entry; written already, it is not written twice."""
    first, second = await _patients(db, 2)
    campaign_id = await _campaign(db, [first, second])
    later = await _campaign(db, [first])
    dial = await _claim(db)
    assert dial is not None and dial.patient_id == first
    # She hung up after saying it, before anyone was verified: her target ends all the same.
    assert await _settle(db, dial, "hung_up", NOON_ISH, opted_out=True) == "opted_out"
    async with db.session() as s:
        entries = list(await s.scalars(select(DoNotCall).where(DoNotCall.patient_id == first)))
        assert (await campaigns.campaign_status(s, later)).outcomes == {"opted_out": 1}
    assert [e.reason for e in entries] == ["opt_out"]
    nxt = await _claim(db)
    assert nxt is not None and nxt.patient_id == second
    assert await _settle(db, nxt, "answered", NOON_ISH, outcome="reached", opted_out=True)
    assert await _settle(db, nxt, "answered", NOON_ISH, outcome="reached", opted_out=True)
    async with db.session() as s:
        count = await s.scalar(select(func.count(DoNotCall.id)))
        outcomes = (await campaigns.campaign_status(s, campaign_id)).outcomes
    assert count == 2  # one each, however often the attempt is settled
    assert outcomes == {"opted_out": 1, "reached": 1}


async def test_a_number_taken_off_the_list_is_called_again_but_an_opt_out_stays(
    db: Database,
) -> None:
    listed, opting = await _patients(db, 2)
    async with db.session() as s:
        await campaigns.do_not_call(
            s, number="(555) 020-0000", patient_id=None, reason="list", actor="test"
        )
        await campaigns.do_not_call(s, number=None, patient_id=opting, reason="opt_out")
        with pytest.raises(InvalidField, match="not a phone number"):
            await campaigns.allow_calls_again(s, number="call me", actor="test")
        assert await campaigns.allow_calls_again(s, number="555-020-0000", actor="test") == 1
        assert await campaigns.allow_calls_again(s, number="555-020-0000", actor="test") == 0
    await _campaign(db, [listed, opting])
    dial = await _claim(db)
    assert dial is not None and dial.patient_id == listed  # her number may be called again
    assert await _claim(db) is None  # the patient who said "stop calling me" is not


async def test_pace_limits_dials_per_minute_across_processes(db: Database, data_key: bytes) -> None:
    patients = await _patients(db, 4)
    paced = CampaignSettings(window_start=time(0, 0), window_end=time(23, 59), pace_per_minute=2)
    await _campaign(db, patients, paced)
    async with same_store(db, data_key) as other:
        assert await _claim(db, worker="w1") is not None
        assert await _claim(other, worker="w2") is not None
        assert await _claim(other, worker="w2") is None  # two this minute, from either process
    assert await _claim(db, now=NOON_ISH + timedelta(seconds=61)) is not None


async def test_busy_and_no_answer_are_retried_with_doubling_gaps_then_end(db: Database) -> None:
    (patient,) = await _patients(db, 1)
    settings = CampaignSettings(
        window_start=time(0, 0), window_end=time(23, 59), max_attempts=3, retry_minutes=30
    )
    await _campaign(db, [patient], settings)
    now = NOON_ISH
    gaps = []
    for result in ("busy", "no_answer"):
        dial = await _claim(db, now=now)
        assert dial is not None
        assert await _settle(db, dial, result, now) is None
        target = await _target(db, dial.target_id)
        assert target.status == "pending"
        gaps.append(target.next_attempt_at - now)
        assert await _claim(db, now=now + timedelta(minutes=1)) is None  # not before its time
        now = target.next_attempt_at
    assert gaps == [timedelta(minutes=30), timedelta(minutes=60)]
    dial = await _claim(db, now=now)
    assert dial is not None
    assert await _settle(db, dial, "busy", now) == "busy"  # the third attempt was the last
    target = await _target(db, dial.target_id)
    assert (target.status, target.attempts, target.outcome) == ("done", 3, "busy")
    async with db.session() as s:
        results = list(await s.scalars(select(CampaignAttempt.result).order_by(CampaignAttempt.id)))
        status = await campaigns.campaign_status(s, dial.campaign_id)
    assert results == ["busy", "no_answer", "busy"]
    assert status.status == "done" and status.attempts == {"busy": 2, "no_answer": 1}


async def test_a_retry_that_would_fall_outside_the_window_waits_for_its_opening(
    db: Database,
) -> None:
    (patient,) = await _patients(db, 1)
    settings = CampaignSettings(
        window_start=time(9, 0), window_end=time(17, 0), retry_minutes=8 * 60
    )
    await _campaign(db, [patient], settings)
    dial = await _claim(db)
    assert dial is not None
    await _settle(db, dial, "no_answer", NOON_ISH)  # 10:00 + 8 h = 18:00: after the window
    target = await _target(db, dial.target_id)
    local = target.next_attempt_at.astimezone(NEW_YORK)
    assert (local.date(), local.time()) == (MONDAY + timedelta(days=1), time(9, 0))


async def test_call_me_after_six_keeps_her_hours_and_the_next_try_falls_inside_them(
    db: Database,
) -> None:
    """"Call me back after 6" at 10:00 New York time: the retry is at 18:00 her time, not an
    hour later; her hours stay on her record for the next campaign, and a campaign whose
    window ends before them ends her target as outside her hours rather than calling."""
    her, other = await _patients(db, 2)
    evening = CampaignSettings(window_start=time(9), window_end=time(20), pace_per_minute=60)
    await _campaign(db, [her], evening)
    dial = await _claim(db)
    assert dial is not None and dial.patient_id == her
    back = CallBack(after=time(18))
    assert await _settle(db, dial, "call_later", NOON_ISH, call_back=back) is None
    target = await _target(db, dial.target_id)
    local = target.next_attempt_at.astimezone(NEW_YORK)
    assert (local.date(), local.time()) == (MONDAY, time(18, 0))
    async with db.session() as s:
        patient = await s.get(Patient, her)
        assert patient is not None and (patient.call_after, patient.call_before) == (time(18), None)
        audit = await s.scalar(select(AuditEvent).where(AuditEvent.action == "call_hours"))
    assert audit is not None and audit.detail == {"after": "18:00:00", "before": None}
    assert await _claim(db, now=NOON_ISH + timedelta(hours=2)) is None  # 12:00 hers: not yet
    again = await _claim(db, now=target.next_attempt_at)
    assert again is not None and again.patient_id == her

    # A day-time campaign (09:00-17:00) never meets her hours: not called, and says why.
    daytime = CampaignSettings(window_start=time(9), window_end=time(17), pace_per_minute=60)
    later = await _campaign(db, [her, other], daytime)
    nxt = await _claim(db, now=NOON_ISH + timedelta(minutes=5))
    assert nxt is not None and nxt.patient_id == other
    async with db.session() as s:
        assert (await campaigns.campaign_status(s, later)).outcomes == {"outside_hours": 1}


async def test_call_me_tomorrow_waits_for_tomorrows_window_and_runs_out_as_reached(
    db: Database,
) -> None:
    (her,) = await _patients(db, 1)
    settings = CampaignSettings(
        window_start=time(9), window_end=time(19), max_attempts=2, pace_per_minute=60
    )
    await _campaign(db, [her], settings)
    dial = await _claim(db)
    assert dial is not None
    await _settle(db, dial, "call_later", NOON_ISH, call_back=CallBack(tomorrow=True))
    target = await _target(db, dial.target_id)
    local = target.next_attempt_at.astimezone(NEW_YORK)
    assert (local.date(), local.time()) == (MONDAY + timedelta(days=1), time(9, 0))
    async with db.session() as s:
        patient = await s.get(Patient, her)
        assert patient is not None and patient.call_after is None  # no hours given, none kept
    again = await _claim(db, now=target.next_attempt_at)
    assert again is not None
    # Asked again on the last attempt: she was reached, the campaign does not chase her.
    outcome = await _settle(db, again, "call_later", target.next_attempt_at, call_back=CallBack())
    assert outcome == "reached"


async def test_two_dialers_never_call_the_same_patient(db: Database, data_key: bytes) -> None:
    patients = await _patients(db, 6)
    await _campaign(db, patients)
    async with same_store(db, data_key) as other:

        async def drain(store: Database, worker: str) -> list[int]:
            got = []
            while (dial := await _claim(store, worker=worker)) is not None:
                got.append(dial.patient_id)
                await asyncio.sleep(0)
            return got

        one, two = await asyncio.gather(drain(db, "w1"), drain(other, "w2"))
    assert sorted(one + two) == sorted(patients)


async def test_a_dialer_that_died_mid_call_loses_its_claim(db: Database) -> None:
    (patient,) = await _patients(db, 1)
    await _campaign(db, [patient])
    dial = await _claim(db)
    assert dial is not None
    assert await _claim(db, now=NOON_ISH + timedelta(minutes=5)) is None  # still held
    again = await _claim(db, now=NOON_ISH + campaigns.CLAIM_HOLD + timedelta(seconds=1))
    assert again is not None and again.target_id == dial.target_id
    async with db.session() as s:
        first = await s.get(CampaignAttempt, dial.attempt_id)
    assert first is not None and first.result == "failed" and first.ended is not None


async def test_a_reminder_for_a_cancelled_appointment_is_not_called(db: Database) -> None:
    await add_small_clinic(db)
    (patient,) = await _patients(db, 1)
    async with db.session() as s:
        offers = await scheduling.find_slots(
            s, when=None, limit=2, now=datetime.combine(MONDAY, time(7, 0))
        )
        kept = await scheduling.book(s, call_id="c1", patient_id=patient, slot_id=offers[0].slot_id)
        gone = await scheduling.book(s, call_id="c1", patient_id=patient, slot_id=offers[1].slot_id)
        targets = await campaigns.appointment_targets(s, MONDAY, MONDAY + timedelta(days=6))
        assert sorted(targets) == sorted(
            [(patient, kept.appointment_id), (patient, gone.appointment_id)]
        )
        campaign_id = await campaigns.create_campaign(
            s, name="r", kind="reminder", targets=targets, settings=ANYTIME, created_by="t"
        )
        await campaigns.set_status(s, campaign_id, "running", actor="t")
        await scheduling.cancel(
            s, call_id="c2", patient_id=patient, appointment_id=gone.appointment_id
        )
    dial = await _claim(db)
    assert dial is not None and dial.appointment_id == kept.appointment_id
    assert await _claim(db) is None
    async with db.session() as s:
        status = await campaigns.campaign_status(s, campaign_id)
        rows = await campaigns.campaign_results(s, campaign_id)
    assert status.outcomes == {"not_needed": 1} and status.by_status == {"dialing": 1, "done": 1}
    assert {r["outcome"] for r in rows} == {None, "not_needed"}


async def test_paused_campaigns_place_no_calls_and_bad_campaigns_are_refused(
    db: Database,
) -> None:
    patients = await _patients(db, 2)
    campaign_id = await _campaign(db, patients)
    async with db.session() as s:
        await campaigns.set_status(s, campaign_id, "paused", actor="t")
    assert await _claim(db) is None
    async with db.session() as s:
        with pytest.raises(InvalidField):
            await campaigns.create_campaign(
                s, name="x", kind="sales", targets=[(patients[0], None)], settings=ANYTIME,
                created_by="t",
            )  # fmt: skip
        with pytest.raises(InvalidField):
            await campaigns.create_campaign(
                s, name="x", kind="reminder", targets=[], settings=ANYTIME, created_by="t"
            )
        with pytest.raises(InvalidField):
            backwards = CampaignSettings(window_start=time(18, 0), window_end=time(9, 0))
            await campaigns.create_campaign(
                s, name="x", kind="reminder", targets=[(patients[0], None)],
                settings=backwards, created_by="t",
            )  # fmt: skip
        with pytest.raises(NotFound):
            await campaigns.create_campaign(
                s, name="x", kind="reminder", targets=[(999_999, None)], settings=ANYTIME,
                created_by="t",
            )  # fmt: skip
