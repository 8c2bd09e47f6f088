"""The clinic's tables as typed SQLAlchemy 2 models (one metadata, named constraints for Alembic).

Clinic wall-clock times (slots, appointments) are naive local datetimes; instants (calls,
audit, task timestamps) are `UTCDateTime`. Transcript text, event data, screen-pop payloads
and recordings are stored only as Fernet tokens (`*_enc` columns), see `crypto.py`; so are
patients' names, dates of birth, phone numbers, medications, task notes and caller numbers
(`EncryptedText`/`EncryptedDate` columns, decrypted on read). Columns looked up by equality
have a blind index beside them (`dob_index`, `number_index`), kept up to date on flush by
`indexes.py`. SECURITY.md says which columns are encrypted and why the others are not.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from integrations.store.types import EncryptedDate, EncryptedText, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OPEN_REFILL_STATUSES = ("open", "needs_review")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Location(Base):
    __tablename__ = "locations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    address: Mapped[str] = mapped_column(String(240), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")


class Provider(Base):
    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    display_name: Mapped[str] = mapped_column(String(120))
    specialty: Mapped[str] = mapped_column(String(80), default="")
    fhir_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class VisitType(Base):
    __tablename__ = "visit_types"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    minutes: Mapped[int] = mapped_column(Integer, default=30)


class ProviderSchedule(Base):
    """A provider's recurring weekly block at a location; slots are generated from these."""

    __tablename__ = "provider_schedules"
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    weekday: Mapped[int] = mapped_column(Integer)  # Monday = 0, as date.weekday()
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),)


class Slot(Base):
    __tablename__ = "slots"
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    start: Mapped[datetime] = mapped_column(DateTime, index=True)
    end: Mapped[datetime] = mapped_column(DateTime)
    visit_type_code: Mapped[str | None] = mapped_column(String(40))  # None: any visit type
    status: Mapped[str] = mapped_column(String(16), default="free")
    # Set when the slot is mirrored from an EHR (integrations/ehr): the EHR's id, and the version
    # a booking must still match (If-Match) so two callers never get the same slot.
    fhir_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    fhir_version: Mapped[str | None] = mapped_column(String(32))
    provider: Mapped[Provider] = relationship(lazy="joined")
    location: Mapped[Location] = relationship(lazy="joined")
    __table_args__ = (
        UniqueConstraint("provider_id", "start", name="uq_slots_provider_start"),
        CheckConstraint("status IN ('free', 'booked', 'blocked')", name="status"),
    )


class ProviderAbsence(Base):
    """A provider who cannot see patients from `first_day` to `last_day` (inclusive): her free
    slots on those days are blocked, and a slot freed there (a cancelled or moved visit) stays
    blocked rather than being offered again. Declared with a provider-out campaign."""

    __tablename__ = "provider_absences"
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    declared_by: Mapped[str] = mapped_column(String(80))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (CheckConstraint("first_day <= last_day", name="days"),)


class Patient(Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str | None] = mapped_column(String(32), unique=True)
    first_name: Mapped[str] = mapped_column(EncryptedText)
    last_name: Mapped[str] = mapped_column(EncryptedText)
    dob: Mapped[date] = mapped_column(EncryptedDate)
    dob_index: Mapped[str] = mapped_column(String(32), index=True)
    sex: Mapped[str | None] = mapped_column(String(16))
    fhir_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Her own IANA time zone when it differs from the clinic's (outbound call windows).
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # The hours she asked to be called in (her own clock; None: any time in a campaign's
    # window), from "call me after six" on a campaign call.
    call_after: Mapped[time | None] = mapped_column(Time)
    call_before: Mapped[time | None] = mapped_column(Time)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    phones: Mapped[list[PatientPhone]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class PatientPhone(Base):
    __tablename__ = "patient_phones"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(EncryptedText)  # E.164, see phone_numbers.py
    number_index: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="mobile")
    patient: Mapped[Patient] = relationship(back_populates="phones")
    __table_args__ = (
        UniqueConstraint("patient_id", "number_index", name="uq_patient_phones_number_index"),
    )


class Appointment(Base):
    __tablename__ = "appointments"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("slots.id"))
    start: Mapped[datetime] = mapped_column(DateTime)
    end: Mapped[datetime] = mapped_column(DateTime)
    visit_type: Mapped[str] = mapped_column(String(40), default="follow_up")
    status: Mapped[str] = mapped_column(String(16), default="booked")
    booked_by_call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    changed_by_call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    rescheduled_to_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    fhir_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    provider: Mapped[Provider] = relationship(lazy="joined")
    location: Mapped[Location | None] = relationship(lazy="joined")
    __table_args__ = (
        CheckConstraint(
            "status IN ('booked', 'cancelled', 'rescheduled', 'fulfilled')", name="status"
        ),
        # The last line of defence against double booking: one live appointment per slot.
        Index(
            "uq_appointments_live_slot",
            "slot_id",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
    )


class Medication(Base):
    __tablename__ = "medications"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    name: Mapped[str] = mapped_column(EncryptedText)
    strength: Mapped[str] = mapped_column(EncryptedText, default="")
    refills_left: Mapped[int] = mapped_column(Integer, default=0)
    controlled: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    fhir_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class RefillRequest(Base):
    __tablename__ = "refill_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    medication_id: Mapped[int] = mapped_column(ForeignKey("medications.id"))
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    task_id: Mapped[int | None] = mapped_column(ForeignKey("staff_tasks.id"))
    # The FHIR Task this request became in the EHR; None while it waits to be sent (outbox).
    ehr_task_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    medication: Mapped[Medication] = relationship(lazy="joined")
    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'needs_review', 'sent', 'denied', 'done')", name="status"
        ),
        # One open request per medication, whichever call or retry asks again.
        Index(
            "uq_refill_requests_open_medication",
            "medication_id",
            unique=True,
            sqlite_where=text("status IN ('open', 'needs_review')"),
            postgresql_where=text("status IN ('open', 'needs_review')"),
        ),
    )


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    sip_uri: Mapped[str] = mapped_column(String(255), default="")
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    presence: Mapped[str] = mapped_column(String(16), default="offline")
    # Why an agent is away (a break, lunch; or the system's word: her console closed, she
    # missed an offer), and since when she has been in this state (the boards' state timer).
    presence_reason: Mapped[str | None] = mapped_column(String(24))
    presence_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A password someone else chose (a one-time password, a demo password in a clinic's
    # store): the console lets this agent do nothing until they set their own.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # When the agent last finished a call or became available (longest idle is offered
    # first); None: not idle, or never seen since signing in.
    idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When an app process last held a console socket of this agent (None: never opened
    # one): an agent marked available whose console is gone is set away.
    console_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # May publish a version of the call flow's wording (the clinic's administrators): editing
    # is every supervisor's, putting it in front of callers is not.
    may_publish: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Where her console's browser phone is registered (the softphone gateway's address for
    # her); empty: calls ring `sip_uri`, her desk phone. Set and cleared by the server when
    # the gateway accepts or drops the registration, never from what the browser sends.
    browser_phone_uri: Mapped[str] = mapped_column(
        String(255), default="", server_default=text("''")
    )
    # How many of her open consoles have that browser phone registered: the last to close (or
    # lose it) rings her desk again, not the first of two tabs.
    browser_phone_tabs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    __table_args__ = (
        CheckConstraint("role IN ('agent', 'nurse', 'supervisor')", name="role"),
        CheckConstraint(
            "presence IN ('offline', 'available', 'busy', 'away', 'wrap_up')", name="presence"
        ),
    )


class AgentReservation(Base):
    """An agent held for one call's transfer offer. The primary key makes the hold exclusive
    across every process; a hold lapses at `expires_at`, so a process that dies holding one
    cannot keep the agent from callers."""

    __tablename__ = "agent_reservations"
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsoleSession(Base):
    """A signed-in console session, seen by every app process. The row's key is a hash of the
    cookie's session id, so the table alone signs nobody in."""

    __tablename__ = "console_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)


class ContextToken(Base):
    """The CTI payload behind an `X-Clinicline-Context` token, found by a hash of the token;
    the payload is PHI and stored only encrypted."""

    __tablename__ = "context_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    uses_left: Mapped[int] = mapped_column(Integer)


class ConsoleMessage(Base):
    """A message for an agent's console, written by the process that has it for the app
    processes that hold the agent's sockets (PostgreSQL NOTIFY carries only the row id).
    Messages carry PHI (screen-pops, transcript lines): encrypted, and pruned after minutes."""

    __tablename__ = "console_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String(40))
    message_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class HoldLine(Base):
    """Routine callers holding for the next free person, first come first served across
    every worker; a row its worker stopped refreshing (it died) no longer keeps a place."""

    __tablename__ = "hold_line"
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    queue: Mapped[str] = mapped_column(String(40), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TurnedAway(Base):
    """Callers refused because every line was busy (no caller is recorded, only how many)."""

    __tablename__ = "turned_away"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True, default=utcnow)
    callers: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    reason: Mapped[str] = mapped_column(String(32))
    door: Mapped[str] = mapped_column(String(80))  # "front" (Kamailio) or the worker's name


class ProcessBeat(Base):
    """A process of the site as it last reported itself (a worker, the SIP front)."""

    __tablename__ = "processes"
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(200), default="", server_default="")
    active_calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A worker behind a SIP front: HOST:PORT where the front reaches it (its dispatcher list is
    # the workers that announce one and still beat).
    sip_address: Mapped[str | None] = mapped_column(String(80))


class SoftphoneGateway(Base):
    """A running browser-phone gateway (Kamailio + rtpengine), as the process that runs it
    announced it: every process's console relays to it and signs credentials with its secret."""

    __tablename__ = "softphone_gateways"
    name: Mapped[str] = mapped_column(String(120), primary_key=True)  # the process running it
    sip: Mapped[str] = mapped_column(String(80))  # HOST:PORT the workers ring agents at
    websocket_url: Mapped[str] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(EncryptedText)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SiteTurn(Base):
    """One process at a time holds a site-wide turn `name` until `expires_at` (renewed while
    it works): what must not happen on every process at once, such as loading a new dialog
    model beside each worker's Rasa."""

    __tablename__ = "site_turns"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallQueue(Base):
    __tablename__ = "queues"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)


class StaffTask(Base):
    __tablename__ = "staff_tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    note: Mapped[str] = mapped_column(EncryptedText, default="")
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # The FHIR Task it became in the EHR (callbacks and the like, `EhrSync.send_tasks`); None
    # while it waits to be sent, or for good when the EHR does not have the patient.
    ehr_task_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    __table_args__ = (CheckConstraint("status IN ('open', 'claimed', 'done')", name="status"),)


class Call(Base):
    __tablename__ = "calls"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    caller_number: Mapped[str | None] = mapped_column(EncryptedText)
    started: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    # The store's loose match awaiting the caller's "yes, that's me" (never a verification).
    pending_patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    triage_level: Mapped[str] = mapped_column(String(16), default="none")
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    emergency_message_played: Mapped[bool] = mapped_column(Boolean, default=False)
    transferred: Mapped[bool] = mapped_column(Boolean, default=False)
    transfer_queue: Mapped[str | None] = mapped_column(String(40))
    screen_pop_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    disposition: Mapped[str | None] = mapped_column(String(40))
    recording_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The voice worker holding the call's legs: if it dies, whoever notices closes its calls.
    worker: Mapped[str | None] = mapped_column(String(80), index=True)
    # "outbound": the clinic called (a campaign); `caller_number` is then the number dialled.
    direction: Mapped[str] = mapped_column(String(8), default="inbound", server_default="inbound")


class CallTurn(Base):
    __tablename__ = "call_turns"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    speaker: Mapped[str] = mapped_column(String(8))
    text_enc: Mapped[bytes] = mapped_column(LargeBinary)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint("speaker IN ('caller', 'bot', 'agent', 'monitor')", name="speaker"),
    )


class CallEvent(Base):
    __tablename__ = "call_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    data_enc: Mapped[bytes] = mapped_column(LargeBinary)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignInThrottle(Base):
    """Failed console sign-ins per key (an address, an address + user, a user), with the
    back-off they earned: shared by every app process, updated atomically."""

    __tablename__ = "sign_in_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class StoreMeta(Base):
    """Facts about the store itself: whether it holds the demo clinic or a clinic's data."""

    __tablename__ = "store_meta"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AuditEvent(Base):
    """Who looked at or changed which patient's data, and when."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    call_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PromptVersion(Base):
    """One version of the words the call flow says (greeting, hold, emergency message, …).

    Every edit makes a new row holding every prompt's text, so nothing is overwritten and any
    version can be published again (a rollback). The version callers hear is the one
    published last; each voice worker reads it from here, not from its own memory.
    """

    __tablename__ = "prompt_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    texts: Mapped[dict[str, str]] = mapped_column(JSON)
    # The version this one was made from, and the prompts changed from it. Unique: history is
    # one line, so of two edits made from the same version only the first is kept.
    based_on: Mapped[int | None] = mapped_column(ForeignKey("prompt_versions.id"), unique=True)
    changed: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A second supervisor's approval, needed when the emergency message changed.
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(80))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class LexiconVersion(Base):
    """One version of a clinic's own red-flag words, on top of the shipped lexicon.

    `edits` holds every addition (`nlu.triage.clinic_edits`), so any version can be published
    again; `regression` is what the edit did to the labelled sets when it was made (kept for
    the history: no version that lost a red flag or raised a quiet line is ever saved).
    """

    __tablename__ = "lexicon_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    edits: Mapped[dict[str, list[dict[str, str]]]] = mapped_column(JSON)
    based_on: Mapped[int | None] = mapped_column(ForeignKey("lexicon_versions.id"), unique=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    regression: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(80))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class TrainingVersion(Base):
    """One version of the clinic's own training phrasings, on top of the shipped ones.

    `edits` holds every addition ({intent: [example, ...]}, `dialogs.training_data`), so any
    version can be trained and published again. The model trained from it is named by the
    laid-out project's hash (`model`); `state` is draft → training → ready or failed, with the
    training's `progress` and the draft model's `evaluation` against the published one.
    """

    __tablename__ = "training_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    edits: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    based_on: Mapped[int | None] = mapped_column(ForeignKey("training_versions.id"), unique=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16), default="draft")
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model: Mapped[str | None] = mapped_column(String(80))
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(80))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class Hl7Message(Base):
    """An HL7 v2 SIU message owed to the clinic's interface engine for one appointment change
    (integrations/hl7): its delivery state is the outbox and, once given up, the dead letter.
    The message text is built from the appointment when sent, so no copy of PHI waits here."""

    __tablename__ = "hl7_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    # The audit row of the change (book, reschedule, cancel): one message per change, whichever
    # process noticed it first.
    audit_event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), unique=True)
    trigger: Mapped[str] = mapped_column(String(4))  # S12 book, S14 modify, S15 cancel
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"))
    # S14: the appointment it replaces (whose placer id the engine knows).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    control_id: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # A sender holds the message until then: two processes never send it at once.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'dead')", name="status"),
        CheckConstraint("trigger IN ('S12', 'S14', 'S15')", name="trigger"),
    )


class Campaign(Base):
    """An outbound campaign (clinicline/outbound): whom to call, when, how often, how fast."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    # The call window, in each patient's own time zone (the clinic's when she has none).
    window_start: Mapped[time] = mapped_column(Time)
    window_end: Mapped[time] = mapped_column(Time)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    retry_minutes: Mapped[int] = mapped_column(Integer, default=60)  # doubled each retry
    pace_per_minute: Mapped[int] = mapped_column(Integer, default=4)
    # Say the patient's first name in a voicemail message (some clinics allow it).
    voicemail_first_name: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'running', 'paused', 'done')", name="status"),
        CheckConstraint(
            "kind IN ('reminder', 'results_ready', 'post_discharge', 'provider_out')",
            name="kind",
        ),
    )


class CampaignTarget(Base):
    """One patient (and, for reminders, one appointment) a campaign calls until it ends."""

    __tablename__ = "campaign_targets"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # A dialer holds the target until then: two processes never call her at once.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(24))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'dialing', 'done')", name="status"),
        UniqueConstraint("campaign_id", "patient_id", "appointment_id", name="uq_campaign_target"),
    )


class CampaignAttempt(Base):
    """One dial of a target and how it ended (`result`), with the call record if answered."""

    __tablename__ = "campaign_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_targets.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    started: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sip_status: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[str | None] = mapped_column(String(24))
    call_id: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(80))


class DoNotCall(Base):
    """A number (blind index only) or a patient the clinic must not call: the do-not-call list
    and every "stop calling me" heard on a call."""

    __tablename__ = "do_not_call"
    id: Mapped[int] = mapped_column(primary_key=True)
    number_index: Mapped[str | None] = mapped_column(String(32), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    reason: Mapped[str] = mapped_column(String(24))  # "opt_out", "list"
    call_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
