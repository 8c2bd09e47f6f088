"""The Rasa server inside `clinicline serve`: train if needed, start, health-gate, supervise.

Calls are routed to Rasa only while `/status` answers with a loaded model; the gate flips
back to the keypad fallback whenever it stops answering (killed, restarting, hung).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from clinicline.config import Config
from clinicline.errors import StartupError
from clinicline.flows.training import additions_of, published_training
from clinicline.health import Health, State
from clinicline.web.action_site import ActionEndpoint
from dialogs.client import RasaClient
from dialogs.errors import DialogError
from dialogs.inside_rasa.launch import TRACKER_KEY_ENV, TRACKER_URL_ENV
from dialogs.server import RasaServer, free_loopback_port
from dialogs.train import ensure_model
from dialogs.training_data import Additions, lay_out
from integrations.services import site_turns
from integrations.store import Database
from integrations.store.crypto import resolve_keys
from integrations.store.urls import store_url

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
# After a swap, the old server stays this long: answers it owes calls still arrive.
SWAP_GRACE = 12.0
# A published model that would not load is tried again after this long.
SWAP_RETRY = 300.0
# One worker of the site at a time loads a newly published model (a second Rasa beside its
# first: twice the memory, the cores busy for a minute); the others wait their turn. The turn
# is renewed every `SWAP_TURN_RENEW` while the swap runs, and lapses `SWAP_TURN_LEASE` after a
# holder that died stopped renewing it.
SWAP_TURN = "dialogs-model-swap"
SWAP_TURN_LEASE = timedelta(seconds=60)
SWAP_TURN_RENEW = 15.0


def tracker_store_env(config: Config) -> dict[str, str]:
    """Where Rasa keeps its conversations, for its environment: the site's PostgreSQL store,
    or for a SQLite store (one process, one Rasa) a file of its own beside it (`x.db` →
    `x-trackers.db`), so that Rasa's writes never lock the app's database. Encrypted under
    the store's own data key."""
    url = make_url(store_url(config.db))
    if url.get_backend_name() == "postgresql":
        sync = url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    elif url.database and url.database != ":memory:":
        database = Path(url.database).resolve()
        sync = f"sqlite:///{database.with_name(database.stem + '-trackers.db')}"
    else:
        sync = f"sqlite:///{Path(config.data_dir).resolve() / 'dialog-trackers.db'}"
    keys = b",".join(resolve_keys(store_url(config.db), None)).decode()
    return {TRACKER_URL_ENV: sync, TRACKER_KEY_ENV: keys}


def rasa_token(config: Config) -> str:
    """The configured token of Rasa's API and channel, or a fresh one for this run."""
    return config.rasa_token or secrets.token_urlsafe(32)


class DialogsSupervisor:
    """Owns the Rasa server process and the `available` gate the conversations read.

    With a store, it also follows the published version of the clinic's training phrasings
    (`clinicline.flows.training`): a new one is served by a second Rasa started beside the
    first with that model; once it answers and is warmed up, the conversations' client turns
    to it and the old server stops after `SWAP_GRACE` (its last answers still arrive).
    Conversations live in the shared tracker store, so a call under way goes on, on the new
    model from its next turn; no call waits on a model loading. The workers of a site swap one
    at a time (the store's turn `SWAP_TURN`), so the others keep their cores for the calls.
    """

    def __init__(
        self, config: Config, health: Health, actions: ActionEndpoint, db: Database | None = None
    ) -> None:
        self.config = config
        self.health = health
        self.actions = actions
        self.db = db
        self.token = rasa_token(config)
        self.client = RasaClient(
            f"http://127.0.0.1:{config.rasa_port}", token=self.token, timeout=8.0
        )
        self.server: RasaServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._swap: asyncio.Task[None] | None = None
        self._available = False
        self._warmed = False
        self._shipped: Path | None = None
        # The published training version in use (None: the shipped phrasings), and a model
        # that would not load, not tried again until `SWAP_RETRY` has passed.
        self.version: int | None = None
        self._failed: tuple[str, float] | None = None
        # Who holds the site's swap turn while this worker waits for it (said once in the log).
        self._waiting_for: str | None = None

    async def _warm_up(self, base_url: str) -> None:
        """The first turns after a model loads are slow (TensorFlow builds its graphs):
        take that hit here rather than on a caller's first sentence."""
        warm = RasaClient(base_url, token=self.token, timeout=120.0)
        try:
            await warm.parse("hello")
            await warm.send(f"warm-up-{id(self)}", "hello", {"warm_up": True})
        except DialogError as exc:
            log.warning("dialogs warm-up failed: %s", exc)
        finally:
            await warm.close()

    @property
    def available(self) -> bool:
        return self._available

    def start(self) -> None:
        self.health.set("dialogs", State.STARTING, "training or loading the Rasa model")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dialogs")

    def _new_server(self, model: Path, port: int) -> RasaServer:
        return RasaServer(
            model,
            port=port,
            action_url=self.actions.url,
            nlg_url=self.actions.nlg_url,
            # One folder per Rasa port: several workers on one machine each run their own.
            run_dir=self.config.data_dir / "rasa" / f"port-{port}",
            api_token=self.token,
            action_token=self.actions.token,
            tracker_env=tracker_store_env(self.config),
        )

    async def _run(self) -> None:
        try:
            self._shipped = await asyncio.to_thread(ensure_model, self.config.dialogs_dir)
            model = await self._start_model()
        except DialogError as exc:
            log.error("dialog model unavailable: %s", exc)
            self.health.set("dialogs", State.DOWN, "model training failed; keypad fallback")
            return
        self.server = self._new_server(model, self.config.rasa_port)
        await self.server.start()
        self.health.set("dialogs", State.DEGRADED, "Rasa loading; keypad fallback meanwhile")
        while True:
            # Only our own Rasa counts: whatever else answers on its port is not it.
            up = self.server.running and await self.client.ready()
            if up and not self._warmed:
                await self._warm_up(self.client.base_url)
                self._warmed = True
            elif not up:
                self._warmed = False  # a restarted server loads its model afresh
            if up != self._available:
                log.info("dialogs %s", "available" if up else "unavailable: keypad fallback")
            self._available = up
            state, detail = dialogs_state(self.server, up)
            self.health.set("dialogs", state, detail, restarts=self.server.restarts)
            if up and (self._swap is None or self._swap.done()):
                await self._follow_published()
            await asyncio.sleep(POLL_SECONDS)

    async def _start_model(self) -> Path:
        """The published version's model; the shipped one when the store cannot say."""
        assert self._shipped is not None
        try:
            version, name, added = await self._wanted()
            model = await self._model_file(version, name, added)
        except Exception as exc:
            log.warning("dialogs: starting on the shipped model (%s)", type(exc).__name__)
            return self._shipped
        self.version = version
        return model

    async def _wanted(self) -> tuple[int | None, str, Additions]:
        """(the published version, its model's file name, its phrasings); the shipped model's
        when nothing is published or the version has no phrasings of its own."""
        assert self._shipped is not None
        if self.db is None:
            return None, self._shipped.name, {}
        async with self.db.session() as s:
            row = await published_training(s)
        if row is None or not row.edits or not row.model:
            return (row.id if row is not None else None), self._shipped.name, {}
        return row.id, f"{row.model}.tar.gz", additions_of(row)

    async def _model_file(self, version: int | None, name: str, added: Additions) -> Path:
        """The model file NAME, trained here first if this machine lacks it, fine-tuned from
        the shipped model as the console's training does (the same phrasings give the same
        file name on every machine)."""
        models = self.config.dialogs_dir / "models"
        if not added or (models / name).exists():
            return models / name
        log.info("dialogs: training the published version %s's model here", version)
        project = await asyncio.to_thread(
            lay_out, added, self.config.data_dir / "training" / f"published-{version}",
            self.config.dialogs_dir,
        )  # fmt: skip
        return await asyncio.to_thread(ensure_model, project, models, None, self._shipped)

    async def _follow_published(self) -> None:
        try:
            version, name, added = await self._wanted()
        except Exception as exc:  # the store down: keep the model in use
            log.warning("dialogs: keeping the model in use (%s)", type(exc).__name__)
            return
        assert self.server is not None
        if name == self.server.model.name:
            return
        if (
            self._failed
            and self._failed[0] == name
            and (time.monotonic() - self._failed[1] < SWAP_RETRY)
        ):
            return
        if not await self._take_swap_turn(version):
            return  # another worker is swapping: asked again at the next poll
        self._swap = asyncio.get_running_loop().create_task(
            self._swap_in_turn(version, name, added), name="swap"
        )

    @property
    def holder(self) -> str:
        """This worker's name for the site's swap turn."""
        return self.config.worker_name

    async def _take_swap_turn(self, version: int | None) -> bool:
        if self.db is None:  # no store, no other worker
            return True
        try:
            async with self.db.session() as s:
                now = datetime.now(UTC)
                holder = await site_turns.take(
                    s, SWAP_TURN, self.holder, now=now, lease=SWAP_TURN_LEASE
                )
        except Exception as exc:  # the store down: keep the model in use
            log.warning("dialogs: keeping the model in use (%s)", type(exc).__name__)
            return False
        if holder == self.holder:
            self._waiting_for = None
            return True
        if holder != self._waiting_for:
            log.info("dialogs: version %s waits its turn: %s is swapping its model",
                     version, holder or "another worker")  # fmt: skip
            self._waiting_for = holder
        return False

    async def _swap_in_turn(self, version: int | None, name: str, added: Additions) -> None:
        """`_swap_to` while holding the site's swap turn, renewed as it runs; given back when
        the old server has stopped (or the swap failed), so the next worker starts at once."""
        db = self.db
        if db is None:  # no store, no turn
            await self._swap_to(version, name, added)
            return
        renewing = asyncio.get_running_loop().create_task(self._renew_swap_turn(db))
        try:
            await self._swap_to(version, name, added)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            try:
                async with db.session() as s:
                    await site_turns.give_back(s, SWAP_TURN, self.holder)
            except Exception as exc:  # the turn lapses on its own
                log.warning("dialogs: swap turn not given back (%s)", type(exc).__name__)

    async def _renew_swap_turn(self, db: Database) -> None:
        while True:
            await asyncio.sleep(SWAP_TURN_RENEW)
            try:
                async with db.session() as s:
                    holder = await site_turns.take(
                        s, SWAP_TURN, self.holder, now=datetime.now(UTC), lease=SWAP_TURN_LEASE
                    )
            except Exception as exc:  # tried again at the next renewal
                log.warning("dialogs: swap turn not renewed (%s)", type(exc).__name__)
                continue
            # Lapsed while the store was away: this swap still finishes.
            if holder != self.holder:
                log.warning("dialogs: the swap turn lapsed and another worker took it")

    async def _swap_to(self, version: int | None, name: str, added: Additions) -> None:
        assert self.server is not None
        try:
            model = await self._model_file(version, name, added)
        except Exception as exc:  # training failed here: keep the model in use
            log.warning("dialogs: no model for version %s (%s)", version, type(exc).__name__)
            self._failed = (name, time.monotonic())
            return
        port = free_loopback_port()
        fresh = self._new_server(model, port)
        log.info("dialogs: starting Rasa with %s on port %s", model.name, port)
        await fresh.start()
        try:
            await fresh.wait_ready()
        except DialogError as exc:
            log.warning("dialogs: %s did not load (%s); keeping %s", model.name, exc,
                        self.server.model.name)  # fmt: skip
            self._failed = (name, time.monotonic())
            await fresh.stop()
            return
        await self._warm_up(fresh.base_url)
        old, self.server = self.server, fresh
        self.client.base_url, self.version = fresh.base_url, version
        log.info("dialogs: model %s in use (version %s)", model.name, version)
        await asyncio.sleep(SWAP_GRACE)
        await old.stop()

    async def stop(self) -> None:
        for task in (self._task, self._swap):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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

    Uses a server already listening on the configured port when it accepts the configured
    `rasa_token`, or starts one for the run.
    """
    token = rasa_token(config)
    client = RasaClient(f"http://127.0.0.1:{config.rasa_port}", token=token, timeout=30.0)
    server: RasaServer | None = None
    try:
        if await client.status() == 401:
            raise StartupError(
                f"the Rasa server on port {config.rasa_port} holds another token: set "
                "CLINICLINE_RASA_TOKEN to its token, or choose another --rasa-port"
            )
        if not await client.ready():
            model = await asyncio.to_thread(ensure_model, config.dialogs_dir)
            server = RasaServer(
                model,
                port=config.rasa_port,
                # Parsing runs no action: the endpoint is a closed port.
                action_url="http://127.0.0.1:9/webhook",
                run_dir=Path(config.data_dir) / "rasa-nlu",
                api_token=token,
                action_token=secrets.token_urlsafe(32),
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
