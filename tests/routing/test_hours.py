"""Business hours: weekdays, holidays, half-open intervals, time zones and after-hours targets."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from routing.errors import HoursConfigError
from routing.hours import BusinessHours

MONDAY = date(2031, 3, 3)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute))


@pytest.fixture(scope="module")
def hours() -> BusinessHours:
    return BusinessHours.default()


def test_weekday_inside_hours_is_open(hours: BusinessHours) -> None:
    assert hours.is_open(at(MONDAY, 8, 0))
    assert hours.is_open(at(MONDAY, 17, 59))


def test_closing_time_itself_is_closed(hours: BusinessHours) -> None:
    assert not hours.is_open(at(MONDAY, 18, 0))
    assert not hours.is_open(at(MONDAY, 7, 59))


def test_weekend_is_closed(hours: BusinessHours) -> None:
    assert not hours.is_open(at(date(2031, 3, 8), 11))  # Saturday


def test_listed_holiday_is_closed_on_a_weekday(hours: BusinessHours) -> None:
    assert date(2026, 12, 25).weekday() == 4
    assert not hours.is_open(at(date(2026, 12, 25), 10))


def test_holiday_with_short_hours_closes_early(hours: BusinessHours) -> None:
    assert hours.is_open(at(date(2026, 12, 24), 11))
    assert not hours.is_open(at(date(2026, 12, 24), 13))


def test_aware_instant_is_judged_in_clinic_time(hours: BusinessHours) -> None:
    # New York is UTC-5 on this date: 14:30 UTC is 09:30 there (open), and 12:30 UTC is
    # 07:30 there (closed) although a UTC clock would call it business hours.
    assert hours.is_open(datetime(2031, 3, 3, 14, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2031, 3, 3, 12, 30, tzinfo=UTC))


def test_open_clinic_keeps_the_requested_queue(hours: BusinessHours) -> None:
    assert hours.route_queue("billing", at(MONDAY, 10)) == "billing"


def test_after_hours_every_queue_goes_to_the_on_call_nurse(hours: BusinessHours) -> None:
    for queue in ("billing", "front_desk", "nurse", "pharmacy"):
        assert hours.route_queue(queue, at(MONDAY, 20)) == "on_call_nurse"


def test_per_queue_after_hours_override() -> None:
    hours = BusinessHours.from_dict(
        {
            "weekly": {"monday": ["09:00-17:00"]},
            "after_hours": {"default": "on_call_nurse", "queues": {"billing": "billing_vm"}},
        }
    )
    assert hours.route_queue("billing", at(MONDAY, 18)) == "billing_vm"
    assert hours.route_queue("nurse", at(MONDAY, 18)) == "on_call_nurse"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"weekly": {"funday": []}}, "unknown weekday"),
        ({"weekly": {"monday": ["18:00-08:00"]}}, "ends before it starts"),
        ({"weekly": {"monday": ["8am to 6pm"]}}, "should look like"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"holidays": [{"name": "no date"}]}, "needs a 'date'"),
    ],
)
def test_malformed_hours_are_refused_with_a_reason(raw: dict, reason: str) -> None:
    with pytest.raises(HoursConfigError, match=reason):
        BusinessHours.from_dict(raw)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(HoursConfigError, match="cannot read"):
        BusinessHours.from_file(tmp_path / "nope.yaml")


# What the phone line says about the hours: the same data the routing above decides by.
def test_spoken_open_now_with_the_week(hours: BusinessHours) -> None:
    assert hours.spoken(at(MONDAY, 10)) == (
        "We're open now until 6 PM. "
        "We're open Monday to Friday, 8 AM to 6 PM, and closed on weekends."
    )


def test_spoken_before_opening_and_after_closing(hours: BusinessHours) -> None:
    assert hours.spoken(at(MONDAY, 7)).startswith("We're closed right now; we open today at 8 AM.")
    assert hours.spoken(at(MONDAY, 18)).startswith("We're closed right now; we open again tomorrow")
    friday_evening = at(date(2031, 3, 7), 19)
    assert "we open again on Monday at 8 AM" in hours.spoken(friday_evening)


def test_spoken_holidays_from_the_hours_file(hours: BusinessHours) -> None:
    christmas = hours.spoken(at(date(2026, 12, 25), 9))
    assert christmas.startswith("We're closed today for Christmas Day; we open again on Monday")
    # The short day ahead is announced; on it, closing time is its own.
    before = hours.spoken(at(date(2026, 12, 21), 9))
    assert "On Thursday, December 24, Christmas Eve, we're open 8 AM to noon." in before
    assert hours.spoken(at(date(2026, 12, 24), 11)).startswith("We're open now until noon.")


def test_spoken_week_with_a_lunch_break_and_a_saturday_morning() -> None:
    custom = BusinessHours.from_dict({
        "timezone": "Europe/London",
        "weekly": {day: ["08:30-12:30", "13:30-17:00"] for day in
                   ("monday", "tuesday", "wednesday", "thursday")}
        | {"friday": ["08:30-12:30"], "saturday": ["09:00-12:00"]},
    })  # fmt: skip
    assert custom.spoken(at(MONDAY, 12, 45)) == (
        "We're closed right now; we open today at 1:30 PM. We're open Monday to Thursday, "
        "8:30 AM to 12:30 PM and 1:30 PM to 5 PM, Friday, 8:30 AM to 12:30 PM and Saturday, "
        "9 AM to noon, and closed on Sunday."
    )
    # An aware moment is turned into the clinic's own time first (10:00 UTC = 10:00 in
    # London in March before the clocks change).
    assert custom.spoken(datetime(2031, 3, 8, 10, 0, tzinfo=UTC)).startswith(
        "We're open now until noon."
    )
