"""Every appointment change, sent to the clinic's HL7 interface engine as SIU over MLLP, in
order, until the engine acknowledges it — or it is given up as a dead letter, never lost quietly.

The changes are read from the audit log (book, reschedule and cancel write their audit row in
the transaction that makes the change), from the moment HL7 was switched on: a message exists
for a change exactly when the change was committed. Delivery: the oldest message waiting goes
first and the next waits for it (an engine must see a booking before its cancellation).
AA: sent. AR: the engine refuses it for good — a dead letter at once. AE, no answer, no
connection: tried again with a doubling pause, and a dead letter after `max_attempts`.
A dead letter no longer holds the line, and stays in `hl7_messages` with its reason.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hl7.mllp import open_hl7_connection
from sqlalchemy import exists, func, select, update

from integrations.hl7.siu import BadMessage, Sender, Visit, read_ack, siu
from integrations.services.transaction import atomic
from integrations.store.database import Database, insert_for
from integrations.store.models import (
    Appointment,
    AuditEvent,
    Hl7Message,
    Patient,
    StoreMeta,
)
from integrations.store.types import utcnow

log = logging.getLogger(__name__)

TRIGGERS = {"book_appointment": "S12", "reschedule_appointment": "S14", "cancel_appointment": "S15"}
SINCE_KEY = "hl7_since"
CLAIM = timedelta(seconds=60)


@dataclass(frozen=True)
class Hl7Settings:
    host: str
    port: int
    timeout_s: float = 10.0
    max_attempts: int = 8
    first_pause_s: float = 5.0
    longest_pause_s: float = 600.0
    sender: Sender = field(default_factory=Sender)
    tls: ssl.SSLContext | None = None  # `integrations.hl7.tls`: MLLP over TLS

    def pause(self, attempts: int) -> timedelta:
        return timedelta(
            seconds=min(self.first_pause_s * 2 ** (attempts - 1), self.longest_pause_s)
        )


class Hl7Outbox:
    def __init__(
        self, db: Database, settings: Hl7Settings, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        # After the last pass, for the health page: messages waiting, dead letters, and why
        # the last delivery failed (None: it went through).
        self.waiting = self.dead = 0
        self.last_error: str | None = None

    async def run(self, every: float) -> None:
        """Collect and send every `every` seconds until cancelled."""
        while True:
            try:
                await self.collect()
                await self.send_due()
                await self.count()
            except Exception:  # the loop must outlive one bad pass; the next one retries
                log.exception("HL7 outbox pass failed")
            await asyncio.sleep(every)

    async def collect(self) -> int:
        """Turn appointment changes not yet owed into messages; how many were added."""
        async with self.db.session() as s, atomic(s):
            since = await s.get(StoreMeta, SINCE_KEY)
            if since is None:
                # Switched on now: history stays out of the engine, which has it already.
                since = StoreMeta(name=SINCE_KEY, value=self.clock().isoformat())
                s.add(since)
                await s.flush()
            changes = (
                await s.scalars(
                    select(AuditEvent)
                    .where(
                        AuditEvent.action.in_(TRIGGERS),
                        AuditEvent.at >= datetime.fromisoformat(since.value),
                        ~exists().where(Hl7Message.audit_event_id == AuditEvent.id),
                    )
                    .order_by(AuditEvent.id)
                )
            ).all()
            rows = []
            for change in changes:
                appointment_id = int(change.detail.get("appointment_id", 0))
                replaced = None
                if change.action == "reschedule_appointment":
                    replaced = await s.scalar(
                        select(Appointment.id).where(
                            Appointment.rescheduled_to_id == appointment_id
                        )
                    )
                rows.append(
                    {
                        "audit_event_id": change.id,
                        "trigger": TRIGGERS[change.action],
                        "appointment_id": appointment_id,
                        "replaces_id": replaced,
                        "control_id": f"CL{uuid.uuid4().hex[:16]}",
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": self.clock(),
                        "created_at": self.clock(),
                    }
                )
            if rows:
                # Another process may have noticed the same changes: theirs stand.
                insert = insert_for(self.db.backend)(Hl7Message).values(rows)
                await s.execute(insert.on_conflict_do_nothing(index_elements=["audit_event_id"]))
            return len(rows)

    async def count(self) -> None:
        async with self.db.session() as s:
            rows = await s.execute(
                select(Hl7Message.status, func.count()).group_by(Hl7Message.status)
            )
            by_status = {str(status): int(n) for status, n in rows.all()}
        self.waiting, self.dead = by_status.get("pending", 0), by_status.get("dead", 0)

    async def send_due(self) -> int:
        """Send waiting messages in order while the engine takes them; how many it took."""
        sent = 0
        while True:
            message = await self._next()
            if message is None:
                return sent
            outcome = await self._deliver(message)
            if outcome == "sent":
                sent += 1
            elif outcome == "later":
                return sent  # the rest wait behind it

    async def _next(self) -> Hl7Message | None:
        now = self.clock()
        async with self.db.session() as s, atomic(s):
            oldest = await s.scalar(
                select(Hl7Message).where(Hl7Message.status == "pending").order_by(Hl7Message.id)
            )
            if oldest is None or oldest.next_attempt_at > now:
                return None
            claimed = await s.execute(
                update(Hl7Message)
                .where(
                    Hl7Message.id == oldest.id,
                    (Hl7Message.claimed_until.is_(None)) | (Hl7Message.claimed_until < now),
                )
                .values(claimed_until=now + CLAIM)
            )
            return oldest if claimed.rowcount == 1 else None  # type: ignore[attr-defined]

    async def _deliver(self, message: Hl7Message) -> str:
        try:
            text = siu(
                message.trigger,
                await self._visit(message),
                message.control_id,
                datetime.now(),
                self.settings.sender,
            )
        except (BadMessage, LookupError) as exc:
            return await self._settle(message, "dead", f"cannot be built: {exc}"[:200])
        try:
            answer = await asyncio.wait_for(self._exchange(text), self.settings.timeout_s)
            ack = read_ack(answer)
        except ssl.SSLError as exc:  # an engine we cannot trust gets nothing: retried, as down
            self.last_error = f"TLS: {exc.reason or type(exc).__name__}; not sent"
            return await self._retry(message, self.last_error)
        except (OSError, TimeoutError, BadMessage, asyncio.IncompleteReadError) as exc:
            self.last_error = f"{type(exc).__name__}: no acknowledgement"
            return await self._retry(message, self.last_error)
        self.last_error = None if ack.accepted else f"{ack.code}: {ack.text}"[:200]
        if ack.accepted:
            return await self._settle(message, "sent", None)
        if ack.rejected:
            return await self._settle(message, "dead", f"{ack.code}: {ack.text}"[:200])
        return await self._retry(message, f"{ack.code}: {ack.text}"[:200])

    async def _exchange(self, text: str) -> str:
        reader, writer = await open_hl7_connection(
            self.settings.host, self.settings.port, encoding="utf-8", ssl=self.settings.tls
        )
        try:
            writer.writemessage(text)
            await writer.drain()
            return str(await reader.readmessage())
        finally:
            writer.close()

    async def _retry(self, message: Hl7Message, why: str) -> str:
        attempts = message.attempts + 1
        if attempts >= self.settings.max_attempts:
            return await self._settle(message, "dead", f"gave up after {attempts}: {why}"[:200])
        await self._update(
            message,
            attempts=attempts,
            last_error=why,
            next_attempt_at=self.clock() + self.settings.pause(attempts),
        )
        log.warning("HL7 %s not delivered (attempt %d): %s", message.trigger, attempts, why)
        return "later"

    async def _settle(self, message: Hl7Message, status: str, why: str | None) -> str:
        await self._update(
            message,
            status=status,
            attempts=message.attempts + 1,
            last_error=why,
            sent_at=self.clock() if status == "sent" else None,
        )
        if status == "dead":
            log.error("HL7 %s dead-lettered (message %d): %s", message.trigger, message.id, why)
        return status

    async def _update(self, message: Hl7Message, **values: Any) -> None:
        """Record a delivery attempt's outcome and let go of the message."""
        async with self.db.session() as s, atomic(s):
            await s.execute(
                update(Hl7Message)
                .where(Hl7Message.id == message.id)
                .values(claimed_until=None, **values)
            )

    async def _visit(self, message: Hl7Message) -> Visit:
        async with self.db.session() as s:
            appt = await s.get(Appointment, message.appointment_id)
            if appt is None:
                raise LookupError(f"appointment {message.appointment_id} is gone")
            patient = await s.get(Patient, appt.patient_id)
            if patient is None:
                raise LookupError("its patient is gone")
            root = appt.id
            while True:  # the engine knows a moved appointment by its first id
                earlier = await s.scalar(
                    select(Appointment.id).where(Appointment.rescheduled_to_id == root)
                )
                if earlier is None:
                    break
                root = earlier
            return Visit(
                placer_id=str(root),
                start=appt.start,
                end=appt.end,
                visit_type=appt.visit_type,
                patient_id=patient.mrn or patient.fhir_id or f"CL{patient.id}",
                family=patient.last_name,
                given=patient.first_name,
                born=patient.dob,
                provider_id=appt.provider.fhir_id or f"CL{appt.provider_id}",
                provider_name=appt.provider.display_name,
                location=appt.location.name if appt.location else "",
            )
