"""Whether a store holds the demo clinic or a clinic's own data, and keeping the two apart.

The demo clinic's staff sign in with published passwords (`<username>-demo`). Those accounts
must never stand beside real patients: `seed --demo` refuses a clinic's store, importing
patients refuses the demo's, and the console refuses a demo password outside demo mode.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import ConfigError
from integrations.services.transaction import atomic
from integrations.store.models import StoreMeta

Mode = Literal["demo", "clinic"]


async def store_mode(s: AsyncSession) -> Mode | None:
    """The store's mode, or None for a store nothing has been loaded into yet."""
    async with atomic(s):
        row = await s.get(StoreMeta, "mode")
        return None if row is None else ("demo" if row.value == "demo" else "clinic")


async def claim_mode(s: AsyncSession, mode: Mode) -> None:
    """Mark the store as `mode`; a store already in the other mode is refused."""
    current = await store_mode(s)
    if current == mode:
        return
    if current is not None:
        if mode == "demo":
            raise ConfigError(
                "this store holds a clinic's data: the demo clinic (whose staff passwords are "
                "public) is only loaded into a store of its own (--db)"
            )
        raise ConfigError(
            "this store holds the demo clinic, whose staff passwords are public: load a "
            "clinic's patients into a new store (--db) instead"
        )
    async with atomic(s):
        s.add(StoreMeta(name="mode", value=mode))
