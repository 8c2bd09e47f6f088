"""One transaction per service call: commit when the body succeeds, roll back when it raises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession


@asynccontextmanager
async def atomic(s: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Run the body as one unit: nothing it wrote survives an exception."""
    try:
        yield s
    except BaseException:
        await s.rollback()
        raise
    await s.commit()
