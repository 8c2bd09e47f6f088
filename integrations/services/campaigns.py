"""Outbound campaigns in the store: whom to call, the dialing rules, and what each call came to.

A campaign calls its targets (a patient, and for reminders her appointment) until each ends
with an outcome. The rules live here, in the database, so every worker process that dials
applies the same ones and no two call the same patient at once:

- a target is claimed (status ``dialing``) by one dialer at a time, for `CLAIM_HOLD`; a dialer
  that dies mid-call loses the claim and the target is dialled again later;
- never outside the campaign's window in the patient's own time zone (the clinic's when her
  record has none); a target claimed outside it is put off to the window's next opening;
- never a number or patient on the do-not-call list, which every "stop calling me" joins at
  once (and ends that patient's pending targets in every campaign);
- at most `pace_per_minute` dials per campaign per minute, across every process;
- busy, no answer, dead air and failures are retried after `retry_minutes`, doubling each time,
  until `max_attempts`; every attempt ends with a result, every target with an outcome.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import InvalidField, NotFound
from integrations.phone_numbers import normalise_phone
from integrations.services.absences import Absence
from integrations.services.audit import add_audit
from integrations.services.campaign_kinds import KINDS
from integrations.services.transaction import atomic
from integrations.store.crypto import cipher_of
from integrations.store.indexes import number_key
from integrations.store.models import (
    Appointment,
    Campaign,
    CampaignAttempt,
    CampaignTarget,
    DoNotCall,
    Patient,
)

log = logging.getLogger(__name__)

# How a target ended. The first group needs a person on the line.
REACHED_OUTCOMES = (
    "confirmed",
    "cancelled",
    "rescheduled",
    "reschedule_requested",
    "reached",
    "escalated",
    "opted_out",
    "not_verified",
)
OUTCOMES = (
    *REACHED_OUTCOMES,
    "voicemail_left",
    "no_answer",
    "busy",
    "failed",
    "do_not_call",
    "not_needed",
    "no_number",
    "outside_hours",  # her own calling hours and the campaign's window never meet
)
# How one dial ended; the retryable ones are dialled again while attempts are left.
RETRYABLE = ("busy", "no_answer", "failed", "dead_air", "hung_up", "call_later")
CLAIM_HOLD = timedelta(minutes=20)
MAX_RETRY_GAP = timedelta(hours=24)


@dataclass(frozen=True)
class CampaignSettings:
    window_start: time = time(9, 0)
    window_end: time = time(19, 0)
    max_attempts: int = 3
    retry_minutes: int = 60
    pace_per_minute: int = 4
    voicemail_first_name: bool = False

    def check(self) -> None:
        if not self.window_start < self.window_end:
            raise InvalidField("the call window must start before it ends")
        if not 1 <= self.max_attempts <= 10:
            raise InvalidField("max attempts must be between 1 and 10")
        if not 0 <= self.retry_minutes <= 24 * 60:
            raise InvalidField("retry minutes must be between 0 and 1440")
        if not 1 <= self.pace_per_minute <= 120:
            raise InvalidField("pace must be between 1 and 120 calls a minute")


@dataclass(frozen=True)
class Dial:
    """A claimed target, ready to be dialled (the number is PHI: never log it)."""

    attempt_id: int
    target_id: int
    campaign_id: int
    kind: str
    patient_id: int
    appointment_id: int | None
    number: str
    first_name: str
    voicemail_first_name: bool


@dataclass(frozen=True)
class CallBack:
    """She asked to be called another time: from now on only `after`..`before` (her own
    clock; None: no bound), and not before tomorrow if she said so."""

    after: time | None = None
    before: time | None = None
    tomorrow: bool = False


@dataclass
class CampaignStatus:
    id: int
    name: str
    kind: str
    status: str
    window: str
    targets: int
    by_status: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "window": self.window,
            "targets": self.targets,
            "by_status": self.by_status,
            "outcomes": self.outcomes,
            "attempts": self.attempts,
        }


# -- creating and steering ---------------------------------------------------------------------
def window_of(text: str) -> tuple[time, time]:
    """'09:00-19:00' -> the call window's bounds."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
    except ValueError as exc:
        raise InvalidField(f"the call window must be HH:MM-HH:MM, not {text!r}") from exc
    return start, end


def days_of(text: str) -> tuple[date, date]:
    """'2031-03-04' or '2031-03-04:2031-03-06' -> the first and last day."""
    first, _, last = text.strip().partition(":")
    try:
        return date.fromisoformat(first), date.fromisoformat(last or first)
    except ValueError as exc:
        raise InvalidField(f"days must be YYYY-MM-DD[:YYYY-MM-DD], not {text!r}") from exc


async def check_campaign(
    s: AsyncSession,
    *,
    name: str,
    kind: str,
    targets: Sequence[tuple[int, int | None]],
    settings: CampaignSettings,
) -> list[tuple[int, int | None]]:
    """Refuse now what `create_campaign` would refuse (a provider-out campaign checks before
    it declares her absence, so a refused campaign blocks nothing); the targets, duplicates
    dropped."""
    if kind not in KINDS:
        raise InvalidField(f"unknown campaign kind {kind!r}; expected one of {KINDS}")
    if not name.strip():
        raise InvalidField("a campaign needs a name")
    settings.check()
    unique = list(dict.fromkeys(targets))
    if not unique:
        raise InvalidField("a campaign needs at least one patient to call")
    async with atomic(s):
        wanted = [p for p, _ in unique]
        known = set(await s.scalars(select(Patient.id).where(Patient.id.in_(wanted))))
    missing = sorted(set(wanted) - known)
    if missing:
        raise NotFound(f"no patients with ids {missing[:5]}")
    return unique


async def create_campaign(
    s: AsyncSession,
    *,
    name: str,
    kind: str,
    targets: Sequence[tuple[int, int | None]],
    settings: CampaignSettings,
    created_by: str,
) -> int:
    """A draft campaign calling `targets` ((patient id, appointment id or None), duplicates
    dropped); returns its id."""
    unique = await check_campaign(s, name=name, kind=kind, targets=targets, settings=settings)
    async with atomic(s):
        campaign = Campaign(
            name=name.strip()[:120],
            kind=kind,
            status="draft",
            window_start=settings.window_start,
            window_end=settings.window_end,
            max_attempts=settings.max_attempts,
            retry_minutes=settings.retry_minutes,
            pace_per_minute=settings.pace_per_minute,
            voicemail_first_name=settings.voicemail_first_name,
            created_by=created_by,
        )
        s.add(campaign)
        await s.flush()
        now = datetime.now(UTC)
        for patient_id, appointment_id in unique:
            s.add(
                CampaignTarget(
                    campaign_id=campaign.id,
                    patient_id=patient_id,
                    appointment_id=appointment_id,
                    next_attempt_at=now,
                )
            )
        add_audit(
            s,
            actor=created_by,
            action="create_campaign",
            patient_id=None,
            detail={"campaign_id": campaign.id, "kind": kind, "targets": len(unique)},
        )
        return campaign.id


def absence_of(kind: str, days: str | None, provider_id: int | None) -> Absence | None:
    """The absence a provider-out campaign declares: whose, and which days (both required)."""
    if kind != "provider_out":
        return None
    if not days or provider_id is None:
        raise InvalidField(
            "a provider-out campaign names the provider and the days she is out "
            "(her booked appointments on those days are the ones called)"
        )
    first, last = days_of(days)
    absence = Absence(provider_id, first, last)
    absence.check()
    return absence


async def appointment_targets(
    s: AsyncSession, first_day: date, last_day: date, provider_id: int | None = None
) -> list[tuple[int, int | None]]:
    """Every booked appointment from `first_day` to `last_day` (with one provider's only):
    the targets of a reminder or a provider-out campaign."""
    query = select(Appointment.patient_id, Appointment.id).where(
        Appointment.status == "booked",
        Appointment.start >= datetime.combine(first_day, time.min),
        Appointment.start < datetime.combine(last_day + timedelta(days=1), time.min),
    )
    if provider_id is not None:
        query = query.where(Appointment.provider_id == provider_id)
    rows = (await s.execute(query.order_by(Appointment.start))).all()
    return [(patient_id, appointment_id) for patient_id, appointment_id in rows]


async def set_status(s: AsyncSession, campaign_id: int, status: str, *, actor: str) -> str:
    """Start (``running``) or pause (``paused``) a campaign; a finished one stays done."""
    if status not in ("running", "paused"):
        raise InvalidField("a campaign can be started or paused")
    async with atomic(s):
        campaign = await s.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound(f"no campaign {campaign_id}")
        if campaign.status == "done":
            return "done"
        campaign.status = status
        if status == "running" and campaign.started_at is None:
            campaign.started_at = datetime.now(UTC)
        add_audit(
            s,
            actor=actor,
            action=f"campaign_{'start' if status == 'running' else 'pause'}",
            patient_id=None,
            detail={"campaign_id": campaign_id},
        )
        return status


# -- the do-not-call list ----------------------------------------------------------------------
async def do_not_call(
    s: AsyncSession,
    *,
    number: str | None,
    patient_id: int | None,
    reason: str,
    call_id: str | None = None,
    actor: str = "bot",
) -> None:
    """Put a number and/or patient on the do-not-call list, at once: her pending targets in
    every campaign end as opted out (or do-not-call) before any dialer can claim them again."""
    async with atomic(s):
        await _add_do_not_call(
            s, number=number, patient_id=patient_id, reason=reason, call_id=call_id, actor=actor
        )


async def _add_do_not_call(
    s: AsyncSession,
    *,
    number: str | None,
    patient_id: int | None,
    reason: str,
    call_id: str | None,
    actor: str,
) -> None:
    normal = normalise_phone(number) if number else None
    if normal is None and patient_id is None:
        raise InvalidField("a do-not-call entry needs a number or a patient")
    opt_out = reason == "opt_out"
    index = number_key(cipher_of(s), normal) if normal else None
    s.add(DoNotCall(number_index=index, patient_id=patient_id, reason=reason, call_id=call_id))
    if patient_id is not None:
        await s.execute(
            update(CampaignTarget)
            .where(CampaignTarget.patient_id == patient_id, CampaignTarget.status == "pending")
            .values(status="done", outcome="opted_out" if opt_out else "do_not_call")
        )
    add_audit(
        s,
        actor=actor,
        action="do_not_call",
        patient_id=patient_id,
        call_id=call_id,
        detail={"reason": reason, "number": normal is not None},
    )


async def allow_calls_again(s: AsyncSession, *, number: str, actor: str) -> int:
    """Take a number off the do-not-call list (a clinic's list entry made by mistake, or the
    number's owner asked again); returns how many entries went. A patient's own "stop calling
    me" stays: it is kept by patient, and only she can take it back."""
    normal = normalise_phone(number)
    if normal is None:
        raise InvalidField(f"{number!r} is not a phone number")
    async with atomic(s):
        index = number_key(cipher_of(s), normal)
        entries = list(
            await s.scalars(
                select(DoNotCall).where(
                    DoNotCall.number_index == index, DoNotCall.reason != "opt_out"
                )
            )
        )
        for entry in entries:
            await s.delete(entry)
        add_audit(s, actor=actor, action="do_not_call_removed", patient_id=None,
                  detail={"entries": len(entries)})
        return len(entries)


async def _opted_out(s: AsyncSession, patient_id: int) -> bool:
    found = await s.scalar(
        select(DoNotCall.id)
        .where(DoNotCall.patient_id == patient_id, DoNotCall.reason == "opt_out")
        .limit(1)
    )
    return found is not None


async def _on_do_not_call(s: AsyncSession, patient_id: int, number: str) -> bool:
    index = number_key(cipher_of(s), number)
    found = await s.scalar(
        select(DoNotCall.id)
        .where(or_(DoNotCall.patient_id == patient_id, DoNotCall.number_index == index))
        .limit(1)
    )
    return found is not None


# -- dialing -----------------------------------------------------------------------------------
def zone_of(name: str | None, clinic_zone: ZoneInfo) -> ZoneInfo:
    if not name:
        return clinic_zone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return clinic_zone


def calling_window(campaign: Campaign, patient: Patient | None) -> tuple[time, time] | None:
    """The campaign's window narrowed to her own calling hours; None when they never meet."""
    start, end = campaign.window_start, campaign.window_end
    if patient is not None and patient.call_after is not None:
        start = max(start, patient.call_after)
    if patient is not None and patient.call_before is not None:
        end = min(end, patient.call_before)
    return (start, end) if start < end else None


def next_window_opening(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """None when `now` is inside the window (in `zone`); else the next opening, as UTC."""
    local = now.astimezone(zone)
    if start <= local.time() < end:
        return None
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone).astimezone(UTC)


async def _release_lost_claims(s: AsyncSession, now: datetime) -> None:
    """Targets held by a dialer that died mid-call go back to be dialled again."""
    lost = (
        await s.scalars(
            select(CampaignTarget).where(
                CampaignTarget.status == "dialing", CampaignTarget.claimed_until < now
            )
        )
    ).all()
    for target in lost:
        target.status, target.claimed_until = "pending", None
        target.next_attempt_at = now
        await s.execute(
            update(CampaignAttempt)
            .where(CampaignAttempt.target_id == target.id, CampaignAttempt.ended.is_(None))
            .values(ended=now, result="failed")
        )


async def claim_next(
    s: AsyncSession, *, now: datetime, clinic_zone: ZoneInfo, worker: str
) -> Dial | None:
    """The next target any running campaign may dial now, claimed for this dialer, with its
    attempt opened; None when nothing is due (or every campaign is at its pace)."""
    async with atomic(s):
        await _release_lost_claims(s, now)
        campaigns = (
            await s.scalars(
                select(Campaign).where(Campaign.status == "running").order_by(Campaign.id)
            )
        ).all()
        for campaign in campaigns:
            recent = await s.scalar(
                select(func.count(CampaignAttempt.id)).where(
                    CampaignAttempt.campaign_id == campaign.id,
                    CampaignAttempt.started > now - timedelta(minutes=1),
                )
            )
            if (recent or 0) >= campaign.pace_per_minute:
                continue
            dial = await _claim_in(s, campaign, now, clinic_zone, worker)
            if dial is not None:
                return dial
            await _finish_if_over(s, campaign, now)
    return None


async def _claim_in(
    s: AsyncSession, campaign: Campaign, now: datetime, clinic_zone: ZoneInfo, worker: str
) -> Dial | None:
    due = (
        await s.scalars(
            select(CampaignTarget)
            .where(
                CampaignTarget.campaign_id == campaign.id,
                CampaignTarget.status == "pending",
                CampaignTarget.next_attempt_at <= now,
            )
            .order_by(CampaignTarget.next_attempt_at, CampaignTarget.id)
            .limit(20)
        )
    ).all()
    for target in due:
        claimed = await s.execute(
            update(CampaignTarget)
            .where(CampaignTarget.id == target.id, CampaignTarget.status == "pending")
            .values(status="dialing", claimed_until=now + CLAIM_HOLD)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another dialer took her first
        await s.refresh(target)
        patient = await s.get(Patient, target.patient_id)
        assert patient is not None  # a foreign key
        number = _number_to_dial(patient)
        ended = await _cannot_call(s, campaign, target, patient, number, now)
        if ended is not None:
            target.status, target.outcome, target.claimed_until = "done", ended, None
            continue
        assert number is not None
        window = calling_window(campaign, patient)
        if window is None:
            target.status, target.outcome, target.claimed_until = "done", "outside_hours", None
            continue
        opening = next_window_opening(now, zone_of(patient.time_zone, clinic_zone), *window)
        if opening is not None:
            target.status, target.claimed_until, target.next_attempt_at = "pending", None, opening
            continue
        attempt = CampaignAttempt(
            target_id=target.id, campaign_id=campaign.id, started=now, worker=worker
        )
        s.add(attempt)
        await s.flush()
        return Dial(
            attempt_id=attempt.id,
            target_id=target.id,
            campaign_id=campaign.id,
            kind=campaign.kind,
            patient_id=patient.id,
            appointment_id=target.appointment_id,
            number=number,
            first_name=patient.first_name,
            voicemail_first_name=campaign.voicemail_first_name,
        )
    return None


def _number_to_dial(patient: Patient) -> str | None:
    order = {"mobile": 0, "home": 1}
    for phone in sorted(patient.phones, key=lambda p: order.get(p.kind, 2)):
        number = normalise_phone(phone.number)
        if number:
            return number
    return None


async def _cannot_call(
    s: AsyncSession,
    campaign: Campaign,
    target: CampaignTarget,
    patient: Patient,
    number: str | None,
    now: datetime,
) -> str | None:
    """Why this target ends without a call (the outcome), or None."""
    if number is None:
        return "no_number"
    if await _on_do_not_call(s, patient.id, number):
        return "do_not_call"
    if campaign.kind in ("reminder", "provider_out") and target.appointment_id is not None:
        appointment = await s.get(Appointment, target.appointment_id)
        if appointment is None or appointment.status != "booked":
            return "not_needed"
    return None


async def settle_attempt(
    s: AsyncSession,
    dial: Dial,
    *,
    result: str,
    sip_status: int | None = None,
    call_id: str | None = None,
    outcome: str | None = None,
    now: datetime | None = None,
    clinic_zone: ZoneInfo | None = None,
    opted_out: bool = False,
    call_back: CallBack | None = None,
) -> str | None:
    """Close the attempt with its `result`; end the target with `outcome`, or, for a
    retryable result, put it off (doubling) until its attempts run out. Returns the target's
    outcome once it has one. `opted_out`: she said "stop calling me" on the call; her
    do-not-call entry is written here if the call could not write it (the store was down).
    `call_back`: she asked to be called another time (result ``call_later``); the hours she
    gave become hers for every campaign, and the next try falls inside them."""
    now = now or datetime.now(UTC)
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidField(f"unknown outcome {outcome!r}")
    async with atomic(s):
        if opted_out:
            outcome = outcome or "opted_out"  # never dialled again, whatever else happened
            if not await _opted_out(s, dial.patient_id):
                await _add_do_not_call(
                    s, number=dial.number, patient_id=dial.patient_id, reason="opt_out",
                    call_id=call_id, actor="bot",
                )  # fmt: skip
        attempt = await s.get(CampaignAttempt, dial.attempt_id)
        target = await s.get(CampaignTarget, dial.target_id)
        campaign = await s.get(Campaign, dial.campaign_id)
        if attempt is None or target is None or campaign is None:
            raise NotFound(f"no attempt {dial.attempt_id}")
        # Read before anything changes: a read flushes, and a target flushed twice would have
        # its `updated_at` (when it ended, for the figures) overwritten with the clock's.
        patient = await s.get(Patient, target.patient_id)
        zone = zone_of(patient.time_zone if patient else None, clinic_zone or ZoneInfo("UTC"))
        attempt.ended, attempt.result = now, result
        attempt.sip_status, attempt.call_id = sip_status, call_id
        target.attempts += 1
        target.claimed_until, target.updated_at = None, now
        if call_back is not None and patient is not None:
            _keep_hours(s, patient, call_back, call_id)
        window = calling_window(campaign, patient)
        if window is None and outcome is None:
            outcome = "outside_hours"
        if outcome is None and result in RETRYABLE and target.attempts < campaign.max_attempts:
            assert window is not None
            gap = timedelta(minutes=campaign.retry_minutes) * 2 ** (target.attempts - 1)
            later = now + min(gap, MAX_RETRY_GAP)
            if call_back is not None and call_back.tomorrow:
                tomorrow = now.astimezone(zone).date() + timedelta(days=1)
                later = max(later, datetime.combine(tomorrow, time.min, tzinfo=zone))
            opening = next_window_opening(later, zone, *window)
            target.status, target.next_attempt_at = "pending", opening or later
        else:
            if outcome is None:
                outcome = {"dead_air": "no_answer", "hung_up": "no_answer"}.get(result, result)
                outcome = "reached" if result == "call_later" else outcome
            if outcome not in OUTCOMES:
                outcome = "failed"
            target.status, target.outcome = "done", outcome
        await _finish_if_over(s, campaign, now)
        return outcome


def _keep_hours(
    s: AsyncSession, patient: Patient, call_back: CallBack, call_id: str | None
) -> None:
    """The hours she gave, kept on her record for every campaign (and audited)."""
    if call_back.after is None and call_back.before is None:
        return
    _write_hours(s, patient, call_back.after, call_back.before, actor="bot", call_id=call_id)


def _write_hours(
    s: AsyncSession,
    patient: Patient,
    after: time | None,
    before: time | None,
    *,
    actor: str,
    call_id: str | None = None,
) -> None:
    patient.call_after, patient.call_before = after, before
    add_audit(
        s,
        actor=actor,
        action="call_hours",
        patient_id=patient.id,
        call_id=call_id,
        detail={
            "after": after.isoformat() if after else None,
            "before": before.isoformat() if before else None,
        },
    )


def hours_of(text: str) -> tuple[time | None, time | None]:
    """'18:00-' (after six), '-12:00' (before noon), '16:00-18:00', or '' (any time)."""
    if not text.strip():
        return None, None
    refused = InvalidField(f"calling hours are HH:MM-HH:MM, HH:MM- or -HH:MM, not {text!r}")
    first, dash, last = text.strip().partition("-")
    try:
        after = time.fromisoformat(first.strip()) if first.strip() else None
        before = time.fromisoformat(last.strip()) if last.strip() else None
    except ValueError as exc:
        raise refused from exc
    if not dash or (after is not None and before is not None and not after < before):
        raise refused
    return after, before


async def call_hours(s: AsyncSession, patient_id: int) -> tuple[time | None, time | None]:
    """A patient's own calling hours (None: no bound)."""
    async with atomic(s):
        patient = await s.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"no patient with id {patient_id}")
        return patient.call_after, patient.call_before


async def set_call_hours(
    s: AsyncSession, patient_id: int, after: time | None, before: time | None, *, actor: str
) -> None:
    """Set (or, with both None, clear) a patient's own calling hours: she called in to say
    "any time is fine now", or the front desk took her hours by phone. Audited."""
    async with atomic(s):
        patient = await s.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"no patient with id {patient_id}")
        _write_hours(s, patient, after, before, actor=actor)


async def _finish_if_over(s: AsyncSession, campaign: Campaign, now: datetime) -> None:
    if campaign.status != "running":
        return
    open_targets = await s.scalar(
        select(func.count(CampaignTarget.id)).where(
            CampaignTarget.campaign_id == campaign.id, CampaignTarget.status != "done"
        )
    )
    if not open_targets:
        campaign.status, campaign.finished_at = "done", now
        log.info("campaign finished", extra={"campaign_id": campaign.id})


# -- reading -----------------------------------------------------------------------------------
async def campaign_status(s: AsyncSession, campaign_id: int) -> CampaignStatus:
    """Counts only (no patient): targets by state and outcome, attempts by result."""
    campaign = await s.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    targets = (
        await s.execute(
            select(CampaignTarget.status, CampaignTarget.outcome).where(
                CampaignTarget.campaign_id == campaign_id
            )
        )
    ).all()
    results = await s.scalars(
        select(CampaignAttempt.result).where(CampaignAttempt.campaign_id == campaign_id)
    )
    return CampaignStatus(
        id=campaign.id,
        name=campaign.name,
        kind=campaign.kind,
        status=campaign.status,
        window=f"{campaign.window_start:%H:%M}-{campaign.window_end:%H:%M}",
        targets=len(targets),
        by_status=dict(Counter(status for status, _ in targets)),
        outcomes=dict(Counter(outcome for _, outcome in targets if outcome)),
        attempts=dict(Counter(result or "in_progress" for result in results)),
    )


async def campaign_ids(s: AsyncSession) -> list[int]:
    return list(await s.scalars(select(Campaign.id).order_by(Campaign.id.desc())))


RESULT_COLUMNS = [
    "target",
    "patient_id",
    "appointment_id",
    "status",
    "attempts",
    "outcome",
    "last_call_id",
]


async def campaign_results(s: AsyncSession, campaign_id: int) -> list[dict[str, object]]:
    """One row per target for export: ids, attempts, outcome, the last call (no names)."""
    if await s.get(Campaign, campaign_id) is None:
        raise NotFound(f"no campaign {campaign_id}")
    targets = (
        await s.scalars(
            select(CampaignTarget)
            .where(CampaignTarget.campaign_id == campaign_id)
            .order_by(CampaignTarget.id)
        )
    ).all()
    last_calls: dict[int, str | None] = {}
    for attempt in await s.scalars(
        select(CampaignAttempt)
        .where(CampaignAttempt.campaign_id == campaign_id)
        .order_by(CampaignAttempt.id)
    ):
        last_calls[attempt.target_id] = attempt.call_id or last_calls.get(attempt.target_id)
    return [
        {
            "target": t.id,
            "patient_id": t.patient_id,
            "appointment_id": t.appointment_id,
            "status": t.status,
            "attempts": t.attempts,
            "outcome": t.outcome,
            "last_call_id": last_calls.get(t.id),
        }
        for t in targets
    ]
