"""The call record survives a locked or restarting database: writes wait, nothing is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicline.callflow.recorder import StoreRecorder
from integrations.services.call_report import call_report
from integrations.store import Database
from tests.callflow.test_outage import PG_URL, _admin, drop_database
from voice.session.actions import CallInfo, CallOutcome


def _call() -> CallInfo:
    return CallInfo(
        call_id=f"rec-{datetime.now(UTC).timestamp()}",
        caller_number="+15550100001",
        started=datetime.now(UTC),
    )


async def _write_turns(recorder: StoreRecorder, call: CallInfo, n: int) -> None:
    t0 = call.started
    for i in range(n):
        await recorder.turn(
            call,
            "caller" if i % 2 else "bot",
            f"line {i}",
            t0 + timedelta(seconds=i),
            t0 + timedelta(seconds=i + 1),
        )
    await recorder.closed(call, CallOutcome(t0 + timedelta(seconds=n), "caller"), "caller_hung_up")


async def test_turns_written_while_sqlite_is_locked_all_land_in_order(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    db = await Database.connect(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    recorder = StoreRecorder(db)
    recorder.start()
    release = threading.Event()

    def hold_lock() -> None:
        conn = sqlite3.connect(path, timeout=1)
        conn.execute("BEGIN EXCLUSIVE")
        release.wait(20)
        conn.rollback()
        conn.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        await asyncio.sleep(0.3)
        call = _call()
        await _write_turns(recorder, call, 6)
        await asyncio.sleep(2.0)  # writes are waiting on the lock, not dropped
    finally:
        release.set()
        holder.join()
    await asyncio.wait_for(recorder.flush(), 60)
    async with db.session() as s:
        report = await call_report(s, call.call_id)
    assert [t["text"] for t in report["turns"]] == [f"line {i}" for i in range(6)]
    assert report["disposition"] == "caller_hung_up" and report["ended"]
    assert recorder.failed_writes == 0
    await recorder.stop()
    await db.dispose()


@pytest.fixture
async def restart_db() -> AsyncIterator[str]:
    name = "clinicline_recorder"
    try:
        await drop_database(name)
        await _admin(f"CREATE DATABASE {name}")
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    await _admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    await drop_database(name)


async def test_turns_written_while_postgres_is_unreachable_land_when_it_returns(
    restart_db: str,
) -> None:
    db = await Database.connect(restart_db, Fernet.generate_key())
    await db.migrate()
    recorder = StoreRecorder(db)
    recorder.start()
    call = _call()
    await recorder.turn(call, "bot", "line 0", call.started, call.started)
    await recorder.flush()
    await _admin("ALTER DATABASE clinicline_recorder ALLOW_CONNECTIONS false")
    await _admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = 'clinicline_recorder'"
    )
    for i in range(1, 4):
        await recorder.turn(call, "caller", f"line {i}", call.started, call.started)
    await asyncio.sleep(2.0)
    await _admin("ALTER DATABASE clinicline_recorder ALLOW_CONNECTIONS true")
    await asyncio.wait_for(recorder.flush(), 60)
    async with db.session() as s:
        report = await call_report(s, call.call_id)
    assert [t["text"] for t in report["turns"]] == [f"line {i}" for i in range(4)]
    assert recorder.failed_writes == 0
    await recorder.stop()
    await db.dispose()


async def test_a_write_the_store_refuses_is_dropped_at_once_not_retried_ahead_of_others(
    tmp_path: Path,
) -> None:
    """A constraint violation is not an outage: retried, it would hold up every later write
    of every call on the worker (a transfer's context among them) until `max_wait`."""
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}")
    await db.migrate()
    recorder = StoreRecorder(db, max_wait=600)
    recorder.start()
    call = _call()
    await recorder.turn(call, "bot", "line 0", call.started, call.started)
    await recorder.flush()

    async def refused(s: AsyncSession) -> None:
        await s.execute(
            text(
                'INSERT INTO call_turns (call_id, speaker, text_enc, start, "end") '
                "VALUES (:id, 'nobody', x'00', :t, :t)"
            ),
            {"id": call.call_id, "t": call.started},
        )
        await s.commit()

    recorder.submit(call.call_id, refused)
    await recorder.turn(call, "caller", "line 1", call.started, call.started)
    await asyncio.wait_for(recorder.flush(), 60)  # not the 600 s a retried refusal would take
    async with db.session() as s:
        report = await call_report(s, call.call_id)
    assert [t["text"] for t in report["turns"]] == ["line 0", "line 1"]
    assert recorder.failed_writes == 1
    await recorder.stop()
    await db.dispose()
