"""The clinic's store: `Database` (engine, sessions, migrations) and the ORM models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations.store.urls import DEFAULT_URL

if TYPE_CHECKING:
    from integrations.store.database import Database

__all__ = ["DEFAULT_URL", "Database"]


def __getattr__(name: str) -> Any:
    # `Database` loads SQLAlchemy (0.45 s); a process that only checks a store URL (every
    # `clinicline` command reads its settings) imports the package without paying for it.
    if name == "Database":
        from integrations.store.database import Database

        return Database
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
