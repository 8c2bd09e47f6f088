"""`clinicline serve`: wire the store, speech, triage, dialogs, web app and voice worker.

Start order is chosen so calls can be taken as early as possible: the web app first (so
`/health` answers `starting`), then the store, the speech models and the worker. The Rasa
server takes ~45 s to load; until it answers, callers get the keypad menu and a human
(`/health` says `degraded`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field

from aiohttp import web

from clinicline.callflow.echo import EchoConversation
from clinicline.callflow.recorder import StoreRecorder
from clinicline.config import Config
from clinicline.errors import StartupError
from clinicline.health import Health, State
from clinicline.speech import load_speech
from clinicline.web.app import create_app
from integrations.store import Database
from nlu.triage import TriageEngine
from voice.session.actions import CallInfo
from voice.session.call_session import SessionConfig
from voice.session.conversation import Conversation
from voice.worker import VoiceWorker

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything long-lived the server holds; handlers reach it through the web app."""

    config: Config
    health: Health
    db: Database | None = None
    triage: TriageEngine | None = None
    recorder: StoreRecorder | None = None
    worker: VoiceWorker | None = None
    extras: dict[str, object] = field(default_factory=dict)


async def _start_web(services: Services) -> web.AppRunner:
    app = create_app(services)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, services.config.http.host, services.config.http.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot listen for HTTP on {services.config.http}: {exc}") from exc
    log.info("web app on http://%s", services.config.http)
    return runner


async def serve(config: Config, dialog: str = "clinic") -> int:
    """Run until SIGINT/SIGTERM; returns the process exit code."""
    health = Health()
    services = Services(config=config, health=health)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    runner = await _start_web(services)
    try:
        services.triage = (
            TriageEngine.from_file(config.triage_lexicon) if config.triage_lexicon else TriageEngine.default()
        )
        services.db = await Database.connect(config.db)
        await services.db.migrate()
        health.set("store", State.UP, services.db.backend)
        services.recorder = StoreRecorder(services.db)
        services.recorder.start()

        speech = await load_speech(config, health)
        factory = _conversation_factory(services, dialog)
        services.worker = VoiceWorker(
            config.sip.host,
            config.sip.port,
            plant=speech,
            conversation_factory=factory,
            recorder=services.recorder,
            session_config=SessionConfig(
                silence_timeout=config.silence_timeout, max_call_seconds=config.max_call_seconds
            ),
        )
        try:
            info = await services.worker.start()
        except OSError as exc:
            raise StartupError(str(exc)) from exc
        health.set("workers", State.UP, f"1 worker, {info.call_cap} calls each", call_cap=info.call_cap)
        if dialog == "echo" or not config.rasa_enabled:
            health.set("dialogs", State.DISABLED, f"dialog={dialog}")
        print(f"clinicline ready: sip:clinic@{config.sip} http://{config.http}", flush=True)
        await stop.wait()
        log.info("stopping: finishing calls")
    finally:
        if services.worker is not None:
            await services.worker.stop()
        if services.recorder is not None:
            await services.recorder.stop()
        await runner.cleanup()
        if services.db is not None:
            await services.db.dispose()
    return 0


def _conversation_factory(services: Services, dialog: str):  # type: ignore[no-untyped-def]
    assert services.triage is not None and services.recorder is not None
    triage, recorder = services.triage, services.recorder

    def make(call: CallInfo) -> Conversation:
        recorder.open(call)
        if dialog == "echo":
            return EchoConversation(triage)
        raise NotImplementedError("the clinic dialog arrives with the dialogs layer")

    return make


@contextlib.contextmanager
def _quiet() -> object:
    yield None
