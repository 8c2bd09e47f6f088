"""The seeded demo clinic that routing and console tests share: one fixed open Monday."""

from __future__ import annotations

from datetime import date, datetime, time

from cryptography.fernet import Fernet

# A fixed Monday far from the real clock: the clinic is open at 10:00 and closed at 20:00.
MONDAY = date(2031, 3, 3)
OPEN_NOW = datetime.combine(MONDAY, time(10, 0))
CLOSED_NOW = datetime.combine(MONDAY, time(20, 0))
DATA_KEY = Fernet.generate_key()
