"""The clinic's store: `Database` (engine, sessions, migrations) and the ORM models."""

from integrations.store.database import DEFAULT_URL, Database

__all__ = ["DEFAULT_URL", "Database"]
