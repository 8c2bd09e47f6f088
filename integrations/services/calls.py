"""The call record: turns, events and outcome fields written during a call, and its report.

Turn text, event data, the screen-pop payload and the recording are encrypted with the
database's key before they reach a row (see `integrations.store.crypto`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import InvalidField, NotFound
from integrations.phone_numbers import normalise_phone
from integrations.services.audit import add_audit
from integrations.services.call_report import call_report
from integrations.services.tasks import stage_task
from integrations.services.transaction import atomic
from integrations.store.crypto import cipher_of
from integrations.store.models import Call, CallEvent, CallTurn, StaffTask

DISPOSITIONS = frozenset(
    {
        "refill_requested",
        "appointment_booked",
        "appointment_rescheduled",
        "appointment_cancelled",
        "info_given",
        "task_created",
        "transferred",
        "emergency_transferred",
        "verification_failed",
        "abandoned",
        "caller_hung_up",
        "transfer_failed",
        "worker_lost",
        "appointment_confirmed",
        "voicemail_left",
        "opted_out",
        "call_later",  # a campaign's callee asked to be called another time
        # A supervisor's test call of the draft flow that reached a transfer (it rings nobody);
        # kept in the try-it sandbox's store, never the clinic's.
        "test_call",
    }
)
TRIAGE_LEVELS = frozenset({"none", "urgent", "emergent"})
SETTABLE_FIELDS = frozenset(
    {
        "verified_patient_id",
        "pending_patient_id",
        "triage_level",
        "flags",
        "emergency_message_played",
        "transferred",
        "transfer_queue",
        "screen_pop",
        "disposition",
    }
)

Speaker = Literal["caller", "bot", "agent", "monitor"]  # monitor: a supervisor who joined
SPEAKERS: tuple[str, ...] = ("caller", "bot", "agent", "monitor")

__all__ = [
    "DISPOSITIONS",
    "BridgeState",
    "add_event",
    "add_turn",
    "bridge_of",
    "bridge_state",
    "call_report",
    "close_call",
    "close_lost_calls",
    "last_call_id",
    "load_recording",
    "open_call",
    "save_recording",
    "set_fields",
    "settle_unreached",
]


async def _call(s: AsyncSession, call_id: str) -> Call:
    call = await s.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id!r}; open_call() first")
    return call


def _check_disposition(disposition: str | None) -> None:
    if disposition is not None and disposition not in DISPOSITIONS:
        raise InvalidField(
            f"unknown disposition {disposition!r}; expected one of {sorted(DISPOSITIONS)}"
        )


async def open_call(
    s: AsyncSession,
    *,
    call_id: str,
    caller_number: str | None,
    started: datetime,
    worker: str | None = None,
    direction: str = "inbound",
) -> None:
    """Start the record of a call (held by `worker`); opening it again changes nothing.
    An outbound call's `caller_number` is the number the clinic dialled."""
    async with atomic(s):
        if await s.get(Call, call_id) is not None:
            return
        # Keep the raw caller ID when it is not a dialable number (anonymous, SIP name).
        number = normalise_phone(caller_number) or caller_number
        s.add(
            Call(
                id=call_id,
                caller_number=number,
                started=started,
                worker=worker,
                direction=direction,
            )
        )


async def close_lost_calls(s: AsyncSession, worker: str, *, ended: datetime) -> list[str]:
    """The worker died (or restarted) with calls open: close each as `worker_lost`, and leave
    a callback task for each caller, an urgent nurse callback where a red flag had fired.
    Returns the call ids closed; run by whoever notices (the supervisor, the worker itself
    when it starts again), and harmless to run twice."""
    async with atomic(s):
        lost = list(
            await s.scalars(select(Call).where(Call.worker == worker, Call.ended.is_(None)))
        )
        for call in lost:
            call.ended = ended
            call.disposition = "worker_lost"
            s.add(CallEvent(call_id=call.id, kind="worker_lost",
                            data_enc=cipher_of(s).encrypt_json({"worker": worker})))
            flagged = call.triage_level != "none" or bool(call.flags)
            stage_task(
                s,
                kind="nurse_callback" if flagged else "callback",
                queue="nurse" if flagged else (call.transfer_queue or "front_desk"),
                patient_id=call.verified_patient_id,
                call_id=call.id,
                note=(
                    "URGENT: red-flag caller cut off (the line's worker failed). Call back now."
                    if flagged
                    else "Caller cut off (the line's worker failed): call back."
                ),
            )  # fmt: skip
        return [call.id for call in lost]


async def add_turn(
    s: AsyncSession, *, call_id: str, speaker: Speaker, text: str, start: datetime, end: datetime
) -> None:
    """Append one utterance (caller, bot, or the agent after a bridge) to the transcript,
    encrypted."""
    if speaker not in SPEAKERS:
        raise InvalidField(f"speaker must be one of {', '.join(SPEAKERS)}, not {speaker!r}")
    async with atomic(s):
        await _call(s, call_id)
        enc = cipher_of(s).encrypt_text(text)
        s.add(CallTurn(call_id=call_id, speaker=speaker, text_enc=enc, start=start, end=end))


async def add_event(
    s: AsyncSession, *, call_id: str, kind: str, data: dict[str, Any], at: datetime | None = None
) -> None:
    """Record something that happened in the call (dtmf, intent, triage, transfer, ...)."""
    async with atomic(s):
        await _call(s, call_id)
        event = CallEvent(call_id=call_id, kind=kind, data_enc=cipher_of(s).encrypt_json(data))
        if at is not None:
            event.at = at
        s.add(event)


OfferState = tuple[frozenset[int], int | None]  # agents offered the call, agent awaited now


def offer_state_of(events: Iterable[tuple[str, dict[str, Any]]]) -> OfferState:
    """From a call's events (kind, data), oldest first: every agent the call was offered to,
    and the agent its transfer is waiting for now (None when no offer stands: answered,
    declined, rung out, withdrawn, or never made)."""
    offered: set[int] = set()
    waiting_for: int | None = None
    for kind, data in events:
        if not kind.startswith("transfer_"):
            continue
        if kind == "transfer_offered":
            waiting_for = data.get("agent_id")
            if waiting_for is not None:
                offered.add(waiting_for)
        elif not (kind == "transfer_escalated" and data.get("in_place")):
            # A red flag told to the nurse already on the line keeps her offer standing.
            waiting_for = None
    return frozenset(offered), waiting_for


async def offer_state(s: AsyncSession, call_id: str) -> OfferState:
    """`offer_state_of` the call's record, whichever process wrote it."""
    async with atomic(s):
        rows = await s.scalars(
            select(CallEvent)
            .where(CallEvent.call_id == call_id, CallEvent.kind.startswith("transfer_"))
            .order_by(CallEvent.id)
        )
        cipher = cipher_of(s)
        return offer_state_of((e.kind, cipher.decrypt_json(e.data_enc)) for e in rows)


async def call_identity(s: AsyncSession, call_id: str) -> int | None:
    """The patient this call is verified as, from the store (None: not verified); a call the
    store does not know raises `NotFound`."""
    async with atomic(s):
        return (await _call(s, call_id)).verified_patient_id


# What moves a call on or off a bridge to a person, oldest first.
_BRIDGE_EVENTS = ("transfer_answered", "bridged", "agent_transferred", "referred")


@dataclass(frozen=True)
class BridgeState:
    """Whether caller and a person are bridged through the call's worker now, and who."""

    live: bool  # in progress, bridged, not referred away nor passed on by the agent
    agent_id: int | None  # whose phone took the transfer that is bridged now
    patient_id: int | None  # the patient the call is verified as


def bridge_of(events: Iterable[tuple[str, dict[str, Any]]]) -> tuple[bool, int | None]:
    """From a call's bridge events (kind, data), oldest first: bridged now, and to whom. An
    agent who transferred the call on is off it until the next person's phone is bridged."""
    bridged, referred, agent_id = False, False, None
    for kind, data in events:
        if kind == "transfer_answered":
            agent_id = data.get("agent_id")
        elif kind == "bridged":
            bridged = True
        elif kind == "agent_transferred":
            bridged, agent_id = False, None
        elif kind == "referred":
            referred = True
    live = bridged and not referred
    return live, agent_id if live else None


async def bridge_state(s: AsyncSession, call_id: str) -> BridgeState:
    """`bridge_of` the call's record (an unknown call raises `NotFound`): what a supervisor
    may listen to, and what only the agent on the line may transfer on."""
    async with atomic(s):
        call = await _call(s, call_id)
        rows = await s.scalars(
            select(CallEvent)
            .where(CallEvent.call_id == call_id, CallEvent.kind.in_(_BRIDGE_EVENTS))
            .order_by(CallEvent.id)
        )
        cipher = cipher_of(s)
        live, agent_id = bridge_of((e.kind, cipher.decrypt_json(e.data_enc)) for e in rows)
    return BridgeState(call.ended is None and live, agent_id, call.verified_patient_id)


@dataclass(frozen=True)
class HandlingState:
    """Who was offered a transferred call, whose phone took it (an answered transfer leg), and
    who has wrapped it up."""

    offered: frozenset[int]
    answered_by: frozenset[int]
    wrapped_up_by: frozenset[int]


async def handling_state(s: AsyncSession, call_id: str) -> HandlingState:
    """From the call's transfer and wrap-up events (one read), whichever process wrote them."""
    async with atomic(s):
        rows = await s.scalars(
            select(CallEvent)
            .where(
                CallEvent.call_id == call_id,
                or_(CallEvent.kind.startswith("transfer_"), CallEvent.kind == "wrap_up"),
            )
            .order_by(CallEvent.id)
        )
        cipher = cipher_of(s)
        events = [(e.kind, cipher.decrypt_json(e.data_enc)) for e in rows]
    offered, _ = offer_state_of(events)

    def agents(kind: str) -> frozenset[int]:
        return frozenset(
            int(d["agent_id"]) for k, d in events if k == kind and d.get("agent_id") is not None
        )

    return HandlingState(offered, agents("transfer_answered"), agents("wrap_up"))


async def set_fields(s: AsyncSession, call_id: str, **fields: Any) -> None:
    """Set outcome fields of the call; names outside the contract raise `InvalidField`."""
    unknown = set(fields) - SETTABLE_FIELDS
    if unknown:
        raise InvalidField(
            f"unknown call fields {sorted(unknown)}; allowed {sorted(SETTABLE_FIELDS)}"
        )
    if "triage_level" in fields and str(fields["triage_level"]) not in TRIAGE_LEVELS:
        raise InvalidField(f"triage_level must be one of {sorted(TRIAGE_LEVELS)}")
    _check_disposition(fields.get("disposition"))
    async with atomic(s):
        call = await _call(s, call_id)
        for name, value in fields.items():
            if name == "screen_pop":
                call.screen_pop_enc = None if value is None else cipher_of(s).encrypt_json(value)
            elif name == "flags":
                call.flags = [str(f) for f in value]
            elif name == "triage_level":
                call.triage_level = str(value)
            else:
                setattr(call, name, value)


async def close_call(
    s: AsyncSession, *, call_id: str, ended: datetime, disposition: str | None
) -> None:
    """End the call; a disposition already set during the call is kept if none is given."""
    _check_disposition(disposition)
    async with atomic(s):
        call = await _call(s, call_id)
        call.ended = ended
        if disposition is not None:
            call.disposition = disposition


async def settle_unreached(
    s: AsyncSession, call_id: str, *, disposition: str, urgent_callback_note: str | None
) -> None:
    """A call that asked for a person ended: if nobody answered, record `disposition` and,
    for a flagged caller (`urgent_callback_note`), leave a nurse callback task unless one
    is already open for this call. Decided in one transaction with routing's writes, so an
    answer recorded a moment earlier is never overwritten."""
    _check_disposition(disposition)
    async with atomic(s):
        call = await _call(s, call_id)
        if call.transferred:
            return
        call.disposition = disposition
        if urgent_callback_note is None:
            return
        already = await s.scalar(
            select(StaffTask.id).where(
                StaffTask.call_id == call_id,
                StaffTask.kind == "nurse_callback",
                StaffTask.status != "done",
            )
        )
        if already is None:
            stage_task(
                s,
                kind="nurse_callback",
                queue="nurse",
                patient_id=call.verified_patient_id,
                call_id=call_id,
                note=urgent_callback_note[:500],
            )


async def save_recording(s: AsyncSession, call_id: str, audio: bytes) -> None:
    """Store the call's recording (e.g. a WAV file's bytes), encrypted."""
    async with atomic(s):
        call = await _call(s, call_id)
        call.recording_enc = cipher_of(s).encrypt(audio)


async def load_recording(
    s: AsyncSession, call_id: str, *, listener: str | None = None
) -> bytes | None:
    """The decrypted recording of a call, or None when none was kept. `listener`, when given,
    is written to the audit log (playing a recording is a view of the call)."""
    async with atomic(s):
        call = await _call(s, call_id)
        if call.recording_enc is None:
            return None
        if listener is not None:
            add_audit(
                s, actor=listener, action="play_recording",
                patient_id=call.verified_patient_id, call_id=call_id,
            )  # fmt: skip
        return cipher_of(s).decrypt(call.recording_enc)


async def last_call_id(s: AsyncSession) -> str | None:
    """The id of the most recently started call."""
    async with atomic(s):
        return await s.scalar(select(Call.id).order_by(Call.started.desc()).limit(1))
