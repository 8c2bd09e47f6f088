"""HL7 v2.5 scheduling messages (SIU^S12 book, S14 modify, S15 cancel) and their ACKs, built
and read with hl7apy, which checks each message against the 2.5 structure before it leaves.

SCH-1 is the placer appointment id (ours; for S14 the appointment being moved, which the
engine already knows), SCH-11 the timing, SCH-25 the filler status. PID-3 carries the
patient's MRN (or EHR id) — the engine is the clinic's own system, entitled to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from hl7apy.core import Message
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

VERSION = "2.5"
PLACER = "CLINICLINE"
STATUS = {"S12": "Booked", "S14": "Booked", "S15": "Cancelled"}
REASON = {"S12": "NEW", "S14": "MOVED", "S15": "CANCELLED"}


class BadMessage(ValueError):
    """Text that is not a well-formed HL7 v2 message of the kind expected."""


@dataclass(frozen=True)
class Visit:
    """What an SIU message says about one appointment."""

    placer_id: str
    start: datetime
    end: datetime
    visit_type: str
    patient_id: str
    family: str
    given: str
    born: date
    provider_id: str
    provider_name: str
    location: str


@dataclass(frozen=True)
class Sender:
    application: str = PLACER
    facility: str = "CLINIC"
    to_application: str = "ENGINE"
    to_facility: str = "EHR"


def _ts(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def _text(value: str) -> str:
    """A free-text component with HL7's delimiters taken out (names, places)."""
    return "".join(" " if c in "|^~\\&\r\n" else c for c in value).strip()


def siu(trigger: str, visit: Visit, control_id: str, now: datetime, sender: Sender) -> str:
    """One SIU message as ER7 text (segments separated by CR)."""
    m = Message(f"SIU_{trigger}", version=VERSION)
    m.msh.msh_3, m.msh.msh_4 = sender.application, sender.facility
    m.msh.msh_5, m.msh.msh_6 = sender.to_application, sender.to_facility
    m.msh.msh_7 = _ts(now)
    m.msh.msh_9 = f"SIU^{trigger}^SIU_{trigger}"
    m.msh.msh_10 = control_id
    m.msh.msh_11 = "P"
    m.sch.sch_1 = f"{visit.placer_id}^{PLACER}"
    m.sch.sch_6 = REASON[trigger]
    m.sch.sch_7 = _text(visit.visit_type)
    m.sch.sch_11 = f"^^^{_ts(visit.start)}^{_ts(visit.end)}"
    m.sch.sch_16 = PLACER
    m.sch.sch_20 = PLACER
    m.sch.sch_25 = STATUS[trigger]
    patient = m.add_group(f"SIU_{trigger}_PATIENT")
    patient.pid.pid_3 = f"{_text(visit.patient_id)}^^^{sender.facility}^MR"
    patient.pid.pid_5 = f"{_text(visit.family)}^{_text(visit.given)}"
    patient.pid.pid_7 = visit.born.strftime("%Y%m%d")
    resources = m.add_group(f"SIU_{trigger}_RESOURCES")
    resources.rgs.rgs_1 = "1"
    person = resources.add_group(f"SIU_{trigger}_PERSONNEL_RESOURCE")
    person.aip.aip_1 = "1"
    person.aip.aip_3 = f"{_text(visit.provider_id)}^{_text(visit.provider_name)}"
    person.aip.aip_6 = _ts(visit.start)
    place = resources.add_group(f"SIU_{trigger}_LOCATION_RESOURCE")
    place.ail.ail_1 = "1"
    place.ail.ail_3 = f"^^^{_text(visit.location)}"
    try:
        m.validate()
    except HL7apyException as exc:  # our own message: a bug, not the engine's problem
        raise BadMessage(f"SIU^{trigger} does not validate: {exc}") from exc
    return str(m.to_er7())


@dataclass(frozen=True)
class Ack:
    code: str  # AA/CA accepted, AE/CE error (retry), AR/CR rejected
    text: str
    control_id: str

    @property
    def accepted(self) -> bool:
        return self.code in ("AA", "CA")

    @property
    def rejected(self) -> bool:
        return self.code in ("AR", "CR")


def read_ack(text: str) -> Ack:
    try:
        m = parse_message(_segments(text), find_groups=False)
        code = m.msa.msa_1.to_er7()
        return Ack(code, m.msa.msa_3.to_er7()[:120], m.msa.msa_2.to_er7())
    except (HL7apyException, AttributeError, IndexError) as exc:
        raise BadMessage("the answer is not an HL7 acknowledgement") from exc


def ack(message_text: str, code: str, why: str = "") -> str:
    """Our acknowledgement of a message from the engine (AA, AE or AR)."""
    try:
        incoming = parse_message(_segments(message_text), find_groups=False)
        control = incoming.msh.msh_10.to_er7()
        trigger = incoming.msh.msh_9.msh_9_2.to_er7()
    except (HL7apyException, AttributeError, IndexError):
        control, trigger = "", ""
    m = Message("ACK", version=VERSION)
    m.msh.msh_3, m.msh.msh_4 = PLACER, "CLINIC"
    m.msh.msh_7 = _ts(datetime.now())
    m.msh.msh_9 = f"ACK^{trigger}^ACK" if trigger else "ACK"
    m.msh.msh_10 = f"A{control}"[:20] if control else "A0"
    m.msh.msh_11 = "P"
    m.msa.msa_1 = code
    m.msa.msa_2 = control
    if why:
        m.msa.msa_3 = _text(why)[:80]
    return str(m.to_er7())


def _segments(text: str) -> str:
    lines = [line for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if line]
    if not lines or not lines[0].startswith("MSH"):
        raise BadMessage("an HL7 v2 message starts with MSH")
    return "\r".join(lines)
