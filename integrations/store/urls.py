"""Store URLs as operators write them, turned into the ones the store's async engine takes.

Apart from the store itself: the settings check every URL, and importing SQLAlchemy to do it
cost each `clinicline` process (a test phone, `calls show`) 0.45 s of start-up.
"""

from __future__ import annotations

import re

from integrations.errors import ConfigError

DEFAULT_URL = "sqlite+aiosqlite:///var/clinicline.db"
# The async driver for each backend people name in a URL. `sqlite:///…` and `postgresql://…`
# (or `postgres://…`, as Heroku-style tools write it) are what operators type; SQLAlchemy's
# async engine needs the driver spelled out, and a sync one (psycopg2, pysqlite) would fail
# at the first query.
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg", "postgres": "asyncpg"}
# A URL's scheme, as SQLAlchemy reads one: backend[+driver]://
_SCHEME = re.compile(r"(?P<backend>\w+)(?:\+\w+)?://")


def store_url(url: str) -> str:
    """`url` with the async driver this store uses: `sqlite:///x.db` → `sqlite+aiosqlite:///x.db`,
    `postgresql://…` or `postgres://…` → `postgresql+asyncpg://…`; anything else is refused."""
    written = url.strip()
    scheme = _SCHEME.match(written)
    if scheme is None:
        raise ConfigError(
            f"store URL {url!r} is not a database URL: write sqlite:///path/to/file.db "
            "or postgresql://user:password@host:5432/name"
        )
    backend = scheme["backend"]
    driver = ASYNC_DRIVERS.get(backend)
    if driver is None:
        raise ConfigError(f"unsupported database {backend!r}: use sqlite or postgresql")
    backend = "postgresql" if backend == "postgres" else backend
    # Only the scheme changes: re-rendering a parsed URL would re-quote the rest.
    return f"{backend}+{driver}://{written[scheme.end():]}"
