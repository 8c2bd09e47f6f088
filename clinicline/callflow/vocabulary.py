"""Words the recogniser should expect, from the clinic's own data.

Whisper spells rare words right when they are in its prompt: the clinic's providers and
medications for every call, and for one call the names and medications of the patients on
file for the caller's number (caller ID narrows what to listen for; it never verifies).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import select

from integrations.services.identity import patients_by_number
from integrations.services.refills import active_medications
from integrations.store import Database
from integrations.store.models import Medication, Provider

CLINIC_WORDS_MAX = 40


async def clinic_vocabulary(db: Database, extra: Sequence[str] = ()) -> list[str]:
    """Providers, then the most prescribed active medications."""
    async with db.session() as s:
        providers = list(await s.scalars(select(Provider.display_name)))
        meds = Counter(
            name.split()[0].lower()
            for name in await s.scalars(select(Medication.name).where(Medication.active))
        )
    words = [*extra, *providers, *(name for name, _ in meds.most_common())]
    return list(dict.fromkeys(w for w in words if w))[:CLINIC_WORDS_MAX]


async def caller_hints(
    db: Database, caller_number: str | None
) -> tuple[list[str], list[str]]:
    """(names, medications) of the patients on file for this number (often none)."""
    if not caller_number:
        return [], []
    async with db.session() as s:
        patients = await patients_by_number(s, caller_number)
        names: list[str] = []
        medications: list[str] = []
        for patient in patients[:4]:
            names.append(patient.display_name)
            medications.extend(m.name for m in await active_medications(s, patient.patient_id))
    return list(dict.fromkeys(names)), list(dict.fromkeys(medications))


async def patient_hints(db: Database, patient_id: int) -> list[str]:
    async with db.session() as s:
        return [m.name for m in await active_medications(s, patient_id)]
