"""A second app process for the shared-state tests: the console over an existing store.

`python -m tests.console.app_process DB_URL [SCHEMA]` serves the console on a free loopback port,
prints `ready <port>` once it listens, and runs until its stdin closes. It shares nothing
with the test process but the store, as a second app host would.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web

from clinicline.web.app import guarded_app
from clinicline.web.console import WebSocketHub, setup_console
from clinicline.web.console.bus import ConsoleBus
from integrations.store import Database
from routing.hours import BusinessHours
from routing.transfer import TransferCoordinator


async def serve(url: str, schema: str | None) -> None:
    # The data key comes from CLINICLINE_DATA_KEY, as in production.
    db = await Database.connect(url, schema=schema)
    hub = WebSocketHub(db, ConsoleBus.for_store(db))
    await hub.start()
    coordinator = TransferCoordinator(db, hub, hours=BusinessHours.default())
    hub.on_answer = coordinator.answer_from_elsewhere
    app = guarded_app(trusted_proxies=("127.0.0.1",))
    setup_console(app, db, hub, coordinator)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"ready {runner.addresses[0][1]}", flush=True)
    try:
        # Until the test closes our stdin (or dies, which closes it too).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await runner.cleanup()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
