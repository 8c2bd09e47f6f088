"""The HL7 v2 link with the clinic's interface engine, as configured: the SIU outbox when
`hl7_peer` is set, the SIU listener when `hl7_listen` is (see integrations/hl7); and both
integrations' state on the health page."""

from __future__ import annotations

import asyncio
import logging

from clinicline.config import Config, HostPort
from clinicline.errors import StartupError
from clinicline.health import Health, State
from integrations.ehr.sync import EhrSync
from integrations.hl7.inbound import Hl7Inbound
from integrations.hl7.outbox import Hl7Outbox, Hl7Settings
from integrations.store import Database

log = logging.getLogger(__name__)


class Hl7Link:
    def __init__(self, config: Config, db: Database) -> None:
        self.config, self.db = config, db
        self._sending: asyncio.Task[None] | None = None
        self._inbound: Hl7Inbound | None = None
        self.outbox: Hl7Outbox | None = None

    async def start(self) -> None:
        tls = self.config.hl7_tls()
        if self.config.hl7_peer:
            peer = HostPort.parse(self.config.hl7_peer)
            settings = Hl7Settings(peer.host, peer.port, tls=tls.client() if tls else None)
            self.outbox = outbox = Hl7Outbox(self.db, settings)
            self._sending = asyncio.create_task(
                outbox.run(self.config.hl7_outbox_seconds), name="hl7-outbox"
            )
            log.info("HL7: appointment changes go to %s%s", peer, " over TLS" if tls else "")
        if self.config.hl7_listen:
            listen = HostPort.parse(self.config.hl7_listen)
            self._inbound = Hl7Inbound(self.db, self.config.hl7_allow)
            try:
                port = await self._inbound.start(
                    listen.host, listen.port, tls.server() if tls else None
                )
            except OSError as exc:
                raise StartupError(f"cannot listen for HL7 on {listen}: {exc}") from exc
            log.info(
                "HL7: scheduling messages received on %s:%d%s",
                listen.host, port, " over TLS" if tls else "",
            )  # fmt: skip

    async def stop(self) -> None:
        if self._sending is not None:
            self._sending.cancel()
            await asyncio.gather(self._sending, return_exceptions=True)
        if self._inbound is not None:
            await self._inbound.stop()


def watch_integrations(health: Health, ehr: EhrSync | None, hl7: Hl7Link) -> None:
    """The EHR and the interface engine on the health page, as this process sees them:
    degraded while the last request failed; queue sizes, never what is in them."""
    if ehr is None:
        health.set("ehr", State.DISABLED, "none configured: the local store is the record")
    else:
        client = ehr.ehr
        health.set("ehr", State.UP, "FHIR R4")
        health.checks["ehr"] = lambda: (
            (State.DEGRADED, f"the last request failed: {client.last_error}")
            if client.last_error
            else None
        )
        health.probes["ehr"] = lambda: {
            "refills_waiting": ehr.refills_waiting, "tasks_waiting": ehr.tasks_waiting,
        }
    outbox = hl7.outbox
    if outbox is None:
        health.set("hl7", State.DISABLED, "no interface engine configured")
        return
    health.set("hl7", State.UP, "SIU over MLLP" + (" (TLS)" if outbox.settings.tls else ""))
    health.checks["hl7"] = lambda: (
        (State.DEGRADED, f"the last delivery failed: {outbox.last_error}")
        if outbox.last_error
        else None
    )
    health.probes["hl7"] = lambda: {"waiting": outbox.waiting, "dead_letters": outbox.dead}
