"""Supervisor figures over a time window: volume, containment, transfers, abandonment, timings.

Aggregates only: counts, rates, durations and breakdowns by disposition, intent and queue. No
caller number, name, patient id or call id leaves this module. Counting and grouping run as
plain SQL (COUNT, SUM(CASE ...), GROUP BY) that SQLite and PostgreSQL both understand;
medians and percentiles are taken in Python from the few columns they need, because neither
backend offers a percentile function the other has, and timings carried in event data are
encrypted at rest (only the number is read back from them).

A call belongs to the window in which it *started*, and so do the refill requests, bookings
and callbacks it created. Definitions:

- contained: ended, never handed to a person (no transfer requested, none answered), not
  emergent, with a self-service outcome (`SELF_SERVICE_DISPOSITIONS`);
- transferred: a person (agent, nurse or on-call line) answered the transfer;
- transfer requested: the call asked for a queue, whether or not anyone answered;
- abandoned: the caller hung up while waiting for a transfer (a `transfer_abandoned` event,
  or disposition 'abandoned' on a call that had asked for a queue); a call the bot ended for
  silence is not counted here;
- handle time: from answer to hang-up of ended calls, bot and person together;
- time to answer: `seconds_to_answer` of each `transfer_answered` event; its mean is the
  average speed of answer;
- first-contact resolution: of the ended calls of a verified patient with a reason (one of
  `REASON_INTENTS`), those after which the same patient did not call again for one of the same
  reasons within `FCR_DAYS` days. A call of the last `FCR_DAYS` days may still be followed by
  one: its figure is as of now;
- turned away: callers refused with 486 because every line was busy (they never became a
  call, so they are not in `total`; see integrations/services/turned_away.py).

Every figure above is of inbound calls: the calls campaigns place (`direction` outbound) would
read as short, "contained" calls. They have their own section, `outbound`: the dials started
in the window by result (answered, voicemail, busy, no answer, dead air, failed), the patients
whose campaign call ended in the window by outcome, and the outbound calls that were emergent.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import InvalidField
from integrations.services import turned_away
from integrations.services.transaction import atomic
from integrations.store.crypto import cipher_of
from integrations.store.models import (
    Appointment,
    Call,
    CallEvent,
    CampaignAttempt,
    CampaignTarget,
    RefillRequest,
    StaffTask,
)

# Outcomes the caller got from the bot alone (a task counts: the bot took the request).
SELF_SERVICE_DISPOSITIONS = (
    "refill_requested",
    "appointment_booked",
    "appointment_rescheduled",
    "appointment_cancelled",
    "info_given",
    "task_created",
)
CALLBACK_KINDS = ("callback", "nurse_callback")
# Why patients call, as the dialogs name it (greetings, yes and no are not reasons).
REASON_INTENTS = frozenset({
    "request_refill", "schedule_appointment", "reschedule_appointment", "cancel_appointment",
    "appointment_info", "test_results", "billing_insurance", "prior_authorization", "referral",
    "speak_to_human", "report_symptom", "clinic_info", "office_request",
})  # fmt: skip
FCR_DAYS = 7
TRANSFER_EVENTS = ("transfer_offered", "transfer_answered", "transfer_abandoned")
MAX_WINDOW = timedelta(days=366)
# Calls happen in these years; outside them date arithmetic overflows (year 1, year 9999).
YEARS = range(2000, 2200)
MAX_PARAM_CHARS = 40
_INTENT_NAME = re.compile(r"^[A-Za-z0-9_./-]{1,64}$")

__all__ = [
    "CALLBACK_KINDS",
    "MAX_WINDOW",
    "SELF_SERVICE_DISPOSITIONS",
    "CallMetrics",
    "Window",
    "call_metrics",
    "parse_window",
    "percentile",
]


@dataclass(frozen=True)
class Window:
    """A half-open span of time [start, end), both ends timezone-aware."""

    start: datetime
    end: datetime
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidField("window ends must be timezone-aware")
        if self.start >= self.end:
            raise InvalidField("'from' must be before 'to'")
        if self.end - self.start > MAX_WINDOW:
            raise InvalidField(f"the window may span at most {MAX_WINDOW.days} days")

    @classmethod
    def day(cls, day: date, zone: tzinfo, name: str = "") -> Window:
        """One clinic-local calendar day, midnight to midnight (DST days are 23 or 25 h)."""
        return cls(
            _midnight(day, zone), _midnight(day + timedelta(days=1), zone), name or str(zone)
        )

    def to_json(self) -> dict[str, str]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "timezone": self.timezone,
        }


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _parse_point(raw: str, name: str, zone: tzinfo) -> tuple[datetime, bool]:
    """A date (clinic-local day) or an ISO 8601 date-time (naive = clinic-local); returns the
    instant and whether only a date was given."""
    text = raw.strip()
    if not text or len(text) > MAX_PARAM_CHARS:
        raise InvalidField(
            f"'{name}' must be a date (YYYY-MM-DD) or an ISO 8601 date-time, not {raw[:50]!r}"
        )
    # A '+' in a query string arrives as a space when the client did not encode it.
    if "T" in text and " " in text:
        text = text.replace(" ", "+")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField(
            f"'{name}' must be a date (YYYY-MM-DD) or an ISO 8601 date-time, not {raw[:50]!r}"
        ) from None
    if moment.year not in YEARS:
        raise InvalidField(f"'{name}' must fall between {YEARS.start} and {YEARS.stop - 1}")
    if len(text) == 10:
        return _midnight(moment.date(), zone), True
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC), False


def parse_window(raw_from: str | None, raw_to: str | None, zone: tzinfo, now: datetime) -> Window:
    """The window a supervisor asked for; raises `InvalidField` with a readable message.

    No bounds: today (clinic-local). A date means that whole local day, so `to=2031-03-03`
    includes the 3rd. Only `from`: until the end of today. Only `to`: that day alone (a date)
    or the 24 hours before it (a date-time).
    """
    name = str(getattr(zone, "key", zone))
    today = now.astimezone(zone).date()
    if not raw_from and not raw_to:
        return Window.day(today, zone, name)
    start = end = None
    if raw_from:
        start, _ = _parse_point(raw_from, "from", zone)
    if raw_to:
        end, date_only = _parse_point(raw_to, "to", zone)
        if date_only:
            end = _midnight(end.astimezone(zone).date() + timedelta(days=1), zone)
    if end is None:
        end = _midnight(today + timedelta(days=1), zone)
    if start is None:
        start = end - timedelta(days=1)
    return Window(start, end, name)


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation, as PostgreSQL's percentile_cont."""
    ordered = sorted(values)
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 3)


@dataclass(frozen=True)
class Timing:
    count: int
    median: float | None
    p90: float | None
    mean: float | None = None

    @classmethod
    def of(cls, values: list[float]) -> Timing:
        return cls(
            len(values), _seconds(percentile(values, 0.5)), _seconds(percentile(values, 0.9)),
            _seconds(sum(values) / len(values)) if values else None,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "median": self.median, "p90": self.p90, "mean": self.mean}


@dataclass(frozen=True)
class QueueFigures:
    queue: str
    requested: int
    answered: int
    abandoned: int
    time_to_answer: Timing

    def to_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "requested": self.requested,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "median_seconds_to_answer": self.time_to_answer.median,
        }


@dataclass(frozen=True)
class CallMetrics:
    window: Window
    total: int
    ended: int
    contained: int
    transfer_requested: int
    transferred: int
    abandoned: int
    emergent: int
    urgent: int
    handle_time: Timing
    handle_time_contained: Timing
    handle_time_transferred: Timing
    time_to_answer: Timing
    by_disposition: dict[str, int]
    by_intent: dict[str, int]
    by_queue: list[QueueFigures]
    refill_requests: int
    bookings: int
    reschedules: int
    callbacks_created: int
    callbacks_open: int
    turned_away: int = 0
    outbound: dict[str, Any] | None = None
    first_contact: tuple[int, int] = (0, 0)  # (resolved, calls with a patient and a reason)
    by_hour: list[int] | None = None  # calls started in each clinic-local hour, 0..23
    by_day: list[dict[str, Any]] | None = None  # per clinic-local day: calls, rates

    def to_json(self) -> dict[str, Any]:
        return {
            "window": self.window.to_json(),
            "calls": {
                "total": self.total,
                "ended": self.ended,
                "in_progress": self.total - self.ended,
                "contained": self.contained,
                "transfer_requested": self.transfer_requested,
                "transferred": self.transferred,
                "abandoned": self.abandoned,
                "emergent": self.emergent,
                "urgent": self.urgent,
                "turned_away": self.turned_away,
            },
            "rates": {
                "containment": _rate(self.contained, self.ended),
                "transfer": _rate(self.transferred, self.ended),
                "abandonment": _rate(self.abandoned, self.transfer_requested),
            },
            "handle_time_seconds": {
                "all": self.handle_time.to_json(),
                "contained": self.handle_time_contained.to_json(),
                "transferred": self.handle_time_transferred.to_json(),
            },
            "time_to_answer_seconds": self.time_to_answer.to_json(),
            "first_contact_resolution": {
                "resolved": self.first_contact[0],
                "calls": self.first_contact[1],
                "rate": _rate(*self.first_contact),
                "days": FCR_DAYS,
            },
            "by_hour": self.by_hour or [0] * 24,
            "by_day": self.by_day or [],
            "by_disposition": self.by_disposition,
            "by_intent": self.by_intent,
            "by_queue": [q.to_json() for q in self.by_queue],
            "refill_requests": self.refill_requests,
            "appointments": {"booked": self.bookings, "rescheduled": self.reschedules},
            "callbacks": {"created": self.callbacks_created, "open": self.callbacks_open},
            "outbound": self.outbound or {},
        }


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END), 0 on no rows: portable conditional count."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _abandoned() -> ColumnElement[bool]:
    waited = select(CallEvent.call_id).where(CallEvent.kind == "transfer_abandoned")
    return or_(
        Call.id.in_(waited),
        and_(Call.disposition == "abandoned", Call.transfer_queue.is_not(None)),
    )


def _asked() -> ColumnElement[bool]:
    """The call asked for a person: a queue on the record, or any transfer event."""
    transfer_events = select(CallEvent.call_id).where(CallEvent.kind.in_(TRANSFER_EVENTS))
    return or_(Call.transfer_queue.is_not(None), Call.id.in_(transfer_events))


def _contained() -> ColumnElement[bool]:
    return and_(
        Call.ended.is_not(None),
        not_(Call.transferred),
        not_(_asked()),
        Call.triage_level != "emergent",
        Call.disposition.in_(SELF_SERVICE_DISPOSITIONS),
    )


async def call_metrics(s: AsyncSession, window: Window) -> CallMetrics:
    """Every supervisor figure for calls that started in `window`."""
    in_window = and_(
        Call.started >= window.start, Call.started < window.end, Call.direction == "inbound"
    )
    asked = _asked()
    async with atomic(s):
        totals = (
            await s.execute(
                select(
                    func.count(Call.id),
                    _count(Call.ended.is_not(None)),
                    _count(_contained()),
                    _count(asked),
                    _count(Call.transferred.is_(True)),
                    _count(_abandoned()),
                    _count(Call.triage_level == "emergent"),
                    _count(Call.triage_level == "urgent"),
                ).where(in_window)
            )
        ).one()
        by_disposition = {
            (disposition or "none"): int(n)
            for disposition, n in await s.execute(
                select(Call.disposition, func.count(Call.id))
                .where(in_window)
                .group_by(Call.disposition)
                .order_by(func.count(Call.id).desc(), Call.disposition)
            )
        }
        queue_rows = (
            await s.execute(
                select(
                    Call.transfer_queue,
                    func.count(Call.id),
                    _count(Call.transferred.is_(True)),
                    _count(_abandoned()),
                )
                .where(in_window, asked)
                .group_by(Call.transfer_queue)
                .order_by(Call.transfer_queue)
            )
        ).all()
        every_call = (
            await s.execute(
                select(Call.started, Call.ended, _contained(), Call.transferred).where(in_window)
            )
        ).all()
        durations = [row for row in every_call if row[1] is not None]
        answered, intents_of = await _event_figures(s, window)
        intents = _intent_counts(intents_of)
        first_contact = await _first_contact(s, window, intents_of)
        refills = await s.scalar(
            select(func.count(RefillRequest.id))
            .join(Call, Call.id == RefillRequest.call_id)
            .where(in_window)
        )
        bookings, reschedules = await _appointment_figures(s, in_window)
        callbacks_created = await s.scalar(
            select(func.count(StaffTask.id))
            .join(Call, Call.id == StaffTask.call_id)
            .where(in_window, StaffTask.kind.in_(CALLBACK_KINDS))
        )
        # Open callbacks are a backlog: counted now, whenever they were asked for.
        callbacks_open = await s.scalar(
            select(func.count(StaffTask.id)).where(
                StaffTask.kind.in_(CALLBACK_KINDS), StaffTask.status != "done"
            )
        )
        refused = await turned_away.count(s, window.start, window.end)
        outbound = await _outbound_figures(s, window)

    all_times: list[float] = []
    contained_times: list[float] = []
    transferred_times: list[float] = []
    for began, finished, was_contained, was_transferred in durations:
        if finished is None:
            continue
        seconds = max(0.0, (finished - began).total_seconds())
        all_times.append(seconds)
        if was_contained:
            contained_times.append(seconds)
        if was_transferred:
            transferred_times.append(seconds)
    by_hour, by_day = _over_time(every_call, window)
    answer_times = [seconds for _, seconds in answered]
    per_queue: dict[str, list[float]] = defaultdict(list)
    for queue, seconds in answered:
        per_queue[queue].append(seconds)
    total, ended, contained, requested, transferred, abandoned, emergent, urgent = (
        int(v) for v in totals
    )
    return CallMetrics(
        window=window,
        total=total,
        ended=ended,
        contained=contained,
        transfer_requested=requested,
        transferred=transferred,
        abandoned=abandoned,
        emergent=emergent,
        urgent=urgent,
        handle_time=Timing.of(all_times),
        handle_time_contained=Timing.of(contained_times),
        handle_time_transferred=Timing.of(transferred_times),
        time_to_answer=Timing.of(answer_times),
        by_disposition=by_disposition,
        by_intent=intents,
        by_queue=[
            QueueFigures(
                q or "unknown",
                int(n),
                int(a),
                int(ab),
                Timing.of(per_queue.get(q or "unknown", [])),
            )
            for q, n, a, ab in queue_rows
        ],
        refill_requests=int(refills or 0),
        bookings=bookings,
        reschedules=reschedules,
        callbacks_created=int(callbacks_created or 0),
        callbacks_open=int(callbacks_open or 0),
        turned_away=refused,
        outbound=outbound,
        first_contact=first_contact,
        by_hour=by_hour,
        by_day=by_day,
    )


async def _event_figures(
    s: AsyncSession, window: Window
) -> tuple[list[tuple[str, float]], dict[str, set[str]]]:
    """(queue, seconds to answer) per answered transfer, and the intents of each inbound call
    that started in the window (a call without any is absent). Event data is encrypted, so
    the kinds are filtered in SQL and only the numbers and names are read."""
    rows = await s.execute(
        select(CallEvent.call_id, CallEvent.kind, CallEvent.data_enc, Call.transfer_queue)
        .join(Call, Call.id == CallEvent.call_id)
        .where(
            Call.started >= window.start,
            Call.started < window.end,
            Call.direction == "inbound",
            CallEvent.kind.in_(("transfer_answered", "intent")),
        )
        .order_by(CallEvent.id)
    )
    cipher = cipher_of(s)
    answered: list[tuple[str, float]] = []
    intents_of: dict[str, set[str]] = defaultdict(set)
    for call_id, kind, data_enc, call_queue in rows:
        try:
            data = cipher.decrypt_json(data_enc)
        except Exception:  # an unreadable event (rotated-out key) must not hide the rest
            continue
        if not isinstance(data, dict):
            continue
        if kind == "transfer_answered":
            seconds = data.get("seconds_to_answer")
            if isinstance(seconds, int | float) and not isinstance(seconds, bool):
                queue = data.get("queue") if isinstance(data.get("queue"), str) else call_queue
                answered.append((str(queue or "unknown"), max(0.0, float(seconds))))
        else:
            name = data.get("name", data.get("intent"))
            if isinstance(name, str) and _INTENT_NAME.match(name):
                intents_of[call_id].add(name)
    return answered, intents_of


def _intent_counts(intents_of: Mapping[str, set[str]]) -> dict[str, int]:
    """Calls per intent, most asked first."""
    counts: Counter[str] = Counter(name for names in intents_of.values() for name in names)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _over_time(rows: Iterable[Any], window: Window) -> tuple[list[int], list[dict[str, Any]]]:
    """Calls per clinic-local hour of the day, and per clinic-local day with its containment
    and transfer rates (of the calls ended that day), for the Numbers tab's charts."""
    try:
        zone: tzinfo = ZoneInfo(window.timezone)
    except (ValueError, KeyError):  # a window named otherwise than by a zone key: its UTC hours
        zone = UTC
    hours = [0] * 24
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # calls ended cont. trans.
    for began, finished, was_contained, was_transferred in rows:
        local = began.astimezone(zone)
        hours[local.hour] += 1
        tally = days[local.date()]
        tally[0] += 1
        if finished is not None:
            tally[1] += 1
            tally[2] += bool(was_contained)
            tally[3] += bool(was_transferred)
    return hours, [
        {"day": day.isoformat(), "calls": calls, "containment": _rate(contained, ended),
         "transfer": _rate(transferred, ended)}
        for day, (calls, ended, contained, transferred) in sorted(days.items())
    ]  # fmt: skip


async def _reasons(s: AsyncSession, call_ids: Iterable[str]) -> dict[str, set[str]]:
    """The reasons (intents) each call gave, read from its encrypted intent events."""
    ids = list(call_ids)
    reasons: dict[str, set[str]] = defaultdict(set)
    cipher = cipher_of(s)
    for start in range(0, len(ids), 500):  # bounded IN lists
        rows = await s.execute(
            select(CallEvent.call_id, CallEvent.data_enc).where(
                CallEvent.kind == "intent", CallEvent.call_id.in_(ids[start : start + 500])
            )
        )
        for call_id, data_enc in rows:
            try:
                data = cipher.decrypt_json(data_enc)
            except Exception:
                continue
            name = data.get("name", data.get("intent")) if isinstance(data, dict) else None
            if name in REASON_INTENTS:
                reasons[call_id].add(str(name))
    return reasons


async def _first_contact(
    s: AsyncSession, window: Window, intents_in_window: Mapping[str, set[str]]
) -> tuple[int, int]:
    """(resolved at first contact, ended calls of a known patient with a reason) for the
    calls that started in the window; see the module's definition. INTENTS_IN_WINDOW: what
    `_event_figures` read already; only the later calls' events are decrypted here."""
    later = timedelta(days=FCR_DAYS)
    rows = (
        await s.execute(
            select(Call.id, Call.verified_patient_id, Call.started).where(
                Call.direction == "inbound",
                Call.verified_patient_id.is_not(None),
                Call.started >= window.start,
                Call.started < window.end + later,
            )
        )
    ).all()
    reasons = await _reasons(s, (call_id for call_id, _, began in rows if began >= window.end))
    for call_id, _, began in rows:
        if began < window.end and (why := intents_in_window.get(call_id, set()) & REASON_INTENTS):
            reasons[call_id] = why
    ended = set(
        await s.scalars(
            select(Call.id).where(
                Call.id.in_([r[0] for r in rows if r[2] < window.end] or [""]),
                Call.ended.is_not(None),
            )
        )
    )
    by_patient: dict[int | None, list[tuple[datetime, str]]] = defaultdict(list)
    for call_id, patient, began in rows:
        by_patient[patient].append((began, call_id))
    resolved = counted = 0
    for call_id, patient, began in rows:
        why = reasons.get(call_id, set())
        if call_id not in ended or not why:
            continue
        counted += 1
        again = any(
            began < other_began <= began + later and bool(reasons.get(other, set()) & why)
            for other_began, other in by_patient[patient]
            if other != call_id
        )
        resolved += not again
    return resolved, counted


async def _outbound_figures(s: AsyncSession, window: Window) -> dict[str, Any]:
    """The campaigns' side (see the module docstring)."""
    attempts = {
        (result or "in_progress"): int(n)
        for result, n in await s.execute(
            select(CampaignAttempt.result, func.count(CampaignAttempt.id))
            .where(CampaignAttempt.started >= window.start, CampaignAttempt.started < window.end)
            .group_by(CampaignAttempt.result)
        )
    }
    outcomes = {
        str(outcome): int(n)
        for outcome, n in await s.execute(
            select(CampaignTarget.outcome, func.count(CampaignTarget.id))
            .where(
                CampaignTarget.status == "done",
                CampaignTarget.updated_at >= window.start,
                CampaignTarget.updated_at < window.end,
            )
            .group_by(CampaignTarget.outcome)
        )
    }
    calls, emergent = (
        await s.execute(
            select(func.count(Call.id), _count(Call.triage_level == "emergent")).where(
                Call.started >= window.start,
                Call.started < window.end,
                Call.direction == "outbound",
            )
        )
    ).one()
    return {
        "dials": sum(attempts.values()),
        "dials_by_result": dict(sorted(attempts.items())),
        "calls_answered": int(calls),
        "emergent": int(emergent or 0),
        "outcomes": dict(sorted(outcomes.items())),
    }


async def _appointment_figures(s: AsyncSession, in_window: ColumnElement[bool]) -> tuple[int, int]:
    """Appointments the window's calls created: new bookings, and moves (a reschedule
    creates the new appointment and points the old one at it)."""
    moved_to = select(Appointment.rescheduled_to_id).where(
        Appointment.rescheduled_to_id.is_not(None)
    )
    is_move = Appointment.id.in_(moved_to)
    row = (
        await s.execute(
            select(_count(not_(is_move)), _count(is_move))
            .join(Call, Call.id == Appointment.booked_by_call_id)
            .where(in_window)
        )
    ).one()
    return int(row[0]), int(row[1])
