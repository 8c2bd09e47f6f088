"""`Database`: the async engine, session factory, schema creation and Alembic migrations."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from integrations.errors import ConfigError, StoreError
from integrations.store.crypto import Cipher, resolve_keys, session_info
from integrations.store.models import Base

DEFAULT_URL = "sqlite+aiosqlite:///var/clinicline.db"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
log = logging.getLogger(__name__)


class Database:
    """One clinic database: build it with `await Database.connect(url)`."""

    def __init__(self, engine: AsyncEngine, cipher: Cipher) -> None:
        self.engine = engine
        self.cipher = cipher
        self._sessions = async_sessionmaker(
            engine, expire_on_commit=False, info=session_info(cipher)
        )

    @classmethod
    async def connect(
        cls,
        url: str = DEFAULT_URL,
        encryption_key: bytes | None = None,
        *,
        schema: str | None = None,
    ) -> Database:
        """Open the database at `url`; the data key is resolved as described in `crypto.py`.

        `schema` (PostgreSQL only) puts every table in that schema, e.g. one per clinic.
        """
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ConfigError(f"unsupported database {backend!r}: use sqlite or postgresql")
        if schema and backend != "postgresql":
            raise ConfigError("a schema can only be chosen on PostgreSQL")
        cipher = Cipher(resolve_keys(url, encryption_key))
        kwargs: dict[str, Any] = {}
        if backend == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # Writers wait for each other instead of failing at once with "database is locked".
            kwargs["connect_args"] = {"timeout": 15}
        else:
            kwargs["pool_pre_ping"] = True
            if schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        engine = create_async_engine(url, **kwargs)
        if backend == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        log.info("database connected", extra={"backend": backend})
        return cls(engine, cipher)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for one unit of work; services commit or roll back themselves."""
        async with self._sessions() as s:
            yield s

    async def create_all(self) -> None:
        """Create every table straight from the models (tests, throwaway databases)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` with Alembic, on this database's own connection.

        SQLite alters a table by copying it and dropping the old one; with foreign keys on,
        that drop would cascade into every child table (dropping `calls` empties
        `call_turns`). So on SQLite the migration runs with them off — SQLite's own recipe —
        is checked with `foreign_key_check` before it commits, and its connection is thrown
        away afterwards rather than returned to the pool with the checks off.
        """
        async with self.engine.connect() as conn:
            sqlite = self.backend == "sqlite"
            if sqlite:
                # Before any write: SQLite ignores this pragma inside a transaction.
                await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                await conn.run_sync(_upgrade, revision)
                if sqlite:
                    broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise StoreError(f"migration left {len(broken)} dangling references")
                await conn.commit()
            finally:
                if sqlite:
                    await conn.invalidate()

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config that needs no alembic.ini: migrations live inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the web app read while a voice worker writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
