"""The browser-phone gateway for the site's processes: run by one, used by all.

One process runs the gateway (a single `serve`, or the SIP front of `serve --workers N`) and
announces it in the store; every process with a console finds it there, so an agent's page
registers through whichever app process serves it, and every worker rings her browser at
the same address.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from clinicline.config import Config, HostPort
from clinicline.errors import StartupError
from clinicline.softphone.gateway import SoftphoneGateway, SoftphoneLine
from integrations.services import softphone_gateways
from integrations.services.softphone_gateways import GatewayAnnouncement
from integrations.store import Database

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0  # how stale a console's view of the gateway may be (it changes at restarts)


class GatewayDirectory:
    """Which gateway this process's consoles use: its own, or the one the store names (read
    again after a few seconds: the front's restart brings a new secret and socket)."""

    def __init__(self, db: Database, *, local: SoftphoneLine | None = None) -> None:
        self.db = db
        self.local = local  # the gateway this very process runs, if it does
        self._line: SoftphoneLine | None = None
        self._read_at = -CACHE_SECONDS

    async def line(self) -> SoftphoneLine | None:
        """The running gateway's line, or None when no process runs one."""
        if self.local is not None:
            return self.local
        if time.monotonic() - self._read_at < CACHE_SECONDS:
            return self._line
        try:
            async with self.db.session() as s:
                found = await softphone_gateways.current_gateway(s)
        except Exception as exc:  # noqa: BLE001 - desk phones work without it
            log.warning("browser-phone gateway not looked up: %s", type(exc).__name__)
            return self._line
        self._line = None if found is None else _line_of(found)
        self._read_at = time.monotonic()
        return self._line


def _line_of(found: GatewayAnnouncement) -> SoftphoneLine:
    return SoftphoneLine(HostPort.parse(found.sip), found.websocket_url, found.secret)


def worker_subnets(config: Config) -> str:
    """Who may ring browser phones through the gateway: this machine's workers (loopback and
    its SIP address) and the networks of other machines' sites (`softphone_workers`)."""
    nets = ["127.0.0.0/8"]
    try:
        own = ipaddress.ip_address(config.sip.host)
    except ValueError:
        own = None
    if own is not None and not own.is_loopback and not own.is_unspecified:
        nets.append(f"{own}/32")
    nets.extend(config.softphone_workers)
    return ",".join(dict.fromkeys(nets))


async def run_gateway(
    config: Config, db: Database, name: str, folder: Path
) -> SoftphoneGateway | None:
    """Start the gateway on `softphone_sip` and announce it in the store as `name`; None when
    browser phones are off (not configured, or the gateway did not start: logged, and calls
    ring desk phones)."""
    if not config.softphone_sip:
        return None
    gateway = SoftphoneGateway(
        folder,
        HostPort.parse(config.softphone_sip),
        media_address=config.softphone_media,
        rtp_ports=config.softphone_ports(),
        worker_subnets=worker_subnets(config),
    )
    try:
        line = await gateway.start()
    except (StartupError, OSError) as exc:
        log.warning("browser phones are off: %s", exc)
        return None
    announced = GatewayAnnouncement(name, str(line.sip), line.websocket_url, line.secret)
    try:
        async with db.session() as s:
            await softphone_gateways.announce_gateway(s, announced, started_at=datetime.now(UTC))
    except Exception as exc:  # noqa: BLE001 - without the store no console finds it
        log.warning("browser phones are off: the gateway not announced (%s)", type(exc).__name__)
        await gateway.stop()
        return None
    return gateway


async def stop_gateway(gateway: SoftphoneGateway, db: Database, name: str) -> None:
    """Withdraw the announcement, then stop the daemons."""
    try:
        async with db.session() as s:
            await softphone_gateways.withdraw_gateway(s, name)
    except Exception as exc:  # noqa: BLE001 - stopping goes on
        log.warning("browser-phone gateway not withdrawn: %s", type(exc).__name__)
    await gateway.stop()
