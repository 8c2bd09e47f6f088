"""`clinicline serve`: wire the store, speech, triage, dialogs, web app and voice worker.

Start order is chosen so calls can be taken as early as possible: the web app first (so
`/health` answers `starting`), then the store, the speech models and the worker. The Rasa
server takes ~45 s to load; until it answers, callers get the keypad menu and a human
(`/health` says `degraded`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from clinicline.callflow.callback import CallbackDesk, CallbackDialer, CallbackSettings
from clinicline.callflow.clinic import ClinicConversation
from clinicline.callflow.confirm_recheck import ConfirmRecheck
from clinicline.callflow.date_recheck import DateRecheck
from clinicline.callflow.echo import EchoConversation
from clinicline.callflow.monitor import CallMonitors
from clinicline.callflow.name_recheck import NameRecheck
from clinicline.callflow.prompts import clinic_prompts
from clinicline.callflow.recorder import StoreRecorder, TurnListener
from clinicline.callflow.transfer import TransferSettings, WarmTransfer
from clinicline.callflow.vocabulary import clinic_vocabulary
from clinicline.callflow.waiting import WaitSettings
from clinicline.callflow.when_recheck import WhenRecheck
from clinicline.config import PROJECT_ROOT, Config
from clinicline.dialogs_runtime import DialogsSupervisor
from clinicline.errors import ConfigError, StartupError
from clinicline.flows.live import PublishedDialogWording, PublishedLexicon, PublishedPrompts
from clinicline.flows.trainer import Trainer
from clinicline.health import APP_ESSENTIAL, Health, State
from clinicline.hl7_link import Hl7Link, watch_integrations
from clinicline.outbound.conversation import ClinicLine
from clinicline.outbound.dialer import Dialer, DialerSettings
from clinicline.routing_setup import build_routing, business_hours
from clinicline.site_beat import SiteHeartbeat
from clinicline.softphone import SoftphoneGateway
from clinicline.softphone.directory import GatewayDirectory, run_gateway, stop_gateway
from clinicline.speech import load_speech
from clinicline.triage_probe import TriageProbeConversation
from clinicline.web.action_site import ActionEndpoint, start_action_site
from clinicline.web.app import create_app
from clinicline.web.console.flow_views import FlowTools
from clinicline.web.console.hub import WebSocketHub
from dialogs.errors import DialogUnavailable
from dialogs.wording import DialogWording
from integrations.ehr.fhir_client import EhrSettings, FhirEhr
from integrations.ehr.sync import EhrSync
from integrations.errors import ConfigError as IntegrationsConfigError
from integrations.services import calls, turned_away
from integrations.store import Database
from nlu.triage import TriageEngine
from nlu.triage.engine import DEFAULT_LEXICON
from routing.cti import TranscriptLine
from routing.transfer import TransferCoordinator
from voice.asr.base import SpeechRecognizer
from voice.audio.vad import VadConfig
from voice.session.actions import CallInfo
from voice.session.call_session import SessionConfig
from voice.session.conversation import Conversation
from voice.session.turn_end import TurnEndConfig
from voice.sip.admission import AdmissionPolicy
from voice.tts.cache import PromptCache
from voice.tts.phrases import PhraseSynthesizer
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
    dialogs: DialogsSupervisor | None = None
    hub: WebSocketHub | None = None
    coordinator: TransferCoordinator | None = None
    actions: ActionEndpoint | None = None
    ehr: EhrSync | None = None
    flows: FlowTools | None = None
    softphone: GatewayDirectory | None = None  # agents' browser phones: where the gateway is
    callbacks: CallbackDesk = field(default_factory=CallbackDesk)  # click-to-call
    extras: dict[str, object] = field(default_factory=dict)


def _hold_http_port(config: Config) -> socket.socket:
    """Bind the console's HTTP address before anything else picks a port.

    The browser-phone gateway starts first (the console's routes need to know where it is) and
    takes free ports of its own for Kamailio and rtpengine; bound only afterwards, the HTTP
    port could already be one of them (a CI run: "address already in use" on a port the test
    had found free)."""
    sock: socket.socket | None = None
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            config.http.host, config.http.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        if sock is not None:
            sock.close()
        raise StartupError(f"cannot listen for HTTP on {config.http}: {exc}") from exc
    return sock


async def _start_web(services: Services, sock: socket.socket) -> web.AppRunner:
    app = create_app(services)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot listen for HTTP on {services.config.http}: {exc}") from exc
    log.info("web app on http://%s", services.config.http)
    return runner


def serve_process(config: Config, dialog: str = "clinic") -> int:
    """`serve` as the process's whole life. Before the interpreter exits, the safety net's
    warm-up is let finish: an exit while it loads its model in native code aborts the process
    (seen in CI: a refused start-up exited -6 instead of its 2)."""
    warm_ups: list[threading.Thread] = []
    try:
        return asyncio.run(serve(config, dialog, warm_ups=warm_ups))
    finally:
        for thread in warm_ups:
            thread.join(timeout=60)


async def serve(
    config: Config, dialog: str = "clinic", *, warm_ups: list[threading.Thread] | None = None
) -> int:
    """Run until SIGINT/SIGTERM; returns the process exit code. The threads it starts to load
    models are added to `warm_ups` (for the caller to let finish)."""
    # An app process takes no calls: only its store decides whether it is ready.
    health = Health(("store",), APP_ESSENTIAL) if config.app_only else Health()
    services = Services(config=config, health=health)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    # Triage loads first and on its own: it must work whatever else fails to start.
    services.triage = (
        TriageEngine.from_file(config.triage_lexicon)
        if config.triage_lexicon
        else TriageEngine.default()
    )
    if services.triage.net is not None:
        # The safety net's model loads now, beside the rest of start-up, not on a caller's
        # first words (lexicon-only, with one warning, when it cannot load).
        warm_up = threading.Thread(
            target=services.triage.net.warm_up, name="triage-net-warm-up", daemon=True
        )
        warm_up.start()
        if warm_ups is not None:
            warm_ups.append(warm_up)
    try:
        services.db = await Database.connect(config.db)
        await services.db.migrate()
    except Exception as exc:
        raise StartupError(
            f"cannot open the store at its configured URL: {type(exc).__name__}: {exc}"
        ) from exc
    health.set("store", State.UP, services.db.backend)
    if config.app_only and services.db.backend != "postgresql":
        await services.db.dispose()
        raise ConfigError(
            "an app process shares the workers' routing state through PostgreSQL: pass "
            "--db postgresql://user:password@host/name"
        )
    if not config.app_only:
        await _close_calls_lost_by_an_earlier_run(services.db, config.worker_name)
    services.recorder = StoreRecorder(services.db, worker=config.worker_name)
    services.recorder.start()
    action_runner: web.AppRunner | None = None
    services.ehr = ehr = ehr_sync(config, services.db)
    outbox: asyncio.Task[None] | None = None
    hl7 = Hl7Link(config, services.db)
    # The dialogs' replies in this process: the file's, then the published ones.
    dialog_wording = DialogWording.from_file()
    if dialog == "clinic" and config.rasa_enabled and not config.app_only:
        action_token = config.action_token or secrets.token_urlsafe(32)
        action_runner, services.actions = await start_action_site(
            services.db, config.action_listen, action_token, business_hours(config), ehr,
            wording=dialog_wording,
        )  # fmt: skip
        services.dialogs = DialogsSupervisor(config, health, services.actions, services.db)
    services.hub, services.coordinator = build_routing(config, services.db)
    lexicon_base = Path(config.triage_lexicon) if config.triage_lexicon else DEFAULT_LEXICON
    # The shared development set sits beside a checkout; an installed clinic has none.
    shared_dev_set = PROJECT_ROOT.parent / "shared" / "eval" / "triage.tsv"
    services.flows = FlowTools(
        clinic_prompts(config.clinic_name) | dialog_wording.defaults(),
        wording=dialog_wording,
        lexicon_base=lexicon_base,
        regression_sets=(shared_dev_set,) if shared_dev_set.exists() else (),
        triage=services.triage,
        trainer=Trainer(
            services.db,
            config.dialogs_dir,
            config.data_dir / "training",
            epoch_fraction=config.finetune_epoch_fraction,
        ),
    )
    red_flag_words = PublishedLexicon(services.db, services.triage, lexicon_base)
    try:  # the clinic's published red-flag words before the first call
        await red_flag_words.check()
    except Exception as exc:
        log.warning("triage: the shipped lexicon alone decides (%s)", type(exc).__name__)
    red_flag_words.start()
    replies = PublishedDialogWording(services.db, dialog_wording)
    try:  # the published replies before the first call; the file's if it fails
        await replies.check()
    except Exception as exc:
        log.warning("dialog replies: the built-in wording is spoken (%s)", type(exc).__name__)
    replies.start()
    try:
        await services.hub.start()
    except Exception as exc:
        raise StartupError(f"cannot listen to the other app processes: {exc}") from exc
    services.recorder.add_turn_listener(_live_transcript(services.coordinator))
    http_socket = _hold_http_port(config)
    try:
        gateway = await _start_softphone(services)
    except BaseException:
        http_socket.close()
        raise
    try:
        runner = await _start_web(services, http_socket)
    except BaseException:
        http_socket.close()
        if gateway is not None:
            await stop_gateway(gateway, services.db, _gateway_name(config))
        raise
    refusals: TurnedAwayCounter | None = None
    counting: asyncio.Task[None] | None = None
    site: SiteHeartbeat | None = None
    beating: asyncio.Task[None] | None = None
    dialing: asyncio.Task[None] | None = None
    wording: PublishedPrompts | None = None
    try:
        if services.dialogs is not None:
            services.dialogs.start()
        if ehr is not None and not config.app_only:  # the workers send the EHR's outbox
            outbox = asyncio.create_task(
                ehr.run_outbox(config.ehr_outbox_seconds), name="ehr-outbox"
            )
        if not config.app_only:  # the interface engine talks to the workers
            await hl7.start()
        watch_integrations(health, ehr, hl7)

        if config.app_only:
            # Consoles and routing only: offers reach this process's consoles over the
            # store's notifications, an agent's answer goes back to the worker with the call.
            site = SiteHeartbeat(
                services.db, health, None, f"{socket.gethostname()[:40]}/app {config.http}"
            )
            beating = asyncio.create_task(site.run(), name="site-heartbeat")
            print(f"clinicline app ready: http://{config.http} (no calls taken here)", flush=True)
        else:
            vocabulary = await clinic_vocabulary(services.db, config.vocabulary)
            speech = await load_speech(config, health, vocabulary)
            assert isinstance(speech.prompts, PromptCache)  # load_speech's: rendered to disk
            services.flows.prompts = speech.prompts
            wording = PublishedPrompts(
                services.db, speech.prompts, clinic_prompts(config.clinic_name)
            )
            if isinstance(speech.synthesizer, PhraseSynthesizer):
                # The replies published before the worker's voice loaded, then each new version.
                phrases = speech.synthesizer
                await asyncio.to_thread(phrases.learn, dialog_wording.fixed_texts())
                replies.on_change = phrases.learn
            try:  # the published wording before the first call; the built-in one if it fails
                await wording.check()
            except Exception as exc:
                log.warning("prompts: the built-in wording plays (%s)", type(exc).__name__)
            wording.start()
            factory = _conversation_factory(services, dialog, speech.recognizer)
            parts = _clinic_parts(services, speech.recognizer)
            services.worker = VoiceWorker(
                config.sip.host,
                config.sip.port,
                plant=speech,
                conversation_factory=factory,
                recorder=services.recorder,
                session_config=SessionConfig(
                    silence_timeout=config.silence_timeout,
                    max_call_seconds=config.max_call_seconds,
                    # The utterance ends after 250 ms (sooner if the turn ends sooner);
                    # recognition starts at the early pause.
                    vad=VadConfig(
                        hangover_ms=min(250, config.turn_end_ms),
                        early_pause_ms=config.early_decode_ms,
                    ),
                    turn=TurnEndConfig(config.turn_end_ms, config.turn_end_unfinished_ms),
                    acknowledgements_go_on=config.acknowledgements_go_on,
                ),
                admission=_admission_policy(config, dialog),
                ack_timeout=config.sip_ack_timeout,
                outbound_proxy=config.outbound_proxy or None,
            )
            if config.record_calls:
                services.worker.on_recording = services.recorder.recording
            services.worker.transfer = WarmTransfer(
                services.worker,
                services.coordinator,
                services.db,
                services.recorder,
                TransferSettings(
                    ring_timeout=config.ring_timeout,
                    waiting=WaitSettings(max_hold=config.max_hold_seconds),
                    mode=config.transfer_mode,
                    accept=config.transfer_accept,
                    accept_timeout=config.accept_timeout,
                ),
            )
            services.coordinator.add_listener(services.worker.transfer.on_console)
            monitors = CallMonitors(
                services.worker, services.db, services.recorder, config.ring_timeout
            )
            services.worker.transfer.monitors = monitors
            assert services.hub is not None
            services.hub.on_monitor = monitors.on_request
            services.hub.on_handoff = services.worker.transfer.on_handoff
            try:
                info = await services.worker.start()
            except OSError as exc:
                raise StartupError(str(exc)) from exc
            health.set(
                "workers", State.UP, f"1 worker, {info.call_cap} calls each", call_cap=info.call_cap
            )
            _watch_worker(health, services.worker)
            services.flows.worker = services.worker  # places the Flows area's test calls
            if not config.sip_behind_front:
                refusals = TurnedAwayCounter(services.db, services.worker, config.worker_name)
                counting = asyncio.create_task(refusals.run(), name="count-turned-away")
            if services.db.backend == "postgresql":  # on SQLite this process is the whole site
                # Behind a front, the worker says where the front reaches it: a front on another
                # machine knows its workers only from the store.
                announced = str(config.sip) if config.sip_behind_front else None
                site = SiteHeartbeat(
                    services.db, health, services.worker, config.worker_name, announced
                )
                beating = asyncio.create_task(site.run(), name="site-heartbeat")
            if services.dialogs is None:
                detail = f"dialog={dialog}, rasa_enabled={config.rasa_enabled}"
                health.set("dialogs", State.DISABLED, detail)
            if config.outbound_trunk and dialog == "clinic" and config.outbound_slots > 0:
                dialer = Dialer(
                    db=services.db,
                    worker=services.worker,
                    settings=DialerSettings(
                        trunk=config.outbound_trunk,
                        line=ClinicLine(config.clinic_name, config.clinic_phone),
                        clinic_zone=business_hours(config).timezone,
                        slots=config.outbound_slots,
                        ring_timeout=config.outbound_ring_timeout,
                    ),
                    conversation_kwargs=parts,
                    recorder=services.recorder,
                    ehr=ehr,
                )
                dialing = asyncio.create_task(dialer.run(), name="campaign-dialer")
            if config.outbound_trunk:  # an agent may call a patient back from a task
                services.callbacks.dialer = CallbackDialer(
                    services.worker, services.recorder, services.hub, services.triage,
                    speech.recognizer,
                    CallbackSettings(
                        trunk=config.outbound_trunk, agent_ring_timeout=config.ring_timeout,
                        patient_ring_timeout=config.outbound_ring_timeout,
                    ),
                )  # fmt: skip
            print(f"clinicline ready: sip:clinic@{config.sip} http://{config.http}", flush=True)
        await stop.wait()
        log.info("stopping: finishing calls")
    finally:
        if services.flows.trainer is not None:
            await services.flows.trainer.stop()
        await red_flag_words.stop()
        await replies.stop()
        if wording is not None:
            await wording.stop()
        if dialing is not None:
            dialing.cancel()  # campaign calls under way end with the worker's goodbye
            await asyncio.gather(dialing, return_exceptions=True)
        if services.callbacks.dialer is not None:
            await services.callbacks.dialer.stop()
            services.callbacks.dialer = None
        if services.flows.draft_calls is not None:
            await services.flows.draft_calls.stop()  # before the worker they are calls of
        if services.worker is not None:
            await services.worker.stop()
        if counting is not None and refusals is not None:
            counting.cancel()
            await asyncio.gather(counting, return_exceptions=True)
            await refusals.flush()  # the last few seconds' refusals too
        if beating is not None and site is not None:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            await site.beat("stopped")
        if services.dialogs is not None:
            await services.dialogs.stop()
        if outbox is not None:
            outbox.cancel()
            await asyncio.gather(outbox, return_exceptions=True)
        await hl7.stop()
        if services.coordinator is not None:
            await services.coordinator.aclose()
        if services.recorder is not None:
            await services.recorder.stop()
        await runner.cleanup()
        if gateway is not None and services.db is not None:
            await stop_gateway(gateway, services.db, _gateway_name(config))
        if action_runner is not None:
            await action_runner.cleanup()
        if services.db is not None:
            await services.db.dispose()
    return 0


async def _start_softphone(services: Services) -> SoftphoneGateway | None:
    """Browser phones for this process's consoles. A single `serve` runs the gateway itself;
    behind a SIP front, and in an app process, the consoles use the one the front runs (found
    in the store). Calls ring desk phones when there is none."""
    config, db = services.config, services.db
    assert db is not None
    if config.app_only or config.sip_behind_front:
        services.softphone = GatewayDirectory(db)
        return None
    gateway = await run_gateway(
        config, db, _gateway_name(config), config.data_dir / "softphone" / str(config.sip.port)
    )
    if gateway is not None and gateway.line is not None:
        services.softphone = GatewayDirectory(db, local=gateway.line)
    return gateway


def _gateway_name(config: Config) -> str:
    return f"{socket.gethostname()[:40]}/serve {config.sip}"


def _ehr_patients(ehr: EhrSync | None) -> Callable[[date], Awaitable[object]] | None:
    """Patients born on a date, read from the EHR before the name is heard again with theirs."""
    if ehr is None:
        return None

    async def refresh(born: date) -> object:
        return await ehr.before_verification(born.isoformat())

    return refresh


def ehr_sync(config: Config, db: Database) -> EhrSync | None:
    """The EHR the dialogs read and write through, when one is configured."""
    if not config.ehr:
        return None
    try:
        settings = EhrSettings.from_url(config.ehr, config.ehr_token or None, config.ehr_timeout)
    except IntegrationsConfigError as exc:
        raise StartupError(str(exc)) from exc
    log.info("EHR: %s is the source of truth", settings.base_url)
    return EhrSync(db, FhirEhr(settings))


async def _close_calls_lost_by_an_earlier_run(db: Database, worker: str) -> None:
    """Calls this worker held when it last died are closed now (the supervisor may have done
    it already), each with a callback task: nothing the caller asked for is lost silently."""
    async with db.session() as s:
        lost = await calls.close_lost_calls(s, worker, ended=datetime.now(UTC))
    if lost:
        log.warning("closed %d call(s) this worker lost when it last stopped", len(lost))


class TurnedAwayCounter:
    """A lone worker's busy refusals (486), written to the store every few seconds.

    The SIP thread only bumps a counter (`AdmissionCounters.busy`): a burst of refused
    INVITEs costs one row per interval, not one write each. A failed write is retried with
    the next one, so nothing is dropped while the store is briefly away.
    """

    INTERVAL = 5.0

    def __init__(self, db: Database, worker: VoiceWorker, door: str) -> None:
        self._db = db
        self._worker = worker
        self._door = door
        self._written = worker.admission.counters.busy

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.INTERVAL)
            await self.flush()

    async def flush(self) -> None:
        busy = self._worker.admission.counters.busy
        if busy <= self._written:
            return
        try:
            async with self._db.session() as s:
                await turned_away.record(s, busy - self._written, self._door, datetime.now(UTC))
        except Exception as exc:  # the store is away: counted again at the next flush
            log.warning("could not count %d turned-away caller(s) yet: %s",
                        busy - self._written, type(exc).__name__)
            return
        self._written = busy


def _admission_policy(config: Config, dialog: str) -> AdmissionPolicy:
    return AdmissionPolicy(
        per_source_rate=config.sip_invite_rate,
        per_source_burst=config.sip_invite_burst,
        trusted_sources=frozenset(config.sip_trusted_sources),
        # The diagnostic echo dialog never transfers: no slot to keep back.
        transfer_reserve=config.sip_transfer_reserve if dialog == "clinic" else 0,
    )


def _watch_worker(health: Health, worker: VoiceWorker) -> None:
    """`/health` reads the worker's slots and refusals live; at capacity it is degraded."""

    def at_capacity() -> tuple[State, str] | None:
        if not worker.at_capacity:
            return None
        reserve = worker.admission.policy.transfer_reserve
        return State.DEGRADED, (
            f"at capacity: {worker.slots_in_use} of {worker.call_cap} call slots in use "
            f"({reserve} kept for transfers); new callers get 486"
        )

    def figures() -> dict[str, Any]:
        counters = worker.admission.counters
        return {
            "active_calls": worker.active_calls,
            "sip_calls": worker.sip_calls,  # callers plus consult legs to agents
            "slots_in_use": worker.slots_in_use,
            "transfer_reserve": worker.admission.policy.transfer_reserve,
            "calls_answered": worker.calls_answered,
            "calls_unacked": worker.calls_unacked,
            # Refused by pjsua itself (the wheel's cap): our own gate should leave none.
            "calls_refused": worker.endpoint.refused_calls,
            "invites_refused": {
                "busy": counters.busy,
                "rate_limited": counters.rate_limited,
                "dropped": counters.dropped,
                "media_limited": counters.media_limited,
            },
        }

    health.checks["workers"] = at_capacity
    health.probes["workers"] = figures


class _NoDialogs:
    """The gate when Rasa is switched off: every call gets the keypad menu."""

    available = False

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[Any]:
        raise DialogUnavailable("dialogs are disabled by configuration")


def _live_transcript(coordinator: TransferCoordinator) -> TurnListener:
    """Each transcript line goes on to the console of the agent the call is offered to."""

    async def forward(call_id: str, speaker: str, text: str, at: datetime) -> None:
        await coordinator.transcript_line(call_id, TranscriptLine(speaker, text, at))

    return forward


def _clinic_parts(
    services: Services, recognizer: SpeechRecognizer
) -> Callable[[CallInfo], dict[str, Any]]:
    """What every product conversation of a call is built from (inbound or a campaign's);
    opens the call's record."""
    assert services.triage is not None and services.recorder is not None and services.db
    triage, recorder, db = services.triage, services.recorder, services.db
    supervisor = services.dialogs
    fallback = _NoDialogs()

    def parts(call: CallInfo) -> dict[str, Any]:
        recorder.open(call)
        return {
            "triage": triage,
            "dialog": supervisor.client if supervisor is not None else fallback,
            "gate": supervisor if supervisor is not None else fallback,
            "db": db,
            "recorder": recorder,
            "silence_reprompts": services.config.silence_reprompts,
            "names": NameRecheck(db, recognizer, refresh=_ehr_patients(services.ehr)),
            "dates": DateRecheck(recognizer),
            "answers": ConfirmRecheck(recognizer),
            "whens": WhenRecheck(recognizer),
        }

    return parts


def _conversation_factory(
    services: Services, dialog: str, recognizer: SpeechRecognizer
) -> Callable[[CallInfo], Conversation]:
    assert services.triage is not None and services.recorder is not None
    triage, recorder = services.triage, services.recorder
    parts = _clinic_parts(services, recognizer)

    def make(call: CallInfo) -> Conversation:
        if dialog == "echo":
            recorder.open(call)
            return EchoConversation(triage)
        if dialog == "triage-probe":
            recorder.open(call)
            return TriageProbeConversation.from_environment(triage)
        return ClinicConversation(**parts(call))

    return make
