"""Blind indexes kept in step with the encrypted values they stand for, on every flush.

`Patient.dob_index` and `PatientPhone.number_index` are what queries compare (see
`crypto.Cipher.blind`); they are computed here from the plaintext the ORM still holds before
it is encrypted on its way to the database, so no service can forget one.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from integrations.store.crypto import Cipher, cipher_of
from integrations.store.models import Patient, PatientPhone


def dob_key(cipher: Cipher, dob: date) -> str:
    return cipher.blind(dob.isoformat())


def number_key(cipher: Cipher, number: str) -> str:
    return cipher.blind(number)


@event.listens_for(Session, "before_flush")
def _fill_blind_indexes(session: Session, _context: Any, _instances: Any) -> None:
    changed = [*session.new, *session.dirty]
    if not any(isinstance(o, Patient | PatientPhone) for o in changed):
        return
    cipher = cipher_of(session)
    for obj in changed:
        if isinstance(obj, Patient) and obj.dob is not None:
            obj.dob_index = dob_key(cipher, obj.dob)
        elif isinstance(obj, PatientPhone) and obj.number is not None:
            obj.number_index = number_key(cipher, obj.number)
