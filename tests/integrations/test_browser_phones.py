"""Browser phones in the shared store: the gateway every process finds, and how many of an
agent's consoles have her browser phone registered (two processes closing tabs at once)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from clinicline.config import Config, HostPort
from clinicline.softphone.directory import GatewayDirectory, worker_subnets
from integrations.services import softphone_gateways
from integrations.services.agents import agent_info, browser_phone_changed
from integrations.services.softphone_gateways import GatewayAnnouncement
from integrations.store import Database
from integrations.store.models import Agent
from tests.integrations.conftest import same_store
from tests.integrations.test_presence import a_nurse

AOR = "sip:nurse9@127.0.0.1:5064"
T0 = datetime(2031, 3, 3, 9, tzinfo=UTC)


async def _rung_at(db: Database, agent_id: int) -> tuple[str, int]:
    async with db.session() as s:
        agent = await s.get(Agent, agent_id)
        assert agent is not None
        return agent_info(agent).sip_uri, agent.browser_phone_tabs


async def test_her_browser_rings_until_her_last_console_with_it_closes(
    db: Database, data_key: bytes
) -> None:
    nurse = await a_nurse(db)
    desk = "sip:nurse9@127.0.0.1:5079"
    async with same_store(db, data_key) as other:
        for store in (db, other):  # one tab served by each app process
            async with store.session() as s:
                await browser_phone_changed(s, nurse, AOR, registered=True)
        assert await _rung_at(db, nurse) == (AOR, 2)
        async with other.session() as s:
            await browser_phone_changed(s, nurse, AOR, registered=False)
        assert await _rung_at(db, nurse) == (AOR, 1)  # the other tab still has it
        async with db.session() as s:
            await browser_phone_changed(s, nurse, AOR, registered=False)
        assert await _rung_at(db, nurse) == (desk, 0)
        async with db.session() as s:  # a late word from a socket already counted out
            await browser_phone_changed(s, nurse, AOR, registered=False)
        assert await _rung_at(db, nurse) == (desk, 0)

        async def flip(store: Database, registered: bool) -> None:
            async with store.session() as s:
                await browser_phone_changed(s, nurse, AOR, registered=registered)

        await asyncio.gather(*(flip(db if i % 2 else other, True) for i in range(6)))
        assert await _rung_at(db, nurse) == (AOR, 6)
        await asyncio.gather(*(flip(other if i % 2 else db, False) for i in range(6)))
        assert await _rung_at(db, nurse) == (desk, 0)


async def test_every_process_finds_the_gateway_started_last_until_it_is_withdrawn(
    db: Database, data_key: bytes
) -> None:
    front = GatewayAnnouncement("host/front", "127.0.0.1:5064", "ws://127.0.0.1:4001", "s3cret")
    async with same_store(db, data_key) as other:
        directory = GatewayDirectory(other)
        assert await directory.line() is None
        async with db.session() as s:
            await softphone_gateways.announce_gateway(s, front, started_at=T0)
        assert await GatewayDirectory(other).line() is not None
        restarted = GatewayAnnouncement(front.name, front.sip, "ws://127.0.0.1:4002", "n3w")
        async with db.session() as s:
            await softphone_gateways.announce_gateway(
                s, restarted, started_at=T0 + timedelta(minutes=1)
            )
        line = await GatewayDirectory(other).line()
        assert line is not None
        assert (line.sip, line.websocket_url, line.secret) == (
            HostPort.parse("127.0.0.1:5064"), "ws://127.0.0.1:4002", "n3w"
        )
        assert line.uri("nurse9") == AOR
        async with db.session() as s:
            await softphone_gateways.withdraw_gateway(s, front.name)
        assert await GatewayDirectory(other).line() is None


async def test_the_gateway_s_secret_is_encrypted_in_the_store(db: Database) -> None:
    secret = "do-not-store-me-in-clear"
    announced = GatewayAnnouncement("host/serve", "127.0.0.1:5064", "ws://x", secret)
    async with db.session() as s:
        await softphone_gateways.announce_gateway(s, announced, started_at=T0)
    async with db.engine.connect() as conn:
        raw = await conn.exec_driver_sql(
            f"SELECT secret FROM {db.schema + '.' if db.schema else ''}softphone_gateways"
        )
        (stored,) = raw.one()
    assert secret not in stored


def test_own_workers_and_the_sites_named_may_ring_browser_phones() -> None:
    assert worker_subnets(Config()) == "127.0.0.0/8"
    config = Config(sip=HostPort.parse("10.1.2.3:5060"), softphone_workers=("10.9.0.0/16",))
    assert worker_subnets(config) == "127.0.0.0/8,10.1.2.3/32,10.9.0.0/16"
    assert worker_subnets(Config(sip=HostPort.parse("0.0.0.0:5060"))) == "127.0.0.0/8"
