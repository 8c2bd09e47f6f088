"""Where the browser-phone gateway runs, for every process of the site.

The process that runs the gateway (a single `serve`, or the SIP front of `serve --workers N`)
announces it here with its secret; every process with a console reads it to sign agents'
credentials and relay their pages' sockets, whichever machine or process serves the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.models import SoftphoneGateway


@dataclass(frozen=True)
class GatewayAnnouncement:
    name: str  # the process that runs it
    sip: str  # HOST:PORT
    websocket_url: str
    secret: str


async def announce_gateway(
    s: AsyncSession, gateway: GatewayAnnouncement, *, started_at: datetime
) -> None:
    """The gateway `gateway.name` runs now (its row replaced: a restart brings a new secret)."""
    async with atomic(s):
        row = await s.get(SoftphoneGateway, gateway.name)
        if row is None:
            row = SoftphoneGateway(name=gateway.name)
            s.add(row)
        row.sip, row.websocket_url, row.secret = gateway.sip, gateway.websocket_url, gateway.secret
        row.started_at = started_at


async def current_gateway(s: AsyncSession) -> GatewayAnnouncement | None:
    """The gateway started last, if any runs."""
    async with atomic(s):
        row = await s.scalar(
            select(SoftphoneGateway).order_by(SoftphoneGateway.started_at.desc()).limit(1)
        )
        if row is None:
            return None
        return GatewayAnnouncement(row.name, row.sip, row.websocket_url, row.secret)


async def withdraw_gateway(s: AsyncSession, name: str) -> None:
    """The gateway `name` stopped: consoles stop offering browser phones through it."""
    async with atomic(s):
        await s.execute(delete(SoftphoneGateway).where(SoftphoneGateway.name == name))
