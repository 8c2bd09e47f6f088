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
