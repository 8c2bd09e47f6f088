"""Business hours, holidays and after-hours routing, read from a YAML file the clinic edits.

`BusinessHours.default()` reads `routing/clinic_hours.yaml` (Mon-Fri 08:00-18:00, after hours
to the on-call nurse queue); `is_open(now)` and `route_queue(queue, now)` answer per instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from routing.errors import HoursConfigError

DEFAULT_FILE = Path(__file__).with_name("clinic_hours.yaml")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

Interval = tuple[time, time]


@dataclass(frozen=True)
class Holiday:
    day: date
    name: str
    hours: tuple[Interval, ...] = ()  # empty: closed all day


@dataclass(frozen=True)
class BusinessHours:
    """Opening intervals per weekday, holidays, and where each queue goes when closed."""

    timezone: ZoneInfo
    weekly: tuple[tuple[Interval, ...], ...]  # index 0 = Monday, as date.weekday()
    holidays: dict[date, Holiday] = field(default_factory=dict)
    after_hours_default: str = "on_call_nurse"
    after_hours_queues: dict[str, str] = field(default_factory=dict)
    on_call_queue: str = "on_call_nurse"
    on_call_uri: str | None = None

    @classmethod
    def default(cls) -> BusinessHours:
        return cls.from_file(DEFAULT_FILE)

    @classmethod
    def from_file(cls, path: Path | str) -> BusinessHours:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise HoursConfigError(f"cannot read business hours file {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise HoursConfigError(f"{path} is not valid YAML: {exc}") from exc
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "business hours") -> BusinessHours:
        if not isinstance(raw, dict):
            raise HoursConfigError(f"{source}: expected a mapping at the top level")
        try:
            zone = ZoneInfo(str(raw.get("timezone", "UTC")))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise HoursConfigError(f"{source}: unknown timezone {raw.get('timezone')!r}") from exc
        weekly_raw = raw.get("weekly") or {}
        if not isinstance(weekly_raw, dict):
            raise HoursConfigError(f"{source}: 'weekly' must map weekday names to intervals")
        unknown = set(weekly_raw) - set(WEEKDAYS)
        if unknown:
            raise HoursConfigError(f"{source}: unknown weekday(s) {sorted(unknown)}")
        weekly = tuple(
            _intervals(weekly_raw.get(day) or [], f"{source}: {day}") for day in WEEKDAYS
        )
        after = raw.get("after_hours") or {}
        on_call = raw.get("on_call") or {}
        return cls(
            timezone=zone,
            weekly=weekly,
            holidays=_holidays(raw.get("holidays") or [], source),
            after_hours_default=str(after.get("default", "on_call_nurse")),
            after_hours_queues={str(k): str(v) for k, v in (after.get("queues") or {}).items()},
            on_call_queue=str(on_call.get("queue", "on_call_nurse")),
            on_call_uri=on_call.get("sip_uri") or None,
        )

    def local(self, now: datetime) -> datetime:
        """`now` as clinic wall-clock time; a naive datetime is taken as already local."""
        if now.tzinfo is None:
            return now
        return now.astimezone(self.timezone).replace(tzinfo=None)

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        holiday = self.holidays.get(day)
        if holiday is not None:
            return holiday.hours
        return self.weekly[day.weekday()]

    def is_open(self, now: datetime) -> bool:
        local = self.local(now)
        moment = local.time()
        # Half-open intervals: at 18:00 sharp the clinic is closed.
        return any(start <= moment < end for start, end in self.intervals_on(local.date()))

    def route_queue(self, queue: str, now: datetime) -> str:
        """The queue a transfer to `queue` should really go to at `now`."""
        if self.is_open(now):
            return queue
        return self.after_hours_queues.get(queue, self.after_hours_default)

    def spoken(self, now: datetime) -> str:
        """The hours as the phone line says them, from the data routing uses: whether the
        clinic is open at `now` (and until when, or when it opens next), the weekly hours,
        and the next holiday in the next two weeks ("We're open now until 6 PM. We're open Monday
        to Friday, 8 AM to 6 PM, and closed on weekends.")."""
        local = self.local(now)
        parts = [self._spoken_status(local), self._spoken_week()]
        upcoming = [
            h for d, h in sorted(self.holidays.items())
            if local.date() < d <= local.date() + timedelta(days=14)
        ]  # fmt: skip
        for holiday in upcoming[:1]:  # one on the phone is enough; the next call hears the next
            when = f"{WEEKDAYS[holiday.day.weekday()].title()}, {_spoken_date(holiday.day)}"
            if holiday.hours:
                parts.append(
                    f"On {when}, {holiday.name}, we're open {_spoken_intervals(holiday.hours)}."
                )
            else:
                parts.append(f"We're closed on {when}, {holiday.name}.")
        return " ".join(parts)

    def _spoken_status(self, local: datetime) -> str:
        today = local.date()
        for start, end in self.intervals_on(today):
            if start <= local.time() < end:
                return f"We're open now until {_spoken_time(end)}."
        holiday = self.holidays.get(today)
        closed = "We're closed right now"
        if holiday is not None and not holiday.hours:
            closed = f"We're closed today for {holiday.name}"
        for start, _ in self.intervals_on(today):
            if local.time() < start:
                return f"{closed}; we open today at {_spoken_time(start)}."
        for ahead in range(1, 15):
            day = today + timedelta(days=ahead)
            intervals = self.intervals_on(day)
            if intervals:
                name = "tomorrow" if ahead == 1 else f"on {WEEKDAYS[day.weekday()].title()}"
                if ahead > 6:
                    name += f", {_spoken_date(day)}"
                return f"{closed}; we open again {name} at {_spoken_time(intervals[0][0])}."
        return f"{closed}."

    def _spoken_week(self) -> str:
        """Runs of weekdays with the same hours: "Monday to Friday, 8 AM to 6 PM"."""
        runs: list[tuple[int, int, tuple[Interval, ...]]] = []
        for index, intervals in enumerate(self.weekly):
            if runs and runs[-1][2] == intervals and runs[-1][1] == index - 1:
                runs[-1] = (runs[-1][0], index, intervals)
            else:
                runs.append((index, index, intervals))
        open_runs = [(f"{_day_span(a, b)}, {_spoken_intervals(iv)}") for a, b, iv in runs if iv]
        closed_days = [i for i, iv in enumerate(self.weekly) if not iv]
        if not open_runs:
            return "We have no regular opening hours."
        sentence = "We're open " + _spoken_list(open_runs)
        if closed_days == [5, 6]:
            sentence += ", and closed on weekends"
        elif closed_days:
            sentence += ", and closed on " + _spoken_list(
                [WEEKDAYS[i].title() for i in closed_days]
            )
        return sentence + "."


def _parse_time(text: str, where: str) -> time:
    if text == "24:00":
        return time.max
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise HoursConfigError(f"{where}: {text!r} is not a HH:MM time") from exc


def _intervals(items: Any, where: str) -> tuple[Interval, ...]:
    if not isinstance(items, list):
        raise HoursConfigError(f"{where}: expected a list like ['08:00-18:00']")
    out: list[Interval] = []
    for item in items:
        start_text, sep, end_text = str(item).partition("-")
        if not sep:
            raise HoursConfigError(f"{where}: {item!r} should look like '08:00-18:00'")
        start = _parse_time(start_text.strip(), where)
        end = _parse_time(end_text.strip(), where)
        if end <= start:
            raise HoursConfigError(f"{where}: {item!r} ends before it starts")
        out.append((start, end))
    return tuple(sorted(out))


def _holidays(items: Any, source: str) -> dict[date, Holiday]:
    if not isinstance(items, list):
        raise HoursConfigError(f"{source}: 'holidays' must be a list of {{date, name}}")
    out: dict[date, Holiday] = {}
    for item in items:
        if not isinstance(item, dict) or "date" not in item:
            raise HoursConfigError(f"{source}: holiday {item!r} needs a 'date'")
        day = item["date"]
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day)
            except ValueError as exc:
                raise HoursConfigError(f"{source}: holiday date {day!r} is not YYYY-MM-DD") from exc
        if not isinstance(day, date):
            raise HoursConfigError(f"{source}: holiday date {day!r} is not YYYY-MM-DD")
        where = f"{source}: holiday {day}"
        hours = _intervals(item.get("hours") or [], where)
        out[day] = Holiday(day, str(item.get("name", "")), hours)
    return out


def _spoken_time(moment: time) -> str:
    if moment == time(0, 0):
        return "midnight"
    if moment == time(12, 0):
        return "noon"
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes} {'AM' if moment.hour < 12 else 'PM'}"


def _spoken_intervals(intervals: tuple[Interval, ...]) -> str:
    return _spoken_list([f"{_spoken_time(a)} to {_spoken_time(b)}" for a, b in intervals])


def _spoken_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _day_span(first: int, last: int) -> str:
    if first == last:
        return WEEKDAYS[first].title()
    joiner = " and " if last == first + 1 else " to "
    return WEEKDAYS[first].title() + joiner + WEEKDAYS[last].title()


def _spoken_date(day: date) -> str:
    return f"{day.strftime('%B')} {day.day}"
