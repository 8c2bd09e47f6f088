"""Load the demo clinic into a store: patients, providers, four weeks of slots, queues, staff.

Idempotent: every row is found by a natural key first (MRN, provider name, slot provider +
start, username, ...), so running it again adds nothing, and running it on a later `today`
only adds the new days' slots. Synthetic patients come from a seeded random generator, so
every run builds the same clinic.

Demo staff sign in with the password "<username>-demo" (front1-demo, sched1-demo,
billing1-demo, pharm1-demo, nurse1-demo, nurse2-demo, super1-demo) and ring at
sip:<username>@127.0.0.1:<5070 + n> in the order of `demo_clinic.STAFF` (front1 at 5070,
nurse1 at 5074, super1 at 5076). These passwords are for the demo only: the store is marked
as the demo's, no clinic's data can be loaded beside them, and outside a demo store the
console refuses them (`integrations.services.store_mode`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.passwords import hash_password
from integrations.seed import demo_clinic as clinic
from integrations.services.store_mode import claim_mode
from integrations.services.transaction import atomic
from integrations.store.database import Database
from integrations.store.models import (
    Agent,
    Appointment,
    CallQueue,
    Location,
    Medication,
    Patient,
    PatientPhone,
    Provider,
    ProviderSchedule,
    Slot,
    VisitType,
)

SEED_CALL_ID = "seed"


@dataclass(frozen=True)
class SeedSummary:
    """Rows created by this run (all zero when the clinic was already seeded)."""

    locations: int
    providers: int
    patients: int
    medications: int
    slots: int
    appointments: int
    queues: int
    agents: int


async def seed_demo(
    db: Database, today: date, *, staff_port: int = clinic.SIP_FIRST_PORT
) -> SeedSummary:
    """Seed the demo clinic with slots from `today` for four weeks; see the module docstring.
    The staff's desk phones answer at 127.0.0.1:`staff_port` and up, one port each. A store
    holding a clinic's own data is refused (`store_mode`)."""
    async with db.session() as s:
        await claim_mode(s, "demo")
    async with db.session() as s, atomic(s):
        locations = await _locations(s)
        providers = await _providers(s)
        await _visit_types(s)
        await _schedules(s, providers, locations)
        slots = await _slots(s, today)
        patients, meds = await _patients(s)
        appointments = await _appointments(s, today, providers)
        queues = await _queues(s)
        agents = await _agents(s, staff_port)
        return SeedSummary(
            locations=locations.created,
            providers=providers.created,
            patients=patients,
            medications=meds,
            slots=slots,
            appointments=appointments,
            queues=queues,
            agents=agents,
        )


class _ByName(dict[str, int]):
    created: int = 0


async def _locations(s: AsyncSession) -> _ByName:
    out = _ByName()
    for name, address, phone in clinic.LOCATIONS:
        row = await s.scalar(select(Location).where(Location.name == name))
        if row is None:
            row = Location(name=name, address=address, phone=phone)
            s.add(row)
            await s.flush()
            out.created += 1
        out[name] = row.id
    return out


async def _providers(s: AsyncSession) -> _ByName:
    out = _ByName()
    for name, display, specialty in clinic.PROVIDERS:
        row = await s.scalar(select(Provider).where(Provider.name == name))
        if row is None:
            row = Provider(name=name, display_name=display, specialty=specialty)
            s.add(row)
            await s.flush()
            out.created += 1
        out[display] = row.id
    return out


async def _visit_types(s: AsyncSession) -> None:
    existing = set((await s.scalars(select(VisitType.code))).all())
    for code, label, minutes in clinic.VISIT_TYPES:
        if code not in existing:
            s.add(VisitType(code=code, label=label, minutes=minutes))


async def _schedules(s: AsyncSession, providers: _ByName, locations: _ByName) -> None:
    existing = {
        (r.provider_id, r.weekday, r.start_time) for r in await s.scalars(select(ProviderSchedule))
    }
    for display, days in clinic.WEEKLY_HOURS.items():
        for weekday, location in days.items():
            for start, end in clinic.BLOCKS:
                if (providers[display], weekday, start) in existing:
                    continue
                s.add(
                    ProviderSchedule(
                        provider_id=providers[display],
                        location_id=locations[location],
                        weekday=weekday,
                        start_time=start,
                        end_time=end,
                        slot_minutes=clinic.SLOT_MINUTES,
                    )
                )
    await s.flush()


async def _slots(s: AsyncSession, today: date) -> int:
    """Slots for the next SLOT_DAYS days from the weekly schedules, skipping existing ones."""
    horizon = today + timedelta(days=clinic.SLOT_DAYS)
    existing = {
        (provider_id, start)
        for provider_id, start in (
            await s.execute(
                select(Slot.provider_id, Slot.start).where(
                    Slot.start >= datetime.combine(today, datetime.min.time())
                )
            )
        ).all()
    }
    schedules = (await s.scalars(select(ProviderSchedule))).all()
    created = 0
    day = today
    while day < horizon:
        for sched in (x for x in schedules if x.weekday == day.weekday()):
            step = timedelta(minutes=sched.slot_minutes)
            start = datetime.combine(day, sched.start_time)
            while start + step <= datetime.combine(day, sched.end_time):
                if (sched.provider_id, start) not in existing:
                    s.add(
                        Slot(
                            provider_id=sched.provider_id,
                            location_id=sched.location_id,
                            start=start,
                            end=start + step,
                        )
                    )
                    created += 1
                start += step
        day += timedelta(days=1)
    await s.flush()
    return created


def _synthetic_patients() -> list[clinic.DemoPatient]:
    rng = random.Random(clinic.RANDOM_SEED)
    taken = {(p.first, p.last) for p in clinic.KEY_PATIENTS}
    people: list[clinic.DemoPatient] = []
    while len(people) < clinic.SYNTHETIC_PATIENTS:
        first, last = rng.choice(clinic.FIRST_NAMES), rng.choice(clinic.LAST_NAMES)
        if (first, last) in taken:
            continue
        taken.add((first, last))
        n = len(people)
        dob = date(1935, 1, 1) + timedelta(days=rng.randrange(80 * 365))
        meds = tuple(
            clinic.DemoMed(m.name, m.strength, rng.choice((0, 1, 2, 3, 5)), m.controlled)
            for m in rng.sample(clinic.MEDICATION_POOL, rng.randrange(0, 4))
        )
        phone = f"+1555010{n + 10:04d}"
        people.append(clinic.DemoPatient(f"DEMO{n + 100:04d}", first, last, dob, (phone,), meds))
    return people


async def _patients(s: AsyncSession) -> tuple[int, int]:
    created = meds_created = 0
    for person in (*clinic.KEY_PATIENTS, *_synthetic_patients()):
        row = await s.scalar(select(Patient).where(Patient.mrn == person.mrn))
        if row is None:
            row = Patient(
                mrn=person.mrn, first_name=person.first, last_name=person.last, dob=person.dob
            )
            row.phones = [PatientPhone(number=n, kind="mobile") for n in person.phones]
            s.add(row)
            await s.flush()
            created += 1
        names = set(await s.scalars(select(Medication.name).where(Medication.patient_id == row.id)))
        for med in person.meds:
            if med.name not in names:
                s.add(
                    Medication(
                        patient_id=row.id,
                        name=med.name,
                        strength=med.strength,
                        refills_left=med.refills_left,
                        controlled=med.controlled,
                    )
                )
                meds_created += 1
    await s.flush()
    return created, meds_created


# (patient MRN, provider, days from today); each books the first free slot from that day.
_APPOINTMENTS = (
    ("DEMO0001", "Dr. Nguyen", 7),
    ("DEMO0002", "Dr. Patel", 3),
    ("DEMO0003", "Dr. Okafor", 10),
    ("DEMO0100", "Dr. Schmidt", 2),
    ("DEMO0101", "Dr. Nguyen", 1),
)


async def _appointments(s: AsyncSession, today: date, providers: _ByName) -> int:
    created = 0
    for mrn, display, days in _APPOINTMENTS:
        patient_id = await s.scalar(select(Patient.id).where(Patient.mrn == mrn))
        if patient_id is None:
            continue
        seeded = await s.scalar(
            select(Appointment.id).where(
                Appointment.patient_id == patient_id,
                Appointment.booked_by_call_id == SEED_CALL_ID,
            )
        )
        if seeded is not None:
            continue
        slot = await s.scalar(
            select(Slot)
            .where(
                Slot.provider_id == providers[display],
                Slot.status == "free",
                Slot.start >= datetime.combine(today + timedelta(days=days), datetime.min.time()),
            )
            .order_by(Slot.start)
            .limit(1)
        )
        if slot is None:
            continue
        slot.status = "booked"
        s.add(
            Appointment(
                patient_id=patient_id,
                provider_id=slot.provider_id,
                location_id=slot.location_id,
                slot_id=slot.id,
                start=slot.start,
                end=slot.end,
                visit_type="follow_up",
                status="booked",
                booked_by_call_id=SEED_CALL_ID,
            )
        )
        created += 1
    await s.flush()
    return created


async def _queues(s: AsyncSession) -> int:
    existing = set((await s.scalars(select(CallQueue.name))).all())
    new = [CallQueue(name=n, skills=list(k)) for n, k in clinic.QUEUES if n not in existing]
    s.add_all(new)
    return len(new)


async def _agents(s: AsyncSession, first_port: int) -> int:
    existing = set((await s.scalars(select(Agent.username))).all())
    created = 0
    for n, (username, name, role, skills) in enumerate(clinic.STAFF):
        if username in existing:
            continue
        s.add(
            Agent(
                name=name,
                username=username,
                password_hash=hash_password(f"{username}-demo"),
                role=role,
                skills=list(skills),
                presence="offline",
                sip_uri=f"sip:{username}@{clinic.SIP_HOST}:{first_port + n}",
                may_publish=username in clinic.PUBLISHERS,
            )
        )
        created += 1
    return created
