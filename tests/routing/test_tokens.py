"""Context tokens: opaque, single use, short-lived, kept in the store; anything else is None."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from integrations.store import Database
from integrations.store.models import ContextToken
from routing.tokens import ContextTokens
from tests.demo_store import DATA_KEY

PAYLOAD = {"call_id": "c1", "patient": {"name": "Test Person"}}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2031, 3, 3, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_issued_token_resolves_once_to_its_payload(clinic_db: Database) -> None:
    tokens = ContextTokens(clinic_db)
    token = await tokens.issue("c1", PAYLOAD)
    assert await tokens.resolve(token) == PAYLOAD
    assert await tokens.resolve(token) is None  # replayed


async def test_token_carries_no_phi_and_fits_a_sip_header(clinic_db: Database) -> None:
    token = await ContextTokens(clinic_db).issue("call-123", PAYLOAD)
    assert "Test" not in token and "call-123" not in token
    assert len(token) < 100 and all(c.isalnum() or c in "-_" for c in token)


async def test_the_store_holds_neither_the_token_nor_the_payload_in_clear(
    clinic_db: Database,
) -> None:
    token = await ContextTokens(clinic_db).issue("c1", PAYLOAD)
    async with clinic_db.session() as s:
        row = (await s.scalars(select(ContextToken))).one()
    assert token not in row.token_hash and b"Test Person" not in row.payload_enc


async def test_another_process_resolves_the_token_once(clinic_db: Database) -> None:
    url = clinic_db.engine.url.render_as_string(hide_password=False)
    token = await ContextTokens(clinic_db).issue("c1", PAYLOAD)
    other = await Database.connect(url, DATA_KEY)
    try:
        assert await ContextTokens(other).resolve_call(token) == ("c1", PAYLOAD)
        assert await ContextTokens(clinic_db).resolve(token) is None
    finally:
        await other.dispose()


async def test_garbage_and_forged_tokens_resolve_to_none(clinic_db: Database) -> None:
    tokens = ContextTokens(clinic_db)
    token = await tokens.issue("c1", PAYLOAD)
    flipped = ("A" if token[0] != "A" else "B") + token[1:]
    for junk in ("", ".", "abc", "é.é", "a" * 5000, "..", "\x00.\x00", flipped):
        assert await tokens.resolve(junk) is None
    assert await tokens.resolve(token) == PAYLOAD


async def test_expired_token_resolves_to_none(clinic_db: Database) -> None:
    clock = Clock()
    tokens = ContextTokens(clinic_db, ttl_seconds=30, clock=clock)
    token = await tokens.issue("c1", PAYLOAD)
    clock.now += timedelta(seconds=31)
    assert await tokens.resolve(token) is None


async def test_multi_use_policy_allows_exactly_that_many_reads(clinic_db: Database) -> None:
    tokens = ContextTokens(clinic_db, max_uses=2)
    token = await tokens.issue("c1", PAYLOAD)
    assert await tokens.resolve(token) == PAYLOAD
    assert await tokens.resolve_call(token) == ("c1", PAYLOAD)
    assert await tokens.resolve(token) is None


async def test_revoking_a_call_kills_its_tokens(clinic_db: Database) -> None:
    tokens = ContextTokens(clinic_db)
    token = await tokens.issue("c1", PAYLOAD)
    other = await tokens.issue("c2", PAYLOAD)
    await tokens.revoke_call("c1")
    assert await tokens.resolve(token) is None
    assert await tokens.resolve(other) == PAYLOAD
