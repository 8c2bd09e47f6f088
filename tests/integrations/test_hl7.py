"""HL7 v2 scheduling messages with an independent peer: node-hl7-server plays the clinic's
interface engine (receiving our SIU and answering AA, AE or AR as told), node-hl7-client sends
it SIU of its own. Every change reaches the engine in order or stays on record as a dead letter."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicline.harness import free_port
from integrations.hl7.inbound import Hl7Inbound
from integrations.hl7.outbox import Hl7Outbox, Hl7Settings
from integrations.hl7.tls import Hl7Tls
from integrations.services import scheduling
from integrations.store import Database
from integrations.store.models import Hl7Message, Slot
from tests.integrations.conftest import (
    MONDAY,
    NOW,
    add_patient,
    add_small_clinic,
    fresh_database,
)
from tests.integrations.hl7_engine import PEERS, Engine, running_engine
from tests.integrations.tls_certs import Authority


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _clinic(db: Database) -> tuple[int, list[int]]:
    ids = await add_small_clinic(db, days=2)
    patient = await add_patient(db, "Aisha", "Khan", date(1990, 7, 19), "+15550100003")
    async with db.session() as s:
        slots = (await s.scalars(
            select(Slot.id).where(Slot.provider_id == ids["nguyen"]).order_by(Slot.start)
        )).all()
    return patient, list(slots)


def _outbox(db: Database, port: int, clock: Clock, **kw: Any) -> Hl7Outbox:
    return Hl7Outbox(db, Hl7Settings("127.0.0.1", port, timeout_s=5, **kw), clock=clock)


async def _messages(db: Database) -> list[Hl7Message]:
    async with db.session() as s:
        return list((await s.scalars(select(Hl7Message).order_by(Hl7Message.id))).all())


async def test_a_booking_its_move_and_its_cancellation_reach_the_engine_in_order(
    db: Database, engine: Engine
) -> None:
    patient, slots = await _clinic(db)
    clock = Clock()
    outbox = _outbox(db, engine.port, clock)
    await outbox.collect()  # switched on
    async with db.session() as s:
        first = await scheduling.book(s, call_id="c1", patient_id=patient, slot_id=slots[0])
        moved = await scheduling.reschedule(s, call_id="c2", patient_id=patient,
                                            appointment_id=first.appointment_id,
                                            slot_id=slots[3])
        await scheduling.cancel(s, call_id="c3", patient_id=patient,
                                appointment_id=moved.appointment_id)
    assert await outbox.collect() == 3
    assert await outbox.collect() == 0  # each change once
    assert await outbox.send_due() == 3
    got = engine.received()
    assert [m["type"] for m in got] == ["SIU^S12", "SIU^S14", "SIU^S15"]
    # The engine knows the appointment by its first id throughout.
    assert {m["placer"] for m in got} == {str(first.appointment_id)}
    assert [m["status"] for m in got] == ["Booked", "Booked", "Cancelled"]
    assert got[1]["start"] == moved.start.strftime("%Y%m%d%H%M%S")
    assert all(m["patient"] and m["provider"] for m in got)
    assert [m.status for m in await _messages(db)] == ["sent"] * 3


async def test_changes_before_hl7_was_switched_on_are_not_sent(
    db: Database, engine: Engine
) -> None:
    patient, slots = await _clinic(db)
    async with db.session() as s:
        await scheduling.book(s, call_id="old", patient_id=patient, slot_id=slots[0])
    clock = Clock()
    clock.now = datetime.now(UTC) + timedelta(hours=1)  # switched on after the booking
    assert await _outbox(db, engine.port, clock).collect() == 0


async def test_an_engine_that_is_down_gets_the_message_when_it_is_back(
    db: Database, tmp_path: Path
) -> None:
    patient, slots = await _clinic(db)
    clock = Clock()
    port = free_port()
    outbox = _outbox(db, port, clock)
    clock.now = datetime(2000, 1, 1, tzinfo=UTC)
    await outbox.collect()
    async with db.session() as s:
        await scheduling.book(s, call_id="c1", patient_id=patient, slot_id=slots[0])
    await outbox.collect()
    assert await outbox.send_due() == 0
    (waiting,) = await _messages(db)
    assert waiting.status == "pending" and waiting.attempts == 1 and waiting.last_error
    assert await outbox.send_due() == 0  # not due yet: the pause holds
    clock.now += timedelta(seconds=6)
    folder = tmp_path / "late"
    folder.mkdir()
    proc = subprocess.Popen(["node", str(PEERS / "hl7_engine.js"), str(port), str(folder)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "listening"
        assert await outbox.send_due() == 1
    finally:
        proc.terminate()
        proc.wait(10)
    assert Engine(port, folder).received()[0]["type"] == "SIU^S12"


async def test_an_error_is_retried_a_rejection_is_a_dead_letter_and_neither_blocks_the_rest(
    db: Database, engine: Engine
) -> None:
    patient, slots = await _clinic(db)
    clock = Clock()
    clock.now = datetime(2000, 1, 1, tzinfo=UTC)
    outbox = _outbox(db, engine.port, clock, max_attempts=3)
    await outbox.collect()
    async with db.session() as s:
        a = await scheduling.book(s, call_id="c1", patient_id=patient, slot_id=slots[0])
        await scheduling.book(s, call_id="c2", patient_id=patient, slot_id=slots[1])
    await outbox.collect()

    engine.answer("AE")
    assert await outbox.send_due() == 0
    first, second = await _messages(db)
    assert (first.status, first.attempts, second.attempts) == ("pending", 1, 0)
    engine.answer("AR")
    clock.now += timedelta(hours=1)
    assert await outbox.send_due() == 0  # the first is refused for good, the second too
    first, second = await _messages(db)
    assert first.status == "dead" and first.last_error is not None
    assert first.last_error.startswith("AR")
    assert second.status == "dead"

    engine.answer("AA")
    async with db.session() as s:
        await scheduling.cancel(s, call_id="c3", patient_id=patient,
                                appointment_id=a.appointment_id)
    await outbox.collect()
    assert await outbox.send_due() == 1  # the dead letters no longer hold the line
    assert [m["answered"] for m in engine.received()] == ["AE", "AR", "AR", "AA"]


async def test_a_message_never_acknowledged_becomes_a_dead_letter_after_its_attempts(
    db: Database,
) -> None:
    patient, slots = await _clinic(db)
    clock = Clock()
    clock.now = datetime(2000, 1, 1, tzinfo=UTC)
    outbox = _outbox(db, free_port(), clock, max_attempts=3)
    await outbox.collect()
    async with db.session() as s:
        await scheduling.book(s, call_id="c1", patient_id=patient, slot_id=slots[0])
    await outbox.collect()
    for _ in range(3):
        await outbox.send_due()
        clock.now += timedelta(hours=1)
    (message,) = await _messages(db)
    assert message.status == "dead" and message.attempts == 3
    assert message.last_error is not None and "gave up after 3" in message.last_error


async def test_two_processes_collecting_at_once_owe_each_change_once(db: Database) -> None:
    patient, slots = await _clinic(db)
    clock = Clock()
    clock.now = datetime(2000, 1, 1, tzinfo=UTC)
    one, two = _outbox(db, 1, clock), _outbox(db, 1, clock)
    await one.collect()
    async with db.session() as s:
        await scheduling.book(s, call_id="c1", patient_id=patient, slot_id=slots[0])
    await asyncio.gather(one.collect(), two.collect(), return_exceptions=True)
    await two.collect()
    assert len(await _messages(db)) == 1


# -- from the engine ---------------------------------------------------------------------


def _engine_sends(port: int, folder: Path, text: str, tls: dict[str, str] | None = None) -> str:
    message = folder / f"msg-{time.monotonic_ns()}.hl7"
    message.write_text(text)
    done = subprocess.run(["node", str(PEERS / "hl7_send.js"), str(port), str(message)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(tls or {})})
    return done.stdout.strip() or f"exit {done.returncode}"


def _siu(trigger: str, provider: str, start: datetime, placer: str = "9001^EHR") -> str:
    stamp = start.strftime("%Y%m%d%H%M%S")
    return "\n".join([
        f"MSH|^~\\&|EHR|CLINIC|CLINICLINE|CLINIC|20261201120000||SIU^{trigger}^SIU_{trigger}|"
        f"E{time.monotonic_ns() % 10**9}|P|2.5",
        f"SCH|{placer}|||||NEW|follow_up||||^^^{stamp}^{stamp}|||||EHR||||EHR|||||Booked",
        "PID|||MRN77^^^CLINIC^MR||Doe^Jane||19800101",
        "RGS|1",
        f"AIP|1||{provider}^Dr. Nguyen|||{stamp}",
    ])


async def test_a_visit_booked_and_cancelled_in_the_ehr_takes_and_gives_back_its_slot(
    db: Database, tmp_path: Path
) -> None:
    ids = await add_small_clinic(db, days=2)
    inbound = Hl7Inbound(db)
    port = await inbound.start("127.0.0.1", 0)
    start = datetime.combine(MONDAY, datetime.min.time()).replace(hour=9)

    async def offered() -> bool:
        async with db.session() as s:
            found = await scheduling.find_slots(s, when=None, now=NOW, limit=50)
        return any(o.start == start and o.provider == "Dr. Nguyen" for o in found)

    try:
        assert await offered()
        sent = await asyncio.to_thread(
            _engine_sends, port, tmp_path, _siu("S12", f"CL{ids['nguyen']}", start))
        assert sent == "AA|"
        assert not await offered()
        sent = await asyncio.to_thread(
            _engine_sends, port, tmp_path, _siu("S15", f"CL{ids['nguyen']}", start))
        assert sent == "AA|"
        assert await offered()
        # Unknown provider, and a message that is no scheduling message: refused for good.
        unknown = await asyncio.to_thread(
            _engine_sends, port, tmp_path, _siu("S12", "NOBODY", start))
        assert unknown.startswith("AR|")
        adt = ("MSH|^~\\&|EHR|CLINIC|CLINICLINE|CLINIC|20261201120000||ADT^A01^ADT_A01|X9|P|2.5\n"
               "EVN|A01|20261201120000\nPID|||MRN77^^^CLINIC^MR||Doe^Jane||19800101")
        assert (await asyncio.to_thread(_engine_sends, port, tmp_path, adt)).startswith("AR|")
        # Bytes that are no MLLP message at all: the connection ends, the listener stays up.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x0bnot hl7 at all\x1c\x0d" + b"\x00" * 64)
        await writer.drain()
        await asyncio.wait_for(reader.read(), 10)
        writer.close()
        again = await asyncio.to_thread(
            _engine_sends, port, tmp_path, _siu("S12", f"CL{ids['nguyen']}", start))
        assert again == "AA|"
    finally:
        await inbound.stop()


async def test_only_the_engines_addresses_are_served(db: Database, tmp_path: Path) -> None:
    await add_small_clinic(db, days=1)
    inbound = Hl7Inbound(db, allow=["10.9.8.0/24"])
    port = await inbound.start("127.0.0.1", 0)
    try:
        start = datetime.combine(MONDAY, datetime.min.time()).replace(hour=9)
        answer = await asyncio.to_thread(_engine_sends, port, tmp_path, _siu("S12", "CL1", start))
        assert not answer.startswith("AA")
        async with db.session() as s:
            assert (await s.scalars(select(Slot).where(Slot.status == "booked"))).all() == []
    finally:
        await inbound.stop()


# -- over TLS --------------------------------------------------------------------------------


def _pki(tmp_path: Path) -> tuple[Hl7Tls, Path, Path]:
    """The clinic's CA signing our certificate and the engine's; an engine with a stranger's."""
    clinic = Authority("clinic CA")
    ours = clinic.issue(tmp_path / "clinicline", "clinicline")
    engine = clinic.issue(tmp_path / "engine-tls", "interface engine")
    stranger = Authority("someone else's CA").issue(
        tmp_path / "stranger", "interface engine", trusts=clinic
    )
    return Hl7Tls(ours / "ca.pem", ours / "cert.pem", ours / "key.pem"), engine, stranger


@pytest.fixture
async def sqlite_db(tmp_path: Path, data_key: bytes) -> AsyncIterator[Database]:
    """TLS is the link's, not the store's: these tests run on one backend."""
    async with fresh_database("sqlite", tmp_path, data_key) as database:
        yield database


async def test_over_tls_the_engine_gets_the_booking_and_a_stranger_gets_nothing(
    sqlite_db: Database, tmp_path: Path
) -> None:
    db = sqlite_db
    tls, engine_dir, stranger_dir = _pki(tmp_path)
    patient, slots = await _clinic(db)
    clock = Clock()
    with running_engine(tmp_path / "trusted", engine_dir) as engine:
        outbox = _outbox(db, engine.port, clock, tls=tls.client())
        await outbox.collect()
        async with db.session() as s:
            await scheduling.book(s, call_id="c1", patient_id=patient, slot_id=slots[0])
        await outbox.collect()
        assert await outbox.send_due() == 1, outbox.last_error
        assert [m["type"] for m in engine.received()] == ["SIU^S12"]
    # An engine on the same address with a certificate the clinic's CA did not sign: the
    # handshake fails before a byte of the message is sent; the message waits, as for a down one.
    with running_engine(tmp_path / "stranger-engine", stranger_dir) as stranger:
        outbox = _outbox(db, stranger.port, clock, tls=tls.client())
        async with db.session() as s:
            await scheduling.book(s, call_id="c2", patient_id=patient, slot_id=slots[1])
        await outbox.collect()
        assert await outbox.send_due() == 0
        assert stranger.received() == []
    assert outbox.last_error is not None and outbox.last_error.startswith("TLS:"), outbox.last_error
    waiting = (await _messages(db))[-1]
    assert waiting.status == "pending" and waiting.attempts == 1


async def test_over_tls_only_an_engine_with_the_clinics_certificate_is_heard(
    sqlite_db: Database, tmp_path: Path
) -> None:
    db = sqlite_db
    tls, engine_dir, stranger_dir = _pki(tmp_path)
    ids = await add_small_clinic(db, days=2)
    inbound = Hl7Inbound(db)
    port = await inbound.start("127.0.0.1", 0, tls.server())
    start = datetime.combine(MONDAY, datetime.min.time()).replace(hour=9)
    booked = _siu("S12", f"CL{ids['nguyen']}", start)

    async def slot_booked() -> bool:
        async with db.session() as s:
            return bool((await s.scalars(select(Slot).where(Slot.status == "booked"))).all())

    try:
        refused = {"HL7_ACK_WAIT_MS": "4000"}
        for who, env in [
            ("plain MLLP", refused),
            ("no certificate", {**refused, "HL7_TLS_DIR": str(engine_dir), "HL7_TLS_NO_CERT": "1"}),
            ("a stranger's certificate", {**refused, "HL7_TLS_DIR": str(stranger_dir)}),
        ]:
            answer = await asyncio.to_thread(_engine_sends, port, tmp_path, booked, env)
            assert not answer.startswith("AA"), (who, answer)
            assert not await slot_booked(), who
        answer = await asyncio.to_thread(
            _engine_sends, port, tmp_path, booked, {"HL7_TLS_DIR": str(engine_dir)}
        )
        assert answer == "AA|"
        assert await slot_booked()
    finally:
        await inbound.stop()
