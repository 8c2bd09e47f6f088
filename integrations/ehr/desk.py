"""Book, move and cancel appointments where the clinic keeps them: in the EHR first when one is
connected (`EhrSync`: the EHR's transaction, then the mirror), else in the local store. One
place for that choice, used by the inbound dialogs' actions and by campaign calls alike."""

from __future__ import annotations

from datetime import datetime

from integrations.ehr.sync import EhrSync
from integrations.errors import EhrUnavailable
from integrations.services import absences, scheduling
from integrations.store import Database


class AppointmentDesk:
    def __init__(self, db: Database, ehr: EhrSync | None = None) -> None:
        self.db, self.ehr = db, ehr

    async def book(self, *, call_id: str, patient_id: int, slot_id: int) -> scheduling.Booking:
        if self.ehr is not None:
            return await self.ehr.book(call_id=call_id, patient_id=patient_id, slot_id=slot_id)
        async with self.db.session() as s:
            return await scheduling.book(s, call_id=call_id, patient_id=patient_id, slot_id=slot_id)

    async def move(
        self, *, call_id: str, patient_id: int, appointment_id: int, slot_id: int
    ) -> scheduling.Booking:
        if self.ehr is not None:
            return await self.ehr.reschedule(
                call_id=call_id,
                patient_id=patient_id,
                appointment_id=appointment_id,
                slot_id=slot_id,
            )
        async with self.db.session() as s:
            return await scheduling.reschedule(
                s,
                call_id=call_id,
                patient_id=patient_id,
                appointment_id=appointment_id,
                slot_id=slot_id,
            )

    async def cancel(self, *, call_id: str, patient_id: int, appointment_id: int) -> None:
        if self.ehr is not None:
            await self.ehr.cancel(
                call_id=call_id, patient_id=patient_id, appointment_id=appointment_id
            )
            return
        async with self.db.session() as s:
            await scheduling.cancel(
                s, call_id=call_id, patient_id=patient_id, appointment_id=appointment_id
            )

    async def confirm(self, *, call_id: str, patient_id: int, appointment_id: int) -> bool:
        """Record that she will come, in the EHR too when there is one; False when the EHR
        could not take it (it is then only in the local record, which says so)."""
        in_ehr: bool | None = None
        if self.ehr is not None:
            try:
                await self.ehr.confirm(patient_id=patient_id, appointment_id=appointment_id)
                in_ehr = True
            except EhrUnavailable:
                in_ehr = False
        async with self.db.session() as s:
            await scheduling.confirm(
                s, call_id=call_id, patient_id=patient_id, appointment_id=appointment_id,
                in_ehr=in_ehr,
            )  # fmt: skip
        return in_ehr is not False

    async def next_free(self, provider_id: int, after: datetime) -> list[scheduling.SlotOffer]:
        """The provider's next two free times after `after` (the EHR's, mirrored, if any)."""
        if self.ehr is not None:
            await self.ehr.before_slots(after, after + scheduling.DEFAULT_HORIZON)
        async with self.db.session() as s:
            return await scheduling.find_slots(
                s, when=None, provider_id=provider_id, limit=2, now=after
            )

    async def declare_out(self, absence: absences.Absence, *, actor: str) -> int:
        """The provider is out on those days: her free slots there are blocked (in the EHR
        first when there is one); how many."""
        if self.ehr is not None:
            return await self.ehr.declare_out(absence, actor=actor)
        async with self.db.session() as s:
            return await absences.declare_out(s, absence, actor=actor)

    async def withdraw_out(self, absence_id: int, *, actor: str) -> int:
        """The absence goes: the slots it alone blocked are offered again; how many."""
        if self.ehr is not None:
            return await self.ehr.withdraw_out(absence_id, actor=actor)
        async with self.db.session() as s:
            return await absences.withdraw(s, absence_id, actor=actor)
