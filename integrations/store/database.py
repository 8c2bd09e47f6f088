"""`Database`: the async engine, session factory, schema creation and Alembic migrations."""

from __future__ import annotations

import base64
import functools
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from integrations.errors import ConfigError, StoreError
from integrations.store import indexes  # noqa: F401  (registers the blind-index hook)
from integrations.store.crypto import (
    Cipher,
    attach,
    create_private,
    keep_private,
    resolve_keys,
    session_info,
)
from integrations.store.models import Base, StoreMeta
from integrations.store.urls import DEFAULT_URL, store_url

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

INDEX_KEY = "index_key"  # the store_meta row holding the blind-index key, encrypted
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
log = logging.getLogger(__name__)


def insert_for(dialect: str) -> Any:
    """The INSERT construct with ON CONFLICT for this backend (`sqlite` or `postgresql`):
    the two dialects spell upserts alike, but each needs its own construct."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


class Database:
    """One clinic database: build it with `await Database.connect(url)`."""

    def __init__(self, engine: AsyncEngine, cipher: Cipher, schema: str | None = None) -> None:
        self.engine = engine
        self.cipher = cipher
        self.schema = schema
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
        url = store_url(url)
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if schema and backend != "postgresql":
            raise ConfigError("a schema can only be chosen on PostgreSQL")
        cipher = Cipher(resolve_keys(url, encryption_key))
        kwargs: dict[str, Any] = {}
        if backend == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_sqlite_files(Path(parsed.database))
            # Writers wait for each other instead of failing at once with "database is locked".
            kwargs["connect_args"] = {"timeout": 15}
        else:
            kwargs["pool_pre_ping"] = True
            if schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        engine = create_async_engine(url, **kwargs)
        attach(engine.dialect, cipher)
        if backend == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        log.info("database connected", extra={"backend": backend})
        return cls(engine, cipher, schema)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for one unit of work; services commit or roll back themselves."""
        if self.cipher.index_key is None:
            await self._load_index_key()
        async with self._sessions() as s:
            yield s

    async def _load_index_key(self) -> None:
        """The blind-index key from `store_meta`, made on first use (see `crypto.py`). Before
        the schema exists there is none to load: lookups will say so if one is needed."""
        try:
            async with self.engine.begin() as conn:
                self.cipher.index_key = await conn.run_sync(ensure_index_key, self.cipher)
        except DBAPIError:
            return

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
        if revision == "head" and await self._at_head():
            return
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

    async def _at_head(self) -> bool:
        """Whether the schema is already at the newest revision. Most processes open a store
        that is (a server restarting, `calls show`); for them Alembic is not loaded at all."""
        try:
            async with self.engine.connect() as conn:
                rows = await conn.exec_driver_sql("SELECT version_num FROM alembic_version")
                current = {row[0] for row in rows}
        except DBAPIError:  # no such table: a new store
            return False
        return bool(current) and current == head_revisions()

    async def dispose(self) -> None:
        await self.engine.dispose()


_REVISION = re.compile(r"^revision\b[^=]*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=]*=(.*)$", re.MULTILINE)


@functools.cache
def head_revisions() -> frozenset[str]:
    """The revisions no migration builds on (Alembic's heads), read from the scripts' text."""
    revisions: set[str] = set()
    built_on: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        if (revision := _REVISION.search(text)) is not None:
            revisions.add(revision[1])
        if (down := _DOWN_REVISION.search(text)) is not None:
            built_on.update(re.findall(r"[\"']([^\"']+)[\"']", down[1]))
    return frozenset(revisions - built_on)


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An Alembic config that needs no alembic.ini: migrations live inside the package."""
    from alembic.config import Config  # 0.7 s to import: only a process that migrates pays

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def ensure_index_key(connection: Connection, cipher: Cipher) -> bytes:
    """Read the store's blind-index key, creating it if the store has none yet (two processes
    racing: the first insert wins and both read it). Used by `Database` and by migrations."""
    table = StoreMeta.__table__  # Core, not ORM: migrations run this on a bare connection
    query = select(table.c.value).where(table.c.name == INDEX_KEY)
    stored = connection.scalar(query)
    if stored is None:
        insert = insert_for(connection.dialect.name)
        fresh = cipher.encrypt(base64.b64encode(os.urandom(32))).decode()
        connection.execute(insert(table).values(name=INDEX_KEY, value=fresh)  # type: ignore[arg-type]
                           .on_conflict_do_nothing(index_elements=["name"]))
        stored = connection.scalar(query)
    return base64.b64decode(cipher.decrypt(str(stored).encode()))


def _private_sqlite_files(path: Path) -> None:
    """The database file and its journal files are readable by the service user only; its
    folder is made owner-only when we create it."""
    create_private(path)
    for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        keep_private(companion)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the web app read while a voice worker writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
