"""The seeded demo clinic that routing and console tests share: one fixed open Monday."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

from cryptography.fernet import Fernet

from integrations.seed.demo import seed_demo
from integrations.store import Database

# A fixed Monday far from the real clock: the clinic is open at 10:00 and closed at 20:00.
MONDAY = date(2031, 3, 3)
OPEN_NOW = datetime.combine(MONDAY, time(10, 0))
CLOSED_NOW = datetime.combine(MONDAY, time(20, 0))
DATA_KEY = Fernet.generate_key()


async def write_demo_template(path: Path) -> Path:
    """A migrated demo clinic seeded for MONDAY in the SQLite file `path` (tests copy it)."""
    db = await Database.connect(f"sqlite+aiosqlite:///{path}", DATA_KEY)
    try:
        await db.migrate()
        await seed_demo(db, MONDAY)
    finally:
        await db.dispose()
    return path
