"""SIU messages from the clinic's interface engine keep the local schedule in step: a visit
booked at the front desk's EHR takes its slot off the phone line's offers at once, and a
cancellation there gives the slot back.

MLLP has no sign-in of its own, so only the engine's addresses (`allow`) are served: any other
connection is closed unread; with TLS on, the engine must also show a certificate signed by the
clinic's CA, or the handshake fails before a byte of HL7 is read. Each message is answered:
AA when applied (or nothing to apply), AR when it can never be (not SIU, an unknown provider),
AE when the store failed (send again). Our own messages echoed back (placer CLINICLINE) change
nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hl7.mllp import start_hl7_server
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message
from sqlalchemy import select, update

from integrations.hl7.siu import PLACER, ack
from integrations.services.audit import add_audit
from integrations.services.transaction import atomic
from integrations.store.database import Database
from integrations.store.models import Appointment, Provider, Slot

log = logging.getLogger(__name__)

# The engine sends one message and waits for its ACK; a connection idle this long is closed.
IDLE_SECONDS = 120.0


class Rejected(Exception):
    """This message can never be applied (AR)."""


class Hl7Inbound:
    def __init__(self, db: Database, allow: Sequence[str] = ("127.0.0.1", "::1")) -> None:
        self.db = db
        self.allow = [ipaddress.ip_network(a, strict=False) for a in allow]
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> int:
        """Listen on host:port (0: any free port), over TLS with `tls` (`integrations.hl7.tls`:
        the engine must show a certificate of the clinic's CA); returns the port."""
        server: asyncio.Server = await start_hl7_server(
            self._serve, host, port, encoding="utf-8", ssl=tls,
            ssl_handshake_timeout=10 if tls else None,
        )  # fmt: skip
        self._server = server
        return int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _allowed(self, peer: Any) -> bool:
        try:
            address = ipaddress.ip_address(peer[0])
        except (TypeError, ValueError, IndexError):
            return False
        return any(address in net for net in self.allow)

    async def _serve(self, reader: Any, writer: Any) -> None:
        peer = writer.get_extra_info("peername")
        if not self._allowed(peer):
            log.warning("HL7 connection refused: not the interface engine's address")
            writer.close()
            return
        try:
            while True:
                message = await asyncio.wait_for(reader.readmessage(), IDLE_SECONDS)
                text = str(message)
                writer.writemessage(await self.answer(text))
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        except Exception:  # a message the reader cannot even split: drop the connection
            log.warning("HL7 connection dropped: unreadable input")
        finally:
            writer.close()

    async def answer(self, text: str) -> str:
        """Apply one message; the ACK to send back."""
        try:
            await self._apply(text)
        except Rejected as exc:
            log.warning("HL7 message rejected: %s", exc)
            return ack(text, "AR", str(exc))
        except Exception:
            log.exception("HL7 message not applied")
            return ack(text, "AE", "not applied; send again")
        return ack(text, "AA")

    async def _apply(self, text: str) -> None:
        try:
            m = parse_message(text.replace("\n", "\r"), find_groups=False)
            kind = m.msh.msh_9.msh_9_1.to_er7()
            trigger = m.msh.msh_9.msh_9_2.to_er7()
            placer_by = m.sch.sch_1.to_er7().split("^")[1:2]
            start = datetime.strptime(m.sch.sch_11.to_er7().split("^")[3][:12], "%Y%m%d%H%M")
            provider = m.aip.aip_3.to_er7().split("^")[0]
        except (HL7apyException, AttributeError, IndexError, ValueError) as exc:
            raise Rejected("not an SIU message with SCH-11 timing and an AIP provider") from exc
        if kind != "SIU" or trigger not in ("S12", "S13", "S14", "S15", "S17"):
            raise Rejected(f"{kind}^{trigger} is not a scheduling message handled here")
        if placer_by == [PLACER]:
            return  # our own change, echoed back
        booked = trigger in ("S12", "S13", "S14")
        async with self.db.session() as s, atomic(s):
            provider_id = await s.scalar(
                select(Provider.id).where(
                    (Provider.fhir_id == provider) | (Provider.id == _local_id(provider))
                )
            )
            if provider_id is None:
                raise Rejected("unknown provider in AIP-3")
            slot = await s.scalar(
                select(Slot).where(Slot.provider_id == provider_id, Slot.start == start)
            )
            if slot is None:
                return  # outside the phone line's slots: nothing to keep in step
            if booked:
                slot.status = "booked"
            elif not await s.scalar(
                select(Appointment.id).where(
                    Appointment.slot_id == slot.id, Appointment.status == "booked"
                )
            ):
                await s.execute(update(Slot).where(Slot.id == slot.id).values(status="free"))
            add_audit(
                s,
                actor="hl7",
                action="slot_booked_elsewhere" if booked else "slot_freed_elsewhere",
                patient_id=None,
                detail={"slot_id": slot.id, "trigger": trigger},
            )
        log.info("HL7 %s applied to a slot", trigger)


def _local_id(provider: str) -> int:
    """Our own provider ids travel as CL<id> (see the outbox)."""
    digits = provider[2:] if provider.startswith("CL") else ""
    return int(digits) if digits.isdigit() else -1
