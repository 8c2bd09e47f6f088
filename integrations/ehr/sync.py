"""What the dialogs call when an EHR is the source of truth: refresh before reading, write to
the EHR before the local store, and never announce what the EHR did not take.

- Reads (`before_*`) refresh the mirror; when the EHR is down they say so (False) and the
  dialog goes on with the last mirrored state — a caller is still verified, never refused.
- Bookings, reschedules and cancellations are one EHR transaction each, the slot guarded by
  the version it was offered at (If-Match). 412: another booking won, `SlotTaken`. The EHR
  down: `EhrUnavailable`, nothing is booked or cancelled here either, and a front-desk
  callback task keeps the caller's request so nothing is lost.
- Refill requests are filed locally as before (the caller is told what is true: the request
  is on record) and sent to the EHR as Tasks by `send_refills`, an outbox that retries every
  request not yet sent; a retry finds the Task an earlier attempt created (its identifier).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.ehr import coverage
from integrations.ehr import resources as fhir
from integrations.ehr.fhir_client import FhirEhr
from integrations.ehr.mirror import EhrMirror
from integrations.errors import EhrUnavailable, NotFound, SlotTaken
from integrations.services import absences, scheduling
from integrations.services.audit import add_audit
from integrations.services.tasks import create_task
from integrations.services.transaction import atomic
from integrations.store.database import Database
from integrations.store.models import (
    Appointment,
    Patient,
    Provider,
    RefillRequest,
    Slot,
    StaffTask,
)

log = logging.getLogger(__name__)

CALLBACK_QUEUE = "front_desk"


@dataclass(frozen=True)
class _Hold:
    """A slot as the EHR knows it, with what a booking of it must name."""

    slot: str
    version: str | None
    practitioner: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class _Booked:
    """A live appointment as the EHR knows it, and what its slot becomes when it is freed."""

    appointment: str
    slot: str | None
    slot_freed_as: str  # "free", or "busy-unavailable" when the provider is out that day


_Sent = TypeVar("_Sent", RefillRequest, StaffTask)  # what the outbox sends as a Task
# Staff task kinds sent to the EHR: what the Task asks of the staff, and whether it is urgent.
STAFF_TASK_WORK: dict[str, tuple[str, bool]] = {
    "nurse_callback": ("Nurse callback: call the patient back", True),
    "callback": ("Call the patient back", False),
    "prior_auth": ("Prior authorization request (by phone)", False),
    "referral": ("Referral request (by phone)", False),
    "insurance_update": ("Update the patient's insurance", False),
}


class EhrSync:
    def __init__(self, db: Database, ehr: FhirEhr) -> None:
        self.db, self.ehr = db, ehr
        self.mirror = EhrMirror(db, ehr)
        # After the last outbox pass (the health page shows them).
        self.refills_waiting = self.tasks_waiting = 0

    async def _refreshed(self, what: str, refresh: Awaitable[None]) -> bool:
        try:
            await refresh
        except EhrUnavailable as exc:
            log.warning(
                "EHR read failed; using the last mirrored %s", what, extra={"why": str(exc)}
            )
            return False
        return True

    async def before_verification(self, dob: str) -> bool:
        return await self._refreshed("patients", self.mirror.patients_born_on(dob))

    async def before_medications(self, patient_id: int) -> bool:
        return await self._refreshed("medications", self.mirror.medications_of(patient_id))

    async def before_appointments(self, patient_id: int, now: datetime) -> bool:
        return await self._refreshed("appointments", self.mirror.appointments_of(patient_id, now))

    async def before_slots(self, lower: datetime, upper: datetime) -> bool:
        return await self._refreshed("slots", self.mirror.slots_between(lower, upper))

    async def coverage(self, patient_id: int, today: date) -> list[dict[str, str | None]]:
        """The insurance in force the EHR has for the patient (`integrations.ehr.coverage`),
        read now; EhrUnavailable when it does not answer, NotFound when it has no such patient."""
        fhir_id = await self._patient(patient_id)
        found = await self.ehr.search("Coverage", beneficiary=f"Patient/{fhir_id}")
        return [coverage.summary(c) for c in found if coverage.in_force(c, today)]

    # -- writes -------------------------------------------------------------------------

    async def book(
        self, *, call_id: str, patient_id: int, slot_id: int, visit_type: str = "follow_up"
    ) -> scheduling.Booking:
        """Book in the EHR, then here; see the module docstring for the failures."""
        async with self.db.session() as s:
            again = await scheduling.same_call_booking(
                s, call_id=call_id, patient_id=patient_id, slot_id=slot_id
            )
            if again is not None:
                return scheduling.Booking(again.id, again.start, again.provider.display_name)
        patient, hold = await self._patient(patient_id), await self._hold(slot_id)
        key = f"{call_id}:{hold.slot}"
        try:
            entries = await self._claim(hold, patient, visit_type, key)
            appointment = await self._write(entries, key, hold)
        except EhrUnavailable:
            await self._callback(call_id, patient_id, f"A booking by phone for {_when(hold)}")
            raise
        return await self._here(
            slot_id,
            appointment,
            lambda s: scheduling.book(
                s, call_id=call_id, patient_id=patient_id, slot_id=slot_id, visit_type=visit_type
            ),
        )

    async def reschedule(
        self, *, call_id: str, patient_id: int, appointment_id: int, slot_id: int
    ) -> scheduling.Booking:
        """Move the appointment in the EHR (new slot taken, old one freed, old appointment
        cancelled) in one transaction, then here."""
        patient, hold = await self._patient(patient_id), await self._hold(slot_id)
        old = await self._booked(patient_id, appointment_id)
        key = f"{call_id}:{hold.slot}"
        try:
            cancelled = await self._cancelled(old)
            was = cancelled[0]["resource"]
            kind = str((was.get("appointmentType") or {}).get("text") or "follow_up")
            entries = [*await self._claim(hold, patient, kind, key), *cancelled]
            new = await self._write(entries, key, hold)
        except EhrUnavailable:
            await self._callback(call_id, patient_id, f"A move by phone to {_when(hold)}")
            raise
        return await self._here(
            slot_id,
            new,
            lambda s: scheduling.reschedule(
                s,
                call_id=call_id,
                patient_id=patient_id,
                appointment_id=appointment_id,
                slot_id=slot_id,
            ),
        )

    async def cancel(self, *, call_id: str, patient_id: int, appointment_id: int) -> None:
        booked = await self._booked(patient_id, appointment_id)
        try:
            await self.ehr.transaction(await self._cancelled(booked))
        except EhrUnavailable:
            await self._callback(call_id, patient_id, "A cancellation by phone")
            raise
        async with self.db.session() as s:
            await scheduling.cancel(
                s, call_id=call_id, patient_id=patient_id, appointment_id=appointment_id
            )

    async def confirm(self, *, patient_id: int, appointment_id: int) -> None:
        """She will come: her participation in the EHR's appointment becomes `accepted`
        (only over the version read: `If-Match`); one the EHR no longer has booked is not
        confirmed (`NotFound`)."""
        fhir_id = (await self._booked(patient_id, appointment_id)).appointment
        patient = f"Patient/{await self._patient(patient_id)}"
        for attempt in range(2):  # someone changed it between our read and write: once more
            appointment = await self.ehr.read("Appointment", fhir_id)
            if appointment.get("status") != "booked":
                raise NotFound(f"the EHR has appointment {fhir_id} {appointment.get('status')}")
            for participant in appointment.get("participant") or []:
                if (participant.get("actor") or {}).get("reference") == patient:
                    participant["status"] = "accepted"
            try:
                await self.ehr.transaction([fhir.put(appointment, if_unchanged=True)])
                return
            except SlotTaken:  # 412: not the version read
                if attempt:
                    raise EhrUnavailable("the appointment keeps changing in the EHR") from None

    async def declare_out(self, absence: absences.Absence, *, actor: str) -> int:
        """Block her free slots on those days in the EHR first (each Slot `busy-unavailable`,
        only over the version read), then here; how many were blocked."""
        absence.check()
        await self._restate_slots(absence, self._free_slots_of, "free", "busy-unavailable")
        async with self.db.session() as s:
            count = await absences.declare_out(s, absence, actor=actor)
        await self._refreshed("slots", self.mirror.slots_between(absence.lower, absence.upper))
        return count

    async def withdraw_out(self, absence_id: int, *, actor: str) -> int:
        """She is in after all: the slots the absence alone blocked are offered again, in the
        EHR first (`busy-unavailable` back to `free`), then here; how many."""
        async with self.db.session() as s:
            absence = await absences.find(s, absence_id)
        await self._restate_slots(absence, self._reopened_by, "busy-unavailable", "free")
        async with self.db.session() as s:
            count = await absences.withdraw(s, absence_id, actor=actor)
        await self._refreshed("slots", self.mirror.slots_between(absence.lower, absence.upper))
        return count

    async def _restate_slots(
        self,
        absence: absences.Absence,
        which: Callable[[absences.Absence], Awaitable[list[str]]],
        was: str,
        becomes: str,
    ) -> None:
        """Set the EHR slots `which` names from `was` to `becomes` in one transaction, each
        over the version read. A slot changed between our read and write (412) is re-read and
        the rest tried again."""
        for _attempt in range(3):
            await self.mirror.slots_between(absence.lower, absence.upper)
            entries = []
            for fhir_id in await which(absence):
                current = await self.ehr.read("Slot", fhir_id)
                if current.get("status") == was:
                    entries.append(fhir.put({**current, "status": becomes}, if_unchanged=True))
            try:
                if entries:
                    await self.ehr.transaction(entries)
                return
            except SlotTaken:
                continue
        raise EhrUnavailable("the provider's slots keep changing in the EHR")

    async def _free_slots_of(self, absence: absences.Absence) -> list[str]:
        async with self.db.session() as s:
            found = await s.scalars(
                select(Slot.fhir_id).where(
                    Slot.provider_id == absence.provider_id,
                    Slot.status == "free",
                    Slot.fhir_id.is_not(None),
                    Slot.start >= absence.lower,
                    Slot.start < absence.upper,
                )
            )
            return [fhir_id for fhir_id in found if fhir_id]

    async def _reopened_by(self, absence: absences.Absence) -> list[str]:
        async with self.db.session() as s:
            return [
                slot.fhir_id for slot in await absences.blocked_slots(s, absence) if slot.fhir_id
            ]

    async def _write(self, entries: list[dict[str, Any]], key: str, hold: _Hold) -> str:
        """Run the booking transaction; the new Appointment's EHR id (entry 1 of each)."""
        try:
            answer = await self.ehr.transaction(entries)
            return FhirEhr.ids(answer)[1]
        except SlotTaken:
            # Ours after all when an earlier attempt landed but its answer was lost.
            mine = await self.ehr.search("Appointment", identifier=f"{fhir.BOOKING_SYSTEM}|{key}")
            if mine:
                return str(mine[0]["id"])
            await self._refresh_slot(hold.slot)
            raise

    async def _cancelled(self, booked: _Booked) -> list[dict[str, Any]]:
        """The entries that cancel an EHR appointment and free its slot (the appointment's
        entry first); a slot on a day its provider is out is left busy-unavailable."""
        appointment = await self.ehr.read("Appointment", booked.appointment)
        entries = [fhir.put({**appointment, "status": "cancelled"})]
        if booked.slot:
            slot = await self.ehr.read("Slot", booked.slot)
            entries.append(fhir.put({**slot, "status": booked.slot_freed_as}))
        return entries

    async def _here(
        self,
        slot_id: int,
        fhir_id: str,
        write: Callable[[AsyncSession], Awaitable[scheduling.Booking]],
    ) -> scheduling.Booking:
        """The booking the EHR took, written here too and linked to its EHR appointment."""
        await self._ours(slot_id)
        async with self.db.session() as s:
            booking = await write(s)
            await self._link(s, booking.appointment_id, fhir_id)
        return booking

    async def _ours(self, slot_id: int) -> None:
        """The EHR has just booked the slot for us. Another call's slot search may have
        mirrored it as busy in the meantime (it is, with our appointment): free it here for
        our own booking to take, or the caller would hear "just taken" of her own visit."""
        async with self.db.session() as s, atomic(s):
            held = await s.scalar(
                select(Appointment.id).where(
                    Appointment.slot_id == slot_id, Appointment.status == "booked"
                )
            )
            if held is None:
                await s.execute(
                    update(Slot)
                    .where(Slot.id == slot_id, Slot.status == "booked")
                    .values(status="free")
                )

    async def _refresh_slot(self, fhir_id: str) -> None:
        try:
            await self.mirror.slot(fhir_id)
        except EhrUnavailable:
            log.warning("could not re-read a slot another booking took")

    async def _callback(self, call_id: str, patient_id: int, what: str) -> None:
        """Keep the caller's request for a person when the EHR did not take it."""
        async with self.db.session() as s:
            await create_task(
                s,
                kind="callback",
                queue=CALLBACK_QUEUE,
                patient_id=patient_id,
                call_id=call_id,
                note=f"{what} could not be written to the EHR (it did not answer). "
                "Call the patient back to complete it.",
            )
        log.warning("EHR write failed; callback task created", extra={"call_id": call_id})

    async def _patient(self, patient_id: int) -> str:
        fhir_id = await self.mirror.fhir_id_of(Patient, patient_id)
        if fhir_id is None:
            raise NotFound(f"patient {patient_id} is not in the EHR")
        return fhir_id

    async def _hold(self, slot_id: int) -> _Hold:
        async with self.db.session() as s:
            slot = await s.get(Slot, slot_id)
            if slot is None or slot.fhir_id is None:
                raise NotFound(f"slot {slot_id} is not one the EHR offered")
            if slot.status != "free":
                raise SlotTaken(f"slot {slot_id} is no longer free")
            practitioner = await s.scalar(
                select(Provider.fhir_id).where(Provider.id == slot.provider_id)
            )
            if practitioner is None:
                raise NotFound(f"slot {slot_id}'s provider is not in the EHR")
            return _Hold(slot.fhir_id, slot.fhir_version, practitioner, slot.start, slot.end)

    async def _booked(self, patient_id: int, appointment_id: int) -> _Booked:
        async with self.db.session() as s:
            appt = await s.get(Appointment, appointment_id)
            if appt is None or appt.patient_id != patient_id or appt.fhir_id is None:
                raise NotFound(f"appointment {appointment_id} is not this patient's in the EHR")
            slot = await s.get(Slot, appt.slot_id) if appt.slot_id else None
            freed = await absences.status_when_freed(s, appt.provider_id, appt.start)
            return _Booked(
                appt.fhir_id,
                slot.fhir_id if slot else None,
                "free" if freed == "free" else "busy-unavailable",
            )

    async def _claim(
        self, hold: _Hold, patient: str, visit_type: str, key: str
    ) -> list[dict[str, Any]]:
        """The entries that take the slot and book it for the patient."""
        booking = fhir.appointment(
            slot_id=hold.slot,
            patient_id=patient,
            practitioner_id=hold.practitioner,
            start=hold.start,
            end=hold.end,
            visit_type=visit_type,
            booking_key=key,
        )
        return [await self._take_slot(hold), fhir.post(booking)]

    async def _take_slot(self, hold: _Hold) -> dict[str, Any]:
        """The PUT that marks the slot busy, only if it is still the version we offered."""
        current = await self.ehr.read("Slot", hold.slot)
        if current.get("status") != "free":
            await self._refresh_slot(hold.slot)
            raise SlotTaken("the EHR has the slot busy")
        version = hold.version or str((current.get("meta") or {}).get("versionId") or "")
        entry = fhir.put({**current, "status": "busy"})
        if version:
            entry["request"]["ifMatch"] = f'W/"{version}"'
        return entry

    async def _link(self, s: AsyncSession, appointment_id: int, fhir_id: str) -> None:
        async with atomic(s):
            appt = await s.get(Appointment, appointment_id)
            if appt is not None and appt.fhir_id is None:
                appt.fhir_id = fhir_id
                slot = await s.get(Slot, appt.slot_id) if appt.slot_id else None
                if slot is not None:
                    slot.fhir_version = None  # re-read before anyone books it again

    # -- the refill outbox --------------------------------------------------------------

    async def run_outbox(self, every: float) -> None:
        """Send waiting refill requests and staff tasks every `every` seconds until cancelled."""
        while True:
            for send, what in ((self.send_refills, "refill"), (self.send_tasks, "staff task")):
                try:
                    await send()
                except Exception:  # the loop must outlive one bad pass; the next one retries
                    log.exception("%s outbox pass failed", what)
            await asyncio.sleep(every)

    async def send_tasks(self) -> int:
        """Send every staff task the calls left for a patient the EHR has (a callback, a prior
        authorization...) as a Communication (what the caller asked) and a Task for the
        clinic's staff; how many landed. A refill review is not sent: its refill request is
        (`send_refills`). A task for a patient the EHR does not have stays local."""
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(StaffTask, Patient.fhir_id)
                    .join(Patient, Patient.id == StaffTask.patient_id)
                    .where(
                        StaffTask.ehr_task_id.is_(None),
                        StaffTask.kind.in_(STAFF_TASK_WORK),
                        Patient.fhir_id.is_not(None),
                    )
                    .order_by(StaffTask.id)
                )
            ).all()
            work = [
                (t.id, t.kind, t.note, t.status, t.created_at, str(fhir_id)) for t, fhir_id in rows
            ]
        self.tasks_waiting = len(work)
        sent = 0
        for task_id, kind, note, status, created, patient in work:
            what, urgent = STAFF_TASK_WORK[kind]
            # A task staff finished while the EHR was down arrives there as done, not as work.
            entries = fhir.staff_task_entries(
                key=f"{patient}/{task_id}", what=what, note=note, patient_id=patient,
                authored=created, urgent=urgent, status=status,
            )  # fmt: skip
            ids = await self._outbox_write(entries, "staff task")
            if ids is None:
                break
            # The Task is the last entry; the Communication it acts on is its focus.
            await self._sent(
                StaffTask, task_id, ids[-1], "task_sent_to_ehr", {"task_id": task_id, "kind": kind}
            )
            sent += 1
            self.tasks_waiting -= 1
        return sent

    async def _outbox_write(self, entries: list[dict[str, Any]], what: str) -> list[str] | None:
        """One outbox item as a transaction: the ids written, or None when the EHR did not
        take it (the item waits for the next pass, and the items behind it with it)."""
        try:
            return FhirEhr.ids(await self.ehr.transaction(entries))
        except EhrUnavailable as exc:
            log.warning(
                "%s outbox: the EHR did not take it; retrying later", what,
                extra={"why": str(exc)},
            )  # fmt: skip
            return None

    async def _sent(
        self,
        model: type[_Sent],
        row_id: int,
        task_id: str,
        action: str,
        detail: dict[str, Any],
    ) -> None:
        """Mark an outbox item as the EHR's Task `task_id`, and audit it."""
        async with self.db.session() as s, atomic(s):
            row = await s.get(model, row_id)
            if row is not None:
                row.ehr_task_id = task_id
                add_audit(
                    s, actor="bot", action=action, patient_id=row.patient_id,
                    detail=detail,
                )  # fmt: skip

    async def send_refills(self, now: datetime | None = None) -> int:
        """Send every refill request not yet in the EHR as a Task; how many landed."""
        async with self.db.session() as s:
            pending = (
                await s.scalars(
                    select(RefillRequest)
                    .where(RefillRequest.ehr_task_id.is_(None))
                    .order_by(RefillRequest.id)
                )
            ).all()
            work = [(r.id, r.patient_id, r.medication.fhir_id, r.created_at) for r in pending]
        sent = 0
        self.refills_waiting = len(work)
        for request_id, patient_id, medication, created in work:
            patient = await self.mirror.fhir_id_of(Patient, patient_id)
            if patient is None:
                self.refills_waiting -= 1
                continue  # a patient the EHR never had: the local task is the whole record
            key = fhir.refill_key(request_id, patient, medication)
            task = fhir.refill_task(
                key=key,
                patient_id=patient,
                medication_request_id=medication,
                authored=created or now or datetime.now(),
            )
            entry = fhir.post(task, f"identifier={fhir.REFILL_SYSTEM}|{key}")
            ids = await self._outbox_write([entry], "refill")
            if ids is None:
                break
            await self._sent(
                RefillRequest, request_id, ids[0], "refill_sent_to_ehr", {"request_id": request_id}
            )
            sent += 1
            self.refills_waiting -= 1
        return sent


def _when(hold: _Hold) -> str:
    return hold.start.strftime("%A %d %B at %H:%M")
