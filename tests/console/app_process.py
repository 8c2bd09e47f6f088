"""A second app process for the shared-state tests: the console over an existing store.

`python -m tests.console.app_process DB_URL [SCHEMA]` serves the console on a free loopback port,
prints `ready <port>` once it listens, and runs until its stdin closes. It shares nothing
with the test process but the store, as a second app host would.
"""

from __future__ import annotations

import asyncio
import sys

from clinicline.web.console import WebSocketHub
from clinicline.web.console.bus import ConsoleBus
from integrations.store import Database
from routing.hours import BusinessHours
from routing.transfer import TransferCoordinator
from tests.console.conftest import console_on_loopback


async def serve(url: str, schema: str | None) -> None:
    # The data key comes from CLINICLINE_DATA_KEY, as in production.
    db = await Database.connect(url, schema=schema)
    hub = WebSocketHub(db, ConsoleBus.for_store(db))
    await hub.start()
    coordinator = TransferCoordinator(db, hub, hours=BusinessHours.default())
    try:
        async with console_on_loopback(db, hub, coordinator) as (_app, base):
            print(f"ready {base.rsplit(':', 1)[1]}", flush=True)
            # Until the test closes our stdin (or dies, which closes it too).
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
