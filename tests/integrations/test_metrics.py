"""Supervisor metrics on seeded call records, on SQLite and PostgreSQL, and window parsing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from integrations.errors import InvalidField
from integrations.services import calls, refills, scheduling, tasks, turned_away
from integrations.services.metrics import Window, call_metrics, parse_window, percentile
from integrations.store import Database
from tests.integrations.conftest import NOW, add_patient, add_small_clinic, medication_ids

NEW_YORK = ZoneInfo("America/New_York")
DAY = date(2031, 3, 3)
# 09:00 in New York on DAY; the clinic-local day runs 05:00Z on the 3rd to 05:00Z on the 4th.
T0 = datetime(2031, 3, 3, 14, 0, tzinfo=UTC)
CALLER = "+15550100001"


async def _call(
    db: Database,
    call_id: str,
    start: datetime,
    seconds: float | None,
    disposition: str | None,
    *,
    intents: tuple[str, ...] = (),
    events: tuple[tuple[str, dict[str, object]], ...] = (),
    **fields: object,
) -> None:
    async with db.session() as s:
        await calls.open_call(s, call_id=call_id, caller_number=CALLER, started=start)
        for intent in intents:
            await calls.add_event(s, call_id=call_id, kind="intent", data={"name": intent})
        for kind, data in events:
            await calls.add_event(s, call_id=call_id, kind=kind, data=data)
        if fields:
            await calls.set_fields(s, call_id, **fields)
        if seconds is not None:
            await calls.close_call(
                s,
                call_id=call_id,
                ended=start + timedelta(seconds=seconds),
                disposition=disposition,
            )
        elif disposition is not None:
            await calls.set_fields(s, call_id, disposition=disposition)


async def seed_day(db: Database) -> None:
    """Ten calls on DAY (clinic-local) and two the day before, each with a known outcome."""
    await add_small_clinic(db, days=10)
    pid = await add_patient(
        db,
        "Maria",
        "Lopez",
        date(1972, 3, 4),
        CALLER,
        meds=(("lisinopril", "10 mg", 3, False), ("metformin", "500 mg", 2, False)),
    )
    meds = await medication_ids(db, pid)
    async with db.session() as s:
        free = await scheduling.find_slots(s, when=None, now=NOW, limit=5)
    slot_ids = [slot.slot_id for slot in free]

    # The day before (both outside the window): a booking, a refill, two callbacks.
    await _call(db, "c-old", T0 - timedelta(days=1), 200, "appointment_booked")
    async with db.session() as s:
        old = await scheduling.book(s, call_id="c-old", patient_id=pid, slot_id=slot_ids[0])
        await refills.request_refill(
            s, call_id="c-old", patient_id=pid, medication_id=meds["metformin"]
        )
        await tasks.create_task(
            s, kind="callback", queue="front_desk", patient_id=pid, call_id="c-old", note="x"
        )
    # 23:00 in New York the evening before, though the 3rd in UTC.
    await _call(db, "c-early", datetime(2031, 3, 3, 4, 0, tzinfo=UTC), 50, "task_created")
    async with db.session() as s:
        done = await tasks.create_task(
            s, kind="callback", queue="front_desk", patient_id=None, call_id="c-early", note="y"
        )
        await tasks.complete_task(s, done)

    # DAY: four contained calls.
    await _call(
        db,
        "c-refill",
        T0,
        120,
        None,
        intents=("request_refill", "request_refill"),
        verified_patient_id=pid,
    )
    async with db.session() as s:
        await refills.request_refill(
            s, call_id="c-refill", patient_id=pid, medication_id=meds["lisinopril"]
        )
        await calls.set_fields(s, "c-refill", disposition="refill_requested")
    await _call(
        db,
        "c-book",
        T0 + timedelta(minutes=5),
        180,
        "appointment_booked",
        intents=("book_appointment",),
    )
    async with db.session() as s:
        await scheduling.book(s, call_id="c-book", patient_id=pid, slot_id=slot_ids[1])
    await _call(
        db,
        "c-move",
        T0 + timedelta(minutes=10),
        240,
        "appointment_rescheduled",
        intents=("reschedule_appointment",),
    )
    async with db.session() as s:
        await scheduling.reschedule(
            s,
            call_id="c-move",
            patient_id=pid,
            appointment_id=old.appointment_id,
            slot_id=slot_ids[2],
        )
    await _call(
        db,
        "c-cb",
        T0 + timedelta(minutes=15),
        100,
        "task_created",
        triage_level="urgent",
        flags=["fever"],
    )
    async with db.session() as s:
        await tasks.create_task(
            s, kind="nurse_callback", queue="nurse", patient_id=None, call_id="c-cb", note="z"
        )

    # DAY: two answered transfers, one abandoned, one silent hang-up, one still going.
    offered = ("transfer_offered", {"queue": "front_desk", "agent_id": 1})
    await _call(
        db,
        "c-xfer",
        T0 + timedelta(minutes=20),
        300,
        "transferred",
        intents=("speak_to_human",),
        events=(offered, ("transfer_answered", {"queue": "front_desk", "seconds_to_answer": 20})),
        transferred=True,
        transfer_queue="front_desk",
    )
    await _call(
        db,
        "c-emerg",
        T0 + timedelta(minutes=25),
        200,
        "emergency_transferred",
        events=(("transfer_answered", {"queue": "nurse", "seconds_to_answer": 8.0}),),
        triage_level="emergent",
        flags=["chest_pain"],
        emergency_message_played=True,
        transferred=True,
        transfer_queue="nurse",
    )
    await _call(
        db,
        "c-aband",
        T0 + timedelta(minutes=30),
        90,
        "abandoned",
        events=(
            ("transfer_offered", {"queue": "nurse"}),
            ("transfer_abandoned", {"queue": "nurse", "seconds_waiting": 45.0}),
        ),
        transfer_queue="nurse",
    )
    await _call(db, "c-silent", T0 + timedelta(minutes=35), 60, "abandoned")
    await _call(db, "c-live", T0 + timedelta(minutes=40), None, None)
    # 22:00 in New York: still DAY locally, already the 4th in UTC.
    await _call(db, "c-late", datetime(2031, 3, 4, 3, 0, tzinfo=UTC), 30, "caller_hung_up")


async def test_a_clinic_day_in_numbers(db: Database) -> None:
    await seed_day(db)
    async with db.session() as s:
        metrics = (await call_metrics(s, Window.day(DAY, NEW_YORK))).to_json()
    assert metrics["window"] == {
        "from": "2031-03-03T05:00:00+00:00",
        "to": "2031-03-04T05:00:00+00:00",
        "timezone": "America/New_York",
    }
    assert metrics["calls"] == {
        "total": 10,
        "ended": 9,
        "in_progress": 1,
        "contained": 4,
        "transfer_requested": 3,
        "transferred": 2,
        "abandoned": 1,
        "emergent": 1,
        "urgent": 1,
        "turned_away": 0,
    }
    assert metrics["rates"] == {"containment": 0.444, "transfer": 0.222, "abandonment": 0.333}
    # The charts: one clinic-local day, its rates those of the window; calls by local hour.
    assert metrics["by_day"] == [
        {"day": "2031-03-03", "calls": 10, "containment": 0.444, "transfer": 0.222}
    ]
    assert sum(metrics["by_hour"]) == 10 and len(metrics["by_hour"]) == 24
    assert metrics["by_hour"][9] >= 1 and sum(metrics["by_hour"][:5]) == 0  # 09:00 New York
    # 30 60 90 100 120 180 200 240 300
    assert metrics["handle_time_seconds"] == {
        "all": {"count": 9, "median": 120.0, "p90": 252.0, "mean": 146.7},  # 1320 / 9
        "contained": {"count": 4, "median": 150.0, "p90": 222.0, "mean": 160.0},  # 100 120 180 240
        "transferred": {"count": 2, "median": 250.0, "p90": 290.0, "mean": 250.0},
    }
    # The mean is the average speed of answer.
    assert metrics["time_to_answer_seconds"] == {
        "count": 2, "median": 14.0, "p90": 18.8, "mean": 14.0
    }
    assert metrics["by_queue"] == [
        {
            "queue": "front_desk",
            "requested": 1,
            "answered": 1,
            "abandoned": 0,
            "median_seconds_to_answer": 20.0,
        },
        {
            "queue": "nurse",
            "requested": 2,
            "answered": 1,
            "abandoned": 1,
            "median_seconds_to_answer": 8.0,
        },
    ]
    assert metrics["by_disposition"] == {
        "abandoned": 2,
        "appointment_booked": 1,
        "appointment_rescheduled": 1,
        "caller_hung_up": 1,
        "emergency_transferred": 1,
        "none": 1,
        "refill_requested": 1,
        "task_created": 1,
        "transferred": 1,
    }
    assert list(metrics["by_disposition"])[0] == "abandoned"  # largest first
    assert metrics["by_intent"] == {
        "book_appointment": 1,
        "request_refill": 1,
        "reschedule_appointment": 1,
        "speak_to_human": 1,
    }
    assert metrics["refill_requests"] == 1
    assert metrics["appointments"] == {"booked": 1, "rescheduled": 1}
    assert metrics["callbacks"] == {"created": 1, "open": 2}


async def test_the_figures_hold_no_phi(db: Database) -> None:
    await seed_day(db)
    async with db.session() as s:
        text = json.dumps((await call_metrics(s, Window.day(DAY, NEW_YORK))).to_json())
    for secret in ("Maria", "Lopez", "lisinopril", "5550100001", "c-refill", "fever", "1972"):
        assert secret not in text


async def test_the_utc_day_differs_from_the_clinic_day(db: Database) -> None:
    await seed_day(db)
    async with db.session() as s:
        utc = (await call_metrics(s, Window.day(DAY, UTC, "UTC"))).to_json()
    # c-early (04:00Z) joins, c-late (03:00Z on the 4th) leaves.
    assert utc["calls"]["total"] == 10
    assert utc["by_disposition"].get("caller_hung_up") is None
    assert utc["callbacks"]["created"] == 2


async def test_callers_turned_away_are_counted_in_their_window(db: Database) -> None:
    async with db.session() as s:
        await turned_away.record(s, 1, "front", T0)
        await turned_away.record(s, 3, "clinic-host/sip:5060", T0 + timedelta(hours=2))
        await turned_away.record(s, 0, "front", T0)  # nothing refused: no row
        await turned_away.record(s, 2, "front", T0 + timedelta(days=1))  # the next day
    async with db.session() as s:
        day = (await call_metrics(s, Window.day(DAY, NEW_YORK))).to_json()
        before = (await call_metrics(s, Window.day(DAY - timedelta(days=1), NEW_YORK))).to_json()
    assert day["calls"]["turned_away"] == 4
    assert day["calls"]["total"] == 0  # a refused caller never became a call
    assert before["calls"]["turned_away"] == 0


async def test_an_empty_window_gives_zeros_and_no_rates(db: Database) -> None:
    await seed_day(db)
    async with db.session() as s:
        empty = (await call_metrics(s, Window.day(date(2031, 6, 1), NEW_YORK))).to_json()
    assert set(empty["calls"].values()) == {0}
    assert empty["rates"] == {"containment": None, "transfer": None, "abandonment": None}
    assert empty["handle_time_seconds"]["all"] == {
        "count": 0, "median": None, "p90": None, "mean": None
    }
    assert empty["first_contact_resolution"] == {"resolved": 0, "calls": 0, "rate": None, "days": 7}
    assert empty["by_queue"] == [] and empty["by_intent"] == {} and empty["by_disposition"] == {}
    assert empty["callbacks"] == {"created": 0, "open": 2}  # the backlog is counted now


async def test_unreadable_event_data_is_skipped_not_fatal(db: Database) -> None:
    await _call(
        db,
        "odd",
        T0,
        10,
        "transferred",
        events=(
            ("transfer_answered", {"queue": "nurse", "seconds_to_answer": "soon"}),
            ("intent", {"name": "<script>alert(1)</script>"}),
        ),
        transferred=True,
        transfer_queue="nurse",
    )
    async with db.session() as s:
        metrics = (await call_metrics(s, Window.day(DAY, NEW_YORK))).to_json()
    assert metrics["time_to_answer_seconds"]["count"] == 0
    assert metrics["by_intent"] == {}
    assert metrics["by_queue"][0]["median_seconds_to_answer"] is None


# ---- window parsing (no database) ------------------------------------------------------
NOON = datetime(2031, 3, 3, 17, 0, tzinfo=UTC)


def test_no_bounds_means_today_in_the_clinic_zone() -> None:
    late = datetime(2031, 3, 4, 2, 0, tzinfo=UTC)  # 21:00 on the 3rd in New York
    assert parse_window(None, None, NEW_YORK, late) == Window.day(DAY, NEW_YORK)
    assert parse_window("", "", NEW_YORK, NOON) == Window.day(DAY, NEW_YORK)


def test_dates_are_whole_clinic_days_and_to_is_inclusive() -> None:
    window = parse_window("2031-03-01", "2031-03-03", NEW_YORK, NOON)
    assert window.start == datetime(2031, 3, 1, 5, 0, tzinfo=UTC)
    assert window.end == datetime(2031, 3, 4, 5, 0, tzinfo=UTC)
    assert parse_window(None, "2031-03-03", NEW_YORK, NOON) == Window.day(DAY, NEW_YORK)
    from_only = parse_window("2031-03-01", None, NEW_YORK, NOON)
    assert from_only.end == datetime(2031, 3, 4, 5, 0, tzinfo=UTC)  # end of today


def test_date_times_naive_are_clinic_local_and_offsets_are_kept() -> None:
    window = parse_window("2031-03-03T08:00", "2031-03-03T18:30:00Z", NEW_YORK, NOON)
    assert window.start == datetime(2031, 3, 3, 13, 0, tzinfo=UTC)
    assert window.end == datetime(2031, 3, 3, 18, 30, tzinfo=UTC)
    # '+' decoded to a space by a careless client still reads as an offset.
    spaced = parse_window("2031-03-03T08:00:00 01:00", "2031-03-03T10:00:00+01:00", UTC, NOON)
    assert spaced.start == datetime(2031, 3, 3, 7, 0, tzinfo=UTC)


def test_a_dst_day_is_23_hours() -> None:
    window = Window.day(date(2031, 3, 9), NEW_YORK)
    assert window.end - window.start == timedelta(hours=23)


@pytest.mark.parametrize(
    ("raw_from", "raw_to", "message"),
    [
        ("yesterday", None, "'from' must be a date"),
        (None, "2031-02-30", "'to' must be a date"),
        ("2031-03-03T25:00", None, "'from' must be a date"),
        ("x" * 500, None, "'from' must be a date"),
        ("2031-03-04", "2031-03-03", "'from' must be before 'to'"),
        ("2031-03-03T10:00", "2031-03-03T10:00", "'from' must be before 'to'"),
        ("2029-01-01", "2031-03-03", "at most 366 days"),
    ],
)
def test_bad_windows_are_refused_with_a_reason(
    raw_from: str | None, raw_to: str | None, message: str
) -> None:
    with pytest.raises(InvalidField, match=message):
        parse_window(raw_from, raw_to, NEW_YORK, NOON)


def test_percentile_interpolates_like_percentile_cont() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 0.0, 20.0], 0.9) == pytest.approx(18.0)


async def test_campaign_calls_have_their_own_figures_and_leave_the_inbound_ones_alone(
    db: Database,
) -> None:
    from integrations.services import campaigns

    await seed_day(db)
    async with db.session() as s:
        before = (await call_metrics(s, Window.day(DAY, NEW_YORK))).to_json()
    pid = await add_patient(db, "Ann", "Outbound", date(1960, 1, 2), "+15550107777")
    anytime = campaigns.CampaignSettings(
        window_start=datetime.min.time(), window_end=datetime.max.time().replace(microsecond=0)
    )
    async with db.session() as s:
        campaign_id = await campaigns.create_campaign(
            s, name="c", kind="results_ready", targets=[(pid, None)], settings=anytime,
            created_by="t",
        )  # fmt: skip
        await campaigns.set_status(s, campaign_id, "running", actor="t")
        busy = await campaigns.claim_next(s, now=T0, clinic_zone=NEW_YORK, worker="w")
        assert busy is not None
        await campaigns.settle_attempt(s, busy, result="busy", now=T0, clinic_zone=NEW_YORK)
    later = T0 + timedelta(hours=2)
    async with db.session() as s:
        dial = await campaigns.claim_next(s, now=later, clinic_zone=NEW_YORK, worker="w")
        assert dial is not None
        await calls.open_call(
            s, call_id="out-1", caller_number=dial.number, started=later, direction="outbound"
        )
        await calls.close_call(
            s, call_id="out-1", ended=later + timedelta(seconds=40), disposition="task_created"
        )
        await campaigns.settle_attempt(
            s, dial, result="answered", outcome="reached", call_id="out-1", now=later,
            clinic_zone=NEW_YORK,
        )  # fmt: skip
    async with db.session() as s:
        after = (await call_metrics(s, Window.day(DAY, NEW_YORK))).to_json()
    outbound = after.pop("outbound")
    before.pop("outbound")
    after["callbacks"], before["callbacks"] = None, None
    assert after == before  # containment, handle time, dispositions: inbound only
    assert outbound["dials"] == 2
    assert outbound["dials_by_result"] == {"answered": 1, "busy": 1}
    assert outbound["calls_answered"] == 1 and outbound["emergent"] == 0
    assert outbound["outcomes"] == {"reached": 1}


async def test_first_contact_resolution_counts_patients_who_did_not_call_again_for_it(
    db: Database,
) -> None:
    """Maria calls for a refill and calls again for it two days later (not resolved the
    first time); James books, and calls a week and a half later for the same (resolved);
    Maria's second call is resolved; an unverified call and a call with no reason don't count."""
    await add_small_clinic(db, days=2)
    maria = await add_patient(db, "Maria", "Lopez", date(1972, 3, 4), CALLER)
    james = await add_patient(db, "James", "Carter", date(1958, 11, 20), "+15550100002")
    day = timedelta(days=1)
    plan = [
        ("m1", T0, maria, ("request_refill", "affirm")),
        ("m2", T0 + 2 * day, maria, ("request_refill",)),
        ("j1", T0 + day, james, ("schedule_appointment",)),
        ("j2", T0 + 11 * day, james, ("schedule_appointment",)),
        ("x1", T0 + day, None, ("test_results",)),
        ("g1", T0 + day, maria, ("greet", "goodbye")),
    ]
    for call_id, start, patient, intents in plan:
        await _call(db, call_id, start, 60, "info_given", intents=intents)
        if patient is not None:
            async with db.session() as s:
                await calls.set_fields(s, call_id, verified_patient_id=patient)
    week = Window(T0 - timedelta(hours=1), T0 + 7 * day, "UTC")
    async with db.session() as s:
        fcr = (await call_metrics(s, week)).to_json()["first_contact_resolution"]
    # m1 (called again within 7 days for the same reason), m2 and j1 (resolved): 2 of 3.
    assert fcr == {"resolved": 2, "calls": 3, "rate": 0.667, "days": 7}
