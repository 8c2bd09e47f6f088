"""One typed configuration for the whole server, from defaults, a TOML file and the environment.

Precedence (lowest first): built-in defaults that run on one machine, the config file
(``--config`` or ``CLINICLINE_CONFIG``), ``CLINICLINE_*`` environment variables, then
command-line flags. Every knob is listed in ``docs/configuration.md``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinicline.errors import ConfigError
from dialogs.train import FINETUNE_EPOCH_FRACTION
from integrations.errors import ConfigError as StoreConfigError
from integrations.hl7.tls import Hl7Tls
from integrations.store.urls import store_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class HostPort:
    """A listening address such as ``127.0.0.1:5060`` (port 0: any free port)."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> HostPort:
        host, sep, port = text.strip().rpartition(":")
        if not sep or not host or not (port.isascii() and port.isdigit()) or int(port) > 65535:
            raise ConfigError(f"expected HOST:PORT, got {text!r}")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


TRANSFER_MODES = ("bridge", "refer")
TRANSFER_ACCEPT = ("key", "answer")


@dataclass(frozen=True)
class Config:
    """Everything the server needs; the defaults run on one machine."""

    sip: HostPort = HostPort("127.0.0.1", 5060)
    # The SIP front (see voice/sip/admission.py): INVITEs per second one source address may
    # send (sustained, and at once), sources exempt from that bound (the proxy in front),
    # call slots kept for a warm transfer's consult leg, and how long a 200 OK may wait for
    # its ACK before the dialog is ended.
    sip_invite_rate: float = 1.0
    sip_invite_burst: int = 5
    sip_trusted_sources: tuple[str, ...] = ()
    # Behind the SIP front (`serve --workers N` sets it): a worker's own 486 only tells Kamailio
    # to try the next worker, and the front counts the callers it places nowhere.
    sip_behind_front: bool = False
    # HOST:PORT of a SIP front (Kamailio, `serve --workers 0`) on another machine: `serve
    # --workers N` then runs only its N workers, on this machine's SIP address, and announces
    # them in the shared store, from which the front keeps its list of workers.
    sip_front: str = ""
    # `serve --app-only`: consoles, routing and supervisors' views without a voice worker
    # (no SIP, no speech models); several such processes share the workers' PostgreSQL store.
    app_only: bool = False
    # SIP over TLS at the front (`serve --workers N`), on this TCP port; 0: the SIP port + 1
    # (5061 beside the default 5060). Kamailio ends TLS there and talks UDP to the workers.
    sip_tls_port: int = 0
    sip_transfer_reserve: int = 1
    sip_ack_timeout: float = 4.0
    http: HostPort = HostPort("127.0.0.1", 8080)
    db: str = "sqlite+aiosqlite:///var/clinicline.db"
    # The clinic's EHR as the source of truth (integrations/ehr), e.g.
    # "fhir+https://ehr.example.org/fhir"; empty: the local store is the record. Its bearer
    # token comes apart from the URL (CLINICLINE_EHR_TOKEN), and each request to it gives up
    # after `ehr_timeout` seconds: a caller is waiting on it.
    ehr: str = ""
    ehr_token: str = ""
    ehr_timeout: float = 8.0
    # Seconds between two passes of the refill outbox (requests the EHR has not taken yet).
    ehr_outbox_seconds: float = 60.0
    # HL7 v2 with the clinic's interface engine (integrations/hl7): SIU messages for every
    # booking, move and cancellation go to `hl7_peer` (HOST:PORT, MLLP; empty: none are sent);
    # SIU from the engine is received on `hl7_listen` (empty: not listened for), only from
    # `hl7_allow` (addresses or networks of the engine).
    hl7_peer: str = ""
    hl7_listen: str = ""
    hl7_allow: tuple[str, ...] = ("127.0.0.1", "::1")
    # MLLP over TLS, both links, mutually authenticated (integrations/hl7/tls.py): the CA that
    # signs the engine's certificate, and ours with its key (PEM files). All three, or none.
    hl7_tls_ca: str = ""
    hl7_tls_cert: str = ""
    hl7_tls_key: str = ""
    hl7_outbox_seconds: float = 5.0
    data_dir: Path = PROJECT_ROOT / "var"
    # ASR: "auto" picks Vosk when a model directory is configured, otherwise whisper.
    asr_engine: str = "auto"
    vosk_model_dir: Path | None = None
    # Decodes run one at a time, so both cores of a small machine go to the one running.
    asr_threads: int = 2
    asr_window_seconds: float = 30.0  # whisper's encoder window (voice/asr/whisper.py): its own
    asr_beams: int = 3  # whisper's decoder beams (voice/asr/whisper.py); 1: greedy
    tts_threads: int = 1
    # Words the recogniser should expect: the clinic's medications and providers.
    vocabulary: tuple[str, ...] = ()
    # Rasa runs as its own server in its own venv; the app supervises it.
    rasa_enabled: bool = True
    rasa_port: int = 5005
    # Rasa's HTTP API and our REST channel require this token; empty: a new one each start.
    rasa_token: str = ""
    # The action endpoint Rasa calls: its own listener, loopback by default (port 0: any free
    # port), requiring `action_token` (empty: a new one each start).
    action_listen: HostPort = HostPort("127.0.0.1", 0)
    action_token: str = ""
    rasa_venv: Path = PROJECT_ROOT / ".venv-rasa"
    dialogs_dir: Path = PROJECT_ROOT / "dialogs"
    # A supervisor's draft phrasings are fine-tuned from the shipped model for this share of
    # its epochs (dialogs/train.py has the measurements behind the default).
    finetune_epoch_fraction: float = FINETUNE_EPOCH_FRACTION
    triage_lexicon: Path | None = None
    # Seconds of caller silence before a reprompt; after `silence_reprompts` reprompts, goodbye.
    silence_timeout: float = 8.0
    silence_reprompts: int = 2
    # The pause that ends a caller's turn when her words are finished, and when they hang
    # ("I need to move my") (voice.session.turn_end).
    turn_end_ms: int = 350
    turn_end_unfinished_ms: int = 900
    # After this much quiet, recognition of the words so far starts, kept if the caller stays
    # quiet until the utterance ends at 250 ms (0: recognition starts then). Off by default:
    # measured faster turns, but with it on the finished-turn pause must grow to 500 ms to
    # spare callers who pause mid-sentence, and a CI run with it on retried a campaign call
    # for reasons not yet understood (docs/bench/early_decode.md).
    early_decode_ms: int = 0
    # The caller's voice over the bot's pauses it; an acknowledgement ("mm-hmm") or a sound
    # with no words lets it go on (voice.session.call_session). Off: her voice stops the bot.
    acknowledgements_go_on: bool = False
    max_call_seconds: float = 900.0
    # Keep each call's recording (stereo: the caller, and what she heard), encrypted in the
    # store; supervisors play it from the console (audited).
    record_calls: bool = True
    clinic_name: str = "Riverside Family Clinic"
    # The number patients are told to call back (voicemail messages, campaign calls).
    clinic_phone: str = "555-0100"
    # Outbound campaigns (clinicline/outbound): the SIP URI each patient's number is dialled
    # through, with {number} in it ("sip:{number}@gateway.example:5060"); empty: this worker
    # places no campaign calls. At most `outbound_slots` at once per worker, and never the
    # last free slots (one for an inbound caller, `sip_transfer_reserve` for transfers).
    outbound_trunk: str = ""
    outbound_slots: int = 1
    outbound_ring_timeout: float = 25.0
    # The SIP proxy campaign calls leave through ("sip:front.example:5060;lr"): one way out to
    # the carrier for every worker. `serve --workers N` sets it to its own Kamailio front.
    outbound_proxy: str = ""
    # Routing and the agent console.
    hours_file: Path | None = None  # None: routing/clinic_hours.yaml
    ring_timeout: float = 20.0  # seconds an agent's phone rings before the next agent
    # A routine caller with nobody free may hold this long, then their callback task stands.
    max_hold_seconds: float = 600.0
    # "bridge": the worker keeps both legs and bridges them (recording and transcript go on).
    # "refer": once the agent has heard the summary, REFER with Replaces hands the caller
    # to the agent's phone and frees both worker slots; bridging remains the fallback.
    transfer_mode: str = "bridge"
    # "key": after the whispered summary the agent presses 1 (or Accept in the console) to
    # take the call, so a voicemail that picks up never gets the caller; "answer": answering
    # the phone is enough.
    transfer_accept: str = "key"
    accept_timeout: float = 15.0  # seconds to press 1 before the next agent is tried
    # A console session ends after this many minutes without a request from it.
    console_idle_minutes: float = 30.0
    # Addresses or networks of the reverse proxies that terminate TLS in front of the web app:
    # only from them are X-Forwarded-Proto and X-Forwarded-For believed.
    trusted_proxies: tuple[str, ...] = ()
    # Password hashes computed at once (each ~17 ms of one core): the rest wait their turn.
    login_hash_workers: int = 1
    # Agents' browser phones (clinicline/softphone): the gateway the workers ring them
    # through listens on this SIP address (empty: desk phones only). A single-process `serve`,
    # or the SIP front of `serve --workers N`, runs it; its media goes to `softphone_media`
    # (empty: the same host), which the agents' browsers must reach, on ports
    # `softphone_rtp_ports`.
    softphone_sip: str = "127.0.0.1:5064"
    # Networks of voice workers on other machines (sites that join this front) that may ring
    # browser phones through the gateway; this machine's own workers always may.
    softphone_workers: tuple[str, ...] = ()
    softphone_media: str = ""
    softphone_rtp_ports: str = "30000-30999"
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = ""
    # Tries per event and receiver before it is dead-lettered (each up to 5 s, waits doubling
    # from 0.5 s to at most 8 s between them): more for a CTI receiver that restarts slowly.
    webhook_attempts: int = 4
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            # Operators write `sqlite:///…` and `postgresql://…`; the store needs the async
            # driver named. The dataclass is frozen, so the normalised URL is set this way.
            object.__setattr__(self, "db", store_url(self.db))
        except StoreConfigError as exc:
            raise ConfigError(f"setting db: {exc}") from exc
        if self.sip_invite_rate <= 0 or self.sip_invite_burst < 1 or self.sip_ack_timeout <= 0:
            raise ConfigError(
                "settings sip_invite_rate and sip_ack_timeout must be positive, "
                "sip_invite_burst at least 1"
            )
        if self.sip_transfer_reserve < 0:
            raise ConfigError("setting sip_transfer_reserve cannot be negative")
        if not 1 <= self.webhook_attempts <= 20:
            raise ConfigError("setting webhook_attempts must be 1 to 20")
        for name, allowed in (
            ("transfer_mode", TRANSFER_MODES),
            ("transfer_accept", TRANSFER_ACCEPT),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(
                    f"setting {name}: {value!r} is not one of {', '.join(allowed)}"
                )
        if self.outbound_trunk and (
            "{number}" not in self.outbound_trunk
            or not self.outbound_trunk.startswith(("sip:", "sips:"))
        ):
            raise ConfigError(
                "setting outbound_trunk: expected a sip: URI with {number} in it, got "
                f"{self.outbound_trunk!r}"
            )
        if self.outbound_proxy and not self.outbound_proxy.startswith(("sip:", "sips:")):
            raise ConfigError(
                f"setting outbound_proxy: expected a sip: URI, got {self.outbound_proxy!r}"
            )
        if self.outbound_slots < 0 or self.outbound_ring_timeout <= 0:
            raise ConfigError("settings outbound_slots and outbound_ring_timeout must be positive")
        if not 0 < self.finetune_epoch_fraction <= 1:
            raise ConfigError("setting finetune_epoch_fraction must be above 0 and at most 1")
        self.softphone_ports()  # refused now, not when the gateway starts
        for name in ("hl7_peer", "hl7_listen", "sip_front", "softphone_sip"):
            if getattr(self, name):
                HostPort.parse(getattr(self, name))  # refused now, not at the first message
        tls_files = (self.hl7_tls_ca, self.hl7_tls_cert, self.hl7_tls_key)
        if any(tls_files) and not all(tls_files):
            raise ConfigError(
                "settings hl7_tls_ca, hl7_tls_cert and hl7_tls_key: set all three, or none"
            )
        tls = self.hl7_tls()
        if tls is not None:
            try:  # refused now, not at the first message
                tls.client(), tls.server()
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                raise ConfigError(f"settings hl7_tls_*: {exc}") from exc
        for network in self.hl7_allow:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ConfigError(f"setting hl7_allow: {network!r} is not an address") from exc
        for name in ("trusted_proxies", "softphone_workers"):
            for network in getattr(self, name):
                try:
                    ipaddress.ip_network(network, strict=False)
                except ValueError as exc:
                    raise ConfigError(
                        f"setting {name}: {network!r} is not an address or network"
                    ) from exc

    def softphone_ports(self) -> tuple[int, int]:
        """rtpengine's media ports, from "LOW-HIGH"."""
        try:
            low, high = (int(p) for p in self.softphone_rtp_ports.split("-"))
        except ValueError:
            low = high = 0
        if not 1024 <= low < high <= 65535:
            raise ConfigError(
                f"setting softphone_rtp_ports: expected LOW-HIGH, got {self.softphone_rtp_ports!r}"
            )
        return low, high

    def hl7_tls(self) -> Hl7Tls | None:
        """MLLP over TLS as set (`hl7_tls_*`); None: plain MLLP."""
        if not (self.hl7_tls_ca and self.hl7_tls_cert and self.hl7_tls_key):
            return None
        return Hl7Tls(Path(self.hl7_tls_ca), Path(self.hl7_tls_cert), Path(self.hl7_tls_key))

    @property
    def worker_name(self) -> str:
        """This voice worker's name on its call records: host and SIP address, unique on a
        site, the same across its restarts (so a restarted worker closes what it lost)."""
        return f"{socket.gethostname()[:40]}/{self.sip}"


_ENV_PREFIX = "CLINICLINE_"


def _coerce(name: str, raw: Any) -> Any:
    """Turn a file or environment value into the type the field declares."""
    kind = {f.name: f.type for f in dataclasses.fields(Config)}[name]
    try:
        if kind == "HostPort":
            return raw if isinstance(raw, HostPort) else HostPort.parse(str(raw))
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return raw if isinstance(raw, bool) else str(raw).lower() in {"1", "true", "yes", "on"}
        if kind in ("Path", "Path | None"):
            return None if raw in (None, "") else Path(str(raw))
        if kind == "tuple[str, ...]":
            items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
            return tuple(str(i).strip() for i in items if str(i).strip())
        return raw if kind.startswith("dict") else str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}: cannot use {raw!r} ({exc})") from exc


def load_config(
    file: Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Build the configuration from defaults, file, environment and explicit overrides."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(Config)}
    file = file or (Path(env[_ENV_PREFIX + "CONFIG"]) if env.get(_ENV_PREFIX + "CONFIG") else None)
    if file is not None:
        try:
            data = tomllib.loads(file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {file}: {exc}") from exc
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"{file}: unknown settings {sorted(unknown)}")
        values.update({k: _coerce(k, v) for k, v in data.items()})
    for name in names:
        raw = env.get(_ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(name, raw)
    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _coerce(name, raw)
    return Config(**values)
