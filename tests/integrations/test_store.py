"""The store itself: migrations, encryption at rest, key handling."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import inspect, text

from integrations.errors import ConfigError, InvalidField, StoreError
from integrations.services import calls
from integrations.store import Database
from integrations.store.database import alembic_config, head_revisions
from integrations.store.models import Base

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_migrations_build_every_model_table_on_an_empty_database(db: Database) -> None:
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    assert diff == []


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    # A store at this revision is opened without loading Alembic.
    assert head_revisions() == {HEAD}


async def test_migrating_twice_is_a_no_op(db: Database) -> None:
    await db.migrate()
    async with db.engine.connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    assert version == HEAD


async def test_agent_turns_are_kept_and_other_speakers_refused(db: Database) -> None:
    t = datetime(2031, 3, 3, 9, tzinfo=UTC)
    async with db.session() as s:
        await calls.open_call(s, call_id="ag-1", caller_number=None, started=t)
        await calls.add_turn(s, call_id="ag-1", speaker="agent", text="nurse here", start=t, end=t)
        with pytest.raises(InvalidField, match="speaker"):
            await calls.add_turn(s, call_id="ag-1", speaker="robot", text="x", start=t, end=t)  # type: ignore[arg-type]
    async with db.session() as s:
        report = await calls.call_report(s, "ag-1")
    assert [(t["speaker"], t["text"]) for t in report["turns"]] == [("agent", "nurse here")]


async def test_upgrading_a_0001_store_keeps_its_transcripts(tmp_path) -> None:
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path}/old.db", Fernet.generate_key())
    t = datetime(2031, 3, 3, 9, tzinfo=UTC)
    try:
        await db.migrate("0001")
        # Rows written as the 0001 code wrote them (today's models have more columns).
        async with db.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO calls (id, started, triage_level, flags, "
                     "emergency_message_played, transferred) "
                     "VALUES ('old-1', :t, 'none', '[]', 0, 0)"), {"t": t.replace(tzinfo=None)}
            )
            await conn.execute(
                text("INSERT INTO call_turns (call_id, speaker, text_enc, start, \"end\") "
                     "VALUES ('old-1', 'caller', :enc, :t, :t)"),
                {"enc": db.cipher.encrypt_text("hi"), "t": t.replace(tzinfo=None)},
            )
        await db.migrate()
        async with db.session() as s:
            await calls.add_turn(s, call_id="old-1", speaker="agent", text="hello", start=t, end=t)
            report = await calls.call_report(s, "old-1")
        async with db.engine.connect() as conn:
            sql = (
                await conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'call_turns'"))
            ).scalar_one()
    finally:
        await db.dispose()
    assert [x["speaker"] for x in report["turns"]] == ["caller", "agent"]
    assert "'agent'" in sql and "ix_call_turns_call_id" not in sql


async def test_transcript_text_is_not_stored_in_plaintext(db: Database) -> None:
    secret = "my daughter Rosalind has a fever of 103"
    t = datetime(2031, 3, 3, 9, tzinfo=UTC)
    async with db.session() as s:
        await calls.open_call(s, call_id="enc-1", caller_number="+15550100001", started=t)
        await calls.add_turn(s, call_id="enc-1", speaker="caller", text=secret, start=t, end=t)
        await calls.add_event(s, call_id="enc-1", kind="dtmf", data={"digits": "19720304"})
        await calls.save_recording(s, "enc-1", b"RIFF-fake-wave-audio-bytes")
    async with db.engine.connect() as conn:
        turn = (await conn.execute(text("SELECT text_enc FROM call_turns"))).scalar_one()
        event = (await conn.execute(text("SELECT data_enc FROM call_events"))).scalar_one()
        rec = (await conn.execute(text("SELECT recording_enc FROM calls"))).scalar_one()
    assert b"Rosalind" not in bytes(turn)
    assert b"19720304" not in bytes(event)
    assert b"RIFF" not in bytes(rec)
    async with db.session() as s:
        report = await calls.call_report(s, "enc-1")
        assert report["turns"][0]["text"] == secret
        assert await calls.load_recording(s, "enc-1") == b"RIFF-fake-wave-audio-bytes"


async def test_transcripts_cannot_be_read_with_another_key(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/k.db"
    t = datetime(2031, 3, 3, 9, tzinfo=UTC)
    first = await Database.connect(url, Fernet.generate_key())
    await first.migrate()
    async with first.session() as s:
        await calls.open_call(s, call_id="k", caller_number=None, started=t)
        await calls.add_turn(s, call_id="k", speaker="bot", text="hello", start=t, end=t)
    await first.dispose()
    other = await Database.connect(url, Fernet.generate_key())
    with pytest.raises(StoreError, match="decrypted"):  # already the store's own index key
        async with other.session() as s:
            await calls.call_report(s, "k")
    await other.dispose()


async def test_sqlite_without_a_key_creates_a_private_key_file_and_reuses_it(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv("CLINICLINE_DATA_KEY", raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path}/var/clinic.db"
    t = datetime(2031, 3, 3, 9, tzinfo=UTC)
    db = await Database.connect(url)
    await db.migrate()
    async with db.session() as s:
        await calls.open_call(s, call_id="kf", caller_number=None, started=t)
        await calls.add_turn(s, call_id="kf", speaker="bot", text="hello", start=t, end=t)
    await db.dispose()
    key_file = tmp_path / "var" / "clinic.db.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    again = await Database.connect(url)
    async with again.session() as s:
        assert (await calls.call_report(s, "kf"))["turns"][0]["text"] == "hello"
    await again.dispose()


async def test_postgresql_without_a_key_is_refused(monkeypatch) -> None:
    monkeypatch.delenv("CLINICLINE_DATA_KEY", raising=False)
    with pytest.raises(ConfigError, match="CLINICLINE_DATA_KEY"):
        await Database.connect("postgresql+asyncpg://u:p@127.0.0.1/none")


async def test_a_malformed_key_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="generate one"):
        await Database.connect("sqlite+aiosqlite://", b"not-a-key")
