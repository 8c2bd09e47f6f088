"""Appointments: find free slots for a spoken request, book, reschedule, cancel, list.

Double booking is prevented twice: a conditional UPDATE flips a slot from free to booked (the
loser of a race updates no row), and a partial unique index allows one live appointment per
slot. Slot and appointment times are the clinic's local wall-clock times (naive datetimes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import NotFound, SlotTaken, UnknownVisitType
from integrations.services.absences import status_when_freed
from integrations.services.audit import add_audit
from integrations.services.transaction import atomic
from integrations.store.models import Appointment, Patient, Provider, Slot, VisitType

if TYPE_CHECKING:
    from nlu.dates import WhenRequest

log = logging.getLogger(__name__)

DEFAULT_HORIZON = timedelta(days=60)
# Bounds of the parts of the day a caller may ask for, as [from, to) start times.
PARTS_OF_DAY: dict[str, tuple[time, time]] = {
    "morning": (time(0, 0), time(12, 0)),
    "afternoon": (time(12, 0), time(17, 0)),
    "evening": (time(17, 0), time(23, 59, 59)),
}
_SCAN_LIMIT = 500


@dataclass(frozen=True)
class SlotOffer:
    slot_id: int
    start: datetime
    provider: str
    location: str


@dataclass(frozen=True)
class Booking:
    appointment_id: int
    start: datetime
    provider: str


@dataclass(frozen=True)
class AppointmentInfo:
    appointment_id: int
    start: datetime
    provider: str
    location: str


def _matches_time(start: datetime, when: WhenRequest | None) -> bool:
    if when is None:
        return True
    t = start.time()
    if when.part_of_day in PARTS_OF_DAY:
        lo, hi = PARTS_OF_DAY[when.part_of_day]
        if not lo <= t < hi:
            return False
    if when.earliest is not None and t < when.earliest:
        return False
    return not (when.latest is not None and t > when.latest)


def _spread(slots: list[Slot], limit: int) -> list[Slot]:
    """Earliest first, but one per half-day before a second one: choices the caller can use."""
    chosen: list[Slot] = []
    seen: set[tuple[date, bool]] = set()
    for slot in slots:
        key = (slot.start.date(), slot.start.hour < 12)
        if key not in seen:
            seen.add(key)
            chosen.append(slot)
        if len(chosen) == limit:
            return chosen
    rest = [slot for slot in slots if slot not in chosen]
    chosen.extend(rest[: limit - len(chosen)])
    return sorted(chosen, key=lambda slot: slot.start)


def search_window(when: WhenRequest | None, now: datetime) -> tuple[datetime, datetime]:
    """[lower, upper) start times a request for `when` searches (the horizon when vague)."""
    if when is None:
        return now, now + DEFAULT_HORIZON
    lower = max(now, datetime.combine(when.start, time.min))
    return lower, datetime.combine(when.end + timedelta(days=1), time.min)


async def roster(s: AsyncSession) -> list[tuple[int, str, str]]:
    """The clinic's providers as (id, full name, the name said on the phone), by id."""
    rows = await s.execute(
        select(Provider.id, Provider.name, Provider.display_name).order_by(Provider.id)
    )
    return [(pid, name, display) for pid, name, display in rows]


async def find_slots(
    s: AsyncSession,
    *,
    when: WhenRequest | None,
    visit_type: str = "follow_up",
    provider_id: int | None = None,
    limit: int = 3,
    now: datetime | None = None,
    patient_id: int | None = None,
    moving: int | None = None,
) -> list[SlotOffer]:
    """Up to `limit` free future slots matching the request, spread over different half-days.
    For `patient_id`, none at a time she already has an appointment (but the one she is
    `moving`): two `make run` calls booked one patient with two doctors at the same time."""
    now = now or datetime.now()
    async with atomic(s):
        if await s.scalar(select(VisitType.id).where(VisitType.code == visit_type)) is None:
            known = sorted((await s.scalars(select(VisitType.code))).all())
            raise UnknownVisitType(f"unknown visit type {visit_type!r}; known: {known}")
        lower, upper = search_window(when, now)
        query = (
            select(Slot)
            .where(
                Slot.status == "free",
                Slot.start >= lower,
                Slot.start < upper,
                or_(Slot.visit_type_code.is_(None), Slot.visit_type_code == visit_type),
            )
            .order_by(Slot.start, Slot.provider_id)
            .limit(_SCAN_LIMIT)
        )
        if provider_id is not None:
            query = query.where(Slot.provider_id == provider_id)
        slots = [slot for slot in await s.scalars(query) if _matches_time(slot.start, when)]
        if patient_id is not None:
            busy = await _busy_times(s, patient_id, lower, upper, moving)
            slots = [x for x in slots if not any(a < x.end and x.start < b for a, b in busy)]
        return [
            SlotOffer(slot.id, slot.start, slot.provider.display_name, slot.location.name)
            for slot in _spread(slots, limit)
        ]


async def _busy_times(
    s: AsyncSession, patient_id: int, lower: datetime, upper: datetime, moving: int | None
) -> list[tuple[datetime, datetime]]:
    """When the patient is already booked between `lower` and `upper`."""
    query = select(Appointment.start, Appointment.end).where(
        Appointment.patient_id == patient_id,
        Appointment.status == "booked",
        Appointment.end > lower,
        Appointment.start < upper,
    )
    if moving is not None:
        query = query.where(Appointment.id != moving)
    return [(start, end) for start, end in await s.execute(query)]


async def _claim_slot(s: AsyncSession, slot_id: int) -> Slot:
    """Flip the slot from free to booked, or raise SlotTaken if someone else got it."""
    result = await s.execute(
        update(Slot).where(Slot.id == slot_id, Slot.status == "free").values(status="booked")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if await s.get(Slot, slot_id) is None:
            raise NotFound(f"no slot with id {slot_id}")
        raise SlotTaken(f"slot {slot_id} is no longer free")
    slot = await s.get(Slot, slot_id, populate_existing=True)
    assert slot is not None
    return slot


async def _new_appointment(
    s: AsyncSession, *, call_id: str, patient_id: int, slot_id: int, visit_type: str
) -> Appointment:
    if await s.get(Patient, patient_id) is None:
        raise NotFound(f"no patient with id {patient_id}")
    slot = await _claim_slot(s, slot_id)
    appt = Appointment(
        patient_id=patient_id,
        provider_id=slot.provider_id,
        location_id=slot.location_id,
        slot_id=slot.id,
        start=slot.start,
        end=slot.end,
        visit_type=visit_type,
        status="booked",
        booked_by_call_id=call_id,
    )
    s.add(appt)
    await s.flush()
    await s.refresh(appt, ["provider", "location"])
    return appt


async def same_call_booking(
    s: AsyncSession, *, call_id: str, patient_id: int, slot_id: int
) -> Appointment | None:
    return await s.scalar(
        select(Appointment).where(
            Appointment.slot_id == slot_id,
            Appointment.status == "booked",
            Appointment.patient_id == patient_id,
            Appointment.booked_by_call_id == call_id,
        )
    )


async def book(
    s: AsyncSession, *, call_id: str, patient_id: int, slot_id: int, visit_type: str = "follow_up"
) -> Booking:
    """Book the slot for the patient; a retry by the same call returns the same booking."""
    try:
        async with atomic(s):
            again = await same_call_booking(
                s, call_id=call_id, patient_id=patient_id, slot_id=slot_id
            )
            appt = again or await _new_appointment(
                s, call_id=call_id, patient_id=patient_id, slot_id=slot_id, visit_type=visit_type
            )
            if again is None:
                _audit(s, "book_appointment", appt, call_id)
            return Booking(appt.id, appt.start, appt.provider.display_name)
    except IntegrityError as exc:
        raise SlotTaken(f"slot {slot_id} is no longer free") from exc


async def _live_appointment(s: AsyncSession, patient_id: int, appointment_id: int) -> Appointment:
    appt = await s.get(Appointment, appointment_id)
    if appt is None or appt.patient_id != patient_id:
        raise NotFound(f"appointment {appointment_id} is not this patient's")
    return appt


async def _release(s: AsyncSession, appt: Appointment) -> None:
    """Offer the visit's slot again, unless its provider is out that day (then it is blocked)."""
    if appt.slot_id is not None:
        freed = await status_when_freed(s, appt.provider_id, appt.start)
        await s.execute(
            update(Slot)
            .where(Slot.id == appt.slot_id, Slot.status == "booked")
            .values(status=freed)
        )


def _audit(s: AsyncSession, action: str, appt: Appointment, call_id: str) -> None:
    add_audit(
        s,
        actor="bot",
        action=action,
        patient_id=appt.patient_id,
        call_id=call_id,
        detail={"appointment_id": appt.id},
    )
    log.info("appointment change", extra={"call_id": call_id, "action": action})


async def reschedule(
    s: AsyncSession, *, call_id: str, patient_id: int, appointment_id: int, slot_id: int
) -> Booking:
    """Move a live appointment to another slot in one transaction (the old slot is freed)."""
    try:
        async with atomic(s):
            old = await _live_appointment(s, patient_id, appointment_id)
            if old.status != "booked":
                raise NotFound(f"appointment {appointment_id} is {old.status}, not booked")
            if old.slot_id == slot_id:
                return Booking(old.id, old.start, old.provider.display_name)
            new = await _new_appointment(
                s,
                call_id=call_id,
                patient_id=patient_id,
                slot_id=slot_id,
                visit_type=old.visit_type,
            )
            old.status = "rescheduled"
            old.rescheduled_to_id = new.id
            old.changed_by_call_id = call_id
            await _release(s, old)
            _audit(s, "reschedule_appointment", new, call_id)
            return Booking(new.id, new.start, new.provider.display_name)
    except IntegrityError as exc:
        raise SlotTaken(f"slot {slot_id} is no longer free") from exc


async def cancel(s: AsyncSession, *, call_id: str, patient_id: int, appointment_id: int) -> None:
    """Cancel a live appointment and free its slot; cancelling twice is a no-op."""
    async with atomic(s):
        appt = await _live_appointment(s, patient_id, appointment_id)
        if appt.status == "cancelled":
            return
        if appt.status != "booked":
            raise NotFound(f"appointment {appointment_id} is {appt.status}, not booked")
        appt.status = "cancelled"
        appt.changed_by_call_id = call_id
        await _release(s, appt)
        _audit(s, "cancel_appointment", appt, call_id)


async def confirm(
    s: AsyncSession, *, call_id: str, patient_id: int, appointment_id: int, in_ehr: bool | None
) -> None:
    """The patient said she will come: recorded in the audit trail (the appointment stays
    booked). `in_ehr`: whether the EHR took it too (None: no EHR)."""
    async with atomic(s):
        appt = await _live_appointment(s, patient_id, appointment_id)
        if appt.status != "booked":
            raise NotFound(f"appointment {appointment_id} is {appt.status}, not booked")
        add_audit(
            s,
            actor="bot",
            action="confirm_appointment",
            patient_id=patient_id,
            call_id=call_id,
            detail={"appointment_id": appointment_id, "in_ehr": in_ehr},
        )


async def upcoming(
    s: AsyncSession, patient_id: int, *, now: datetime | None = None
) -> list[AppointmentInfo]:
    """The patient's booked appointments from now on, soonest first."""
    now = now or datetime.now()
    async with atomic(s):
        rows = await s.scalars(
            select(Appointment)
            .where(
                Appointment.patient_id == patient_id,
                Appointment.status == "booked",
                Appointment.start >= now,
            )
            .order_by(Appointment.start)
        )
        return [
            AppointmentInfo(
                a.id, a.start, a.provider.display_name, a.location.name if a.location else ""
            )
            for a in rows
        ]
