"""A provider out: the days she cannot see patients, declared with a provider-out campaign.

Declaring blocks her free slots on those days at once, so no caller is offered them while
her booked patients are being called; and a slot freed there later (a visit cancelled or moved
by that campaign's calls) is blocked rather than offered again (`status_when_freed`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import InvalidField, NotFound
from integrations.services.audit import add_audit
from integrations.services.transaction import atomic
from integrations.store.models import Appointment, Provider, ProviderAbsence, Slot

log = logging.getLogger(__name__)

# The longest absence one declaration may cover: a longer one is a schedule change, made in
# the EHR's own scheduling, not by blocking slots a day at a time from here.
MAX_DAYS = 31


@dataclass(frozen=True)
class Absence:
    provider_id: int
    first_day: date
    last_day: date
    id: int | None = None  # set once declared

    def check(self) -> None:
        if self.last_day < self.first_day:
            raise InvalidField("the last day out must not be before the first")
        if (self.last_day - self.first_day).days >= MAX_DAYS:
            raise InvalidField(f"a provider can be declared out for at most {MAX_DAYS} days")

    @property
    def lower(self) -> datetime:
        return datetime.combine(self.first_day, time.min)

    @property
    def upper(self) -> datetime:
        """The start of the day after the last one out (slot times are the clinic's wall clock)."""
        return datetime.combine(self.last_day + timedelta(days=1), time.min)


async def declare_out(s: AsyncSession, absence: Absence, *, actor: str) -> int:
    """Record the absence and block every free slot of hers on those days (how many)."""
    absence.check()
    async with atomic(s):
        if await s.get(Provider, absence.provider_id) is None:
            raise NotFound(f"no provider with id {absence.provider_id}")
        s.add(
            ProviderAbsence(
                provider_id=absence.provider_id,
                first_day=absence.first_day,
                last_day=absence.last_day,
                declared_by=actor,
            )
        )
        result = await s.execute(
            update(Slot)
            .where(
                Slot.provider_id == absence.provider_id,
                Slot.status == "free",
                Slot.start >= absence.lower,
                Slot.start < absence.upper,
            )
            .values(status="blocked")
        )
        blocked = int(result.rowcount)  # type: ignore[attr-defined]
        add_audit(
            s,
            actor=actor,
            action="declare_provider_out",
            patient_id=None,
            detail={
                "provider_id": absence.provider_id,
                "first_day": absence.first_day.isoformat(),
                "last_day": absence.last_day.isoformat(),
                "slots_blocked": blocked,
            },
        )
    log.info("provider declared out", extra={"slots_blocked": blocked})
    return blocked


async def is_out(s: AsyncSession, provider_id: int, day: date) -> bool:
    found = await s.scalar(
        select(ProviderAbsence.id)
        .where(
            ProviderAbsence.provider_id == provider_id,
            ProviderAbsence.first_day <= day,
            ProviderAbsence.last_day >= day,
        )
        .limit(1)
    )
    return found is not None


async def status_when_freed(s: AsyncSession, provider_id: int, start: datetime) -> str:
    """What a slot becomes when the visit holding it is cancelled or moved."""
    return "blocked" if await is_out(s, provider_id, start.date()) else "free"


async def declared(s: AsyncSession) -> list[Absence]:
    """Every declared absence that has not ended, soonest first."""
    async with atomic(s):
        rows = await s.scalars(
            select(ProviderAbsence)
            .where(ProviderAbsence.last_day >= date.today())
            .order_by(ProviderAbsence.first_day, ProviderAbsence.id)
        )
        return [Absence(r.provider_id, r.first_day, r.last_day, r.id) for r in rows]


async def find(s: AsyncSession, absence_id: int) -> Absence:
    row = await s.get(ProviderAbsence, absence_id)
    if row is None:
        raise NotFound(f"no declared absence with id {absence_id}")
    return Absence(row.provider_id, row.first_day, row.last_day, row.id)


async def blocked_slots(s: AsyncSession, absence: Absence) -> list[Slot]:
    """Her blocked slots on the absence's days that no other absence of hers still covers
    and no live visit holds: what withdrawing it offers again (three reads, not three a slot)."""
    slots = list(
        await s.scalars(
            select(Slot).where(
                Slot.provider_id == absence.provider_id,
                Slot.status == "blocked",
                Slot.start >= absence.lower,
                Slot.start < absence.upper,
            )
        )
    )
    others = (
        await s.execute(
            select(ProviderAbsence.first_day, ProviderAbsence.last_day).where(
                ProviderAbsence.id != absence.id,
                ProviderAbsence.provider_id == absence.provider_id,
                ProviderAbsence.first_day <= absence.last_day,
                ProviderAbsence.last_day >= absence.first_day,
            )
        )
    ).all()
    held = set(
        await s.scalars(
            select(Appointment.slot_id).where(
                Appointment.slot_id.in_([slot.id for slot in slots]),
                Appointment.status == "booked",
            )
        )
    )
    return [
        slot
        for slot in slots
        if slot.id not in held
        and not any(first <= slot.start.date() <= last for first, last in others)
    ]


async def withdraw(s: AsyncSession, absence_id: int, *, actor: str) -> int:
    """She is in after all: the absence goes, and the slots it alone blocked are offered
    again; how many."""
    async with atomic(s):
        absence = await find(s, absence_id)
        reopened = [slot.id for slot in await blocked_slots(s, absence)]
        await s.execute(delete(ProviderAbsence).where(ProviderAbsence.id == absence_id))
        if reopened:
            await s.execute(
                update(Slot)
                .where(Slot.id.in_(reopened), Slot.status == "blocked")
                .values(status="free")
            )
        add_audit(
            s,
            actor=actor,
            action="withdraw_provider_out",
            patient_id=None,
            detail={
                "absence_id": absence_id,
                "provider_id": absence.provider_id,
                "first_day": absence.first_day.isoformat(),
                "last_day": absence.last_day.isoformat(),
                "slots_reopened": len(reopened),
            },
        )
    return len(reopened)
