"""The Rasa server inside `clinicline serve`: train if needed, start, health-gate, supervise.

Calls are routed to Rasa only while `/status` answers with a loaded model; the gate flips
back to the keypad fallback whenever it stops answering (killed, restarting, hung).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import IO

from clinicline.config import Config
from clinicline.errors import StartupError
from clinicline.health import Health, State
from dialogs.client import RasaClient
from dialogs.errors import DialogError
from dialogs.server import RasaServer
from dialogs.train import ensure_model

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0


class DialogsSupervisor:
    """Owns the Rasa server process and the `available` gate the conversations read."""

    def __init__(self, config: Config, health: Health) -> None:
        self.config = config
        self.health = health
        self.client = RasaClient(f"http://127.0.0.1:{config.rasa_port}", timeout=8.0)
        self.server: RasaServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._available = False
        self._warmed = False

    async def _warm_up(self) -> None:
        """The first turns after a model loads are slow (TensorFlow builds its graphs):
        take that hit here rather than on a caller's first sentence."""
        warm = RasaClient(self.client.base_url, timeout=120.0)
        try:
            await warm.parse("hello")
            await warm.send(f"warm-up-{id(self)}", "hello", {"warm_up": True})
        except DialogError as exc:
            log.warning("dialogs warm-up failed: %s", exc)
        finally:
            await warm.close()
        self._warmed = True

    @property
    def available(self) -> bool:
        return self._available

    def start(self) -> None:
        self.health.set("dialogs", State.STARTING, "training or loading the Rasa model")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dialogs")

    async def _run(self) -> None:
        try:
            model = await asyncio.to_thread(ensure_model, self.config.dialogs_dir)
        except DialogError as exc:
            log.error("dialog model unavailable: %s", exc)
            self.health.set("dialogs", State.DOWN, "model training failed; keypad fallback")
            return
        action_url = f"http://{self.config.http.host}:{self.config.http.port}/webhook"
        self.server = RasaServer(
            model,
            port=self.config.rasa_port,
            action_url=action_url,
            run_dir=self.config.data_dir / "rasa",
        )
        await self.server.start()
        self.health.set("dialogs", State.DEGRADED, "Rasa loading; keypad fallback meanwhile")
        while True:
            # Only our own Rasa counts: whatever else answers on its port is not it.
            up = self.server.running and await self.client.ready()
            if up and not self._warmed:
                await self._warm_up()
            elif not up:
                self._warmed = False  # a restarted server loads its model afresh
            if up != self._available:
                log.info("dialogs %s", "available" if up else "unavailable: keypad fallback")
            self._available = up
            state, detail = dialogs_state(self.server, up)
            self.health.set("dialogs", state, detail, restarts=self.server.restarts)
            await asyncio.sleep(POLL_SECONDS)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.server is not None:
            await self.server.stop()
        await self.client.close()


def dialogs_state(server: RasaServer, answering: bool) -> tuple[State, str]:
    """What /health says of the dialogs: up only while our own Rasa process answers."""
    if answering:
        return State.UP, f"rasa on 127.0.0.1:{server.port}"
    if not server.running:
        why = server.waiting_reason or "Rasa is not running"
        return State.DOWN, f"{why} (restarts: {server.restarts}); keypad fallback"
    if server.restarts:
        return State.DOWN, f"Rasa restarting (restarts: {server.restarts}); keypad fallback"
    return State.DEGRADED, "Rasa loading; keypad fallback meanwhile"


async def parse_lines(config: Config, stdin: IO[str], stdout: IO[str]) -> int:
    """`clinicline nlu --jsonl`: parse each line with the real Rasa server.

    Uses a server already listening on the configured port, or starts one for the run.
    """
    client = RasaClient(f"http://127.0.0.1:{config.rasa_port}", timeout=30.0)
    server: RasaServer | None = None
    try:
        if not await client.ready():
            model = await asyncio.to_thread(ensure_model, config.dialogs_dir)
            server = RasaServer(
                model,
                port=config.rasa_port,
                action_url="http://127.0.0.1:9/webhook",
                run_dir=Path(config.data_dir) / "rasa-nlu",
            )
            await server.start()
            try:
                await server.wait_ready()
            except DialogError as exc:
                raise StartupError(str(exc)) from exc
        for line in stdin:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            parsed = await client.parse(text)
            intent = parsed.get("intent") or {}
            stdout.write(
                json.dumps(
                    {
                        "text": text,
                        "intent": intent.get("name"),
                        "confidence": round(float(intent.get("confidence") or 0.0), 4),
                        "entities": [
                            {
                                "entity": e.get("entity"),
                                "value": e.get("value"),
                                "start": e.get("start"),
                                "end": e.get("end"),
                            }
                            for e in parsed.get("entities") or []
                        ],
                    }
                )
                + "\n"
            )
            stdout.flush()
        return 0
    finally:
        if server is not None:
            await server.stop()
        await client.close()
