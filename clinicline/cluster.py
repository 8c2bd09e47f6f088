"""`clinicline serve --workers N`: Kamailio in front of N voice workers on one machine.

Each worker is a whole `clinicline serve` process (one pjsua2 endpoint, ≤ 4 calls, its own
web app and Rasa server) on its own ports; they share the store, which must be PostgreSQL:
reservations, sessions, tokens, the hold line and console messages live there, so any worker's
console serves any agent and any worker may route to any nurse. Kamailio, with the project's
own config (`deploy/kamailio/clinicline.cfg`), listens on the clinic's SIP address and spreads
callers over the workers. This process supervises them all: a worker that dies is started again
(Kamailio's OPTIONS probes take it out of rotation after two missed probes, ~4 s, and back when
it answers; callers sent to it meanwhile move on to another worker after 2 s), and
SIGINT/SIGTERM stops everything.

Across machines: `serve --workers 0` on the machine with Kamailio and PostgreSQL runs the front
alone; `serve --workers N --join FRONT_HOST:PORT` on each other machine (a site) runs N workers
behind it. Every worker behind a front announces its SIP address in the store with its beat,
and the front keeps Kamailio's list to its own workers and the announced ones (reloaded over
Kamailio's control socket when it changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import math
import os
import re
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from clinicline.config import PROJECT_ROOT, Config, HostPort
from clinicline.errors import ConfigError, StartupError
from clinicline.kamailio import KAMAILIO, check_kamailio_config
from clinicline.softphone.directory import run_gateway, stop_gateway
from clinicline.softphone.gateway import SoftphoneGateway
from integrations.services import calls, processes
from integrations.store import Database
from integrations.store.urls import store_url

KAMCMD = Path("/usr/sbin/kamcmd")
TEMPLATE = PROJECT_ROOT / "deploy" / "kamailio" / "clinicline.cfg"
CALL_SLOTS = 4  # the pjsua2 wheel's cap per process (ARCHITECTURE.md)
RESTART_DELAY = 1.0
STOP_GRACE = 30.0
# How often the front reads which workers other machines announce (a new site's worker takes
# callers this long after its first beat, plus one OPTIONS probe).
SITES_INTERVAL = 2.0
RELOAD_TIMEOUT = 10.0  # seconds Kamailio's control socket gets to reload the list


# Kamailio's `dispatcher.list`: each destination's URI, then its flags ("AP": active and
# probed; "IP": inactive, probed until it answers; "DX": disabled).
_DESTINATION = re.compile(r"URI:\s*(\S+)\s*\n\s*FLAGS:\s*(\w+)")
ROTATION_INTERVAL = 0.5  # how often the front reads Kamailio's rotation until a worker is in
ROTATION_WATCH = 5.0  # and then, to report a worker dropping out or coming back


def in_rotation(listing: str) -> list[str]:
    """The workers Kamailio sends callers to now (its `dispatcher.list` answer)."""
    return [uri for uri, flags in _DESTINATION.findall(listing) if flags.startswith("A")]


def reload_refused(returncode: int | None, output: str) -> bool:
    """Whether `kamcmd dispatcher.reload` failed. kamcmd exits 0 when the RPC itself answers
    with a fault ("error: 500 - ongoing reload"): the output says it, not the exit code."""
    return returncode != 0 or output.lstrip().lower().startswith("error")
# Measured with `clinicline bench --load` on a 2-core machine (docs/bench/load.md): about one
# concurrent call per core keeps the p95 turn latency within 1.5 s.
CALLS_PER_CORE = 1.0
log = logging.getLogger(__name__)


def default_workers(config: Config, cores: int) -> int:
    """`serve` without --workers: one process on SQLite (it owns the file); on PostgreSQL the
    workers whose callers the cores carry, and never fewer than two, so that a dead worker's
    next callers have somewhere to go."""
    if make_url(store_url(config.db)).get_backend_name() != "postgresql":
        return 1
    callers_per_worker = max(1, CALL_SLOTS - config.sip_transfer_reserve)
    return max(2, math.ceil(cores * CALLS_PER_CORE / callers_per_worker))


@dataclass(frozen=True)
class WorkerPorts:
    index: int
    sip: HostPort
    http: HostPort
    rasa_port: int


def worker_ports(config: Config, workers: int) -> list[WorkerPorts]:
    """Kamailio takes the configured SIP address (and the next port for TLS); worker i takes
    the SIP port + 2 + i, the configured web port plus i and the Rasa port plus i. A site that
    joins a front elsewhere has no Kamailio here: its workers start at the SIP port itself."""
    first = 0 if config.sip_front else 2
    return [
        WorkerPorts(
            i,
            HostPort(config.sip.host, config.sip.port + first + i),
            HostPort(config.http.host, config.http.port + i),
            config.rasa_port + i,
        )
        for i in range(workers)
    ]


def render_kamailio(config: Config, ports: list[WorkerPorts], folder: Path, dialog: str) -> Path:
    """Write the Kamailio config and dispatcher list for these workers; the config's path."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    reserve = config.sip_transfer_reserve if dialog == "clinic" else 0
    callers = max(1, CALL_SLOTS - reserve)
    listing = write_dispatcher_list(folder, [str(w.sip) for w in ports])
    # The workers' own requests (BYE, REFER, re-INVITE) must never be taken for a flood.
    sources = dict.fromkeys([*config.sip_trusted_sources, *(w.sip.host for w in ports)])
    trusted = [_subnet_test(source) for source in sources]
    fields = {
        "LISTEN": str(config.sip),
        "TLS_LISTEN": str(tls_address(config)),
        "TLS_CONFIG": str(write_tls_config(config, folder)),
        "CTL_SOCKET": str(folder / "kamailio.ctl"),
        "DISPATCHER_LIST": str(listing),
        "CALLERS": str(callers),
        "HASH_EXPIRE": str(int(config.max_call_seconds) + 120),
        # pike counts requests per address per 2 s: the per-source INVITE burst, doubled
        # for the ACKs and BYEs of the same calls.
        "PIKE_DENSITY": str(max(10, 2 * config.sip_invite_burst)),
        "TRUSTED_TEST": " || ".join(trusted) if trusted else "0",
        "STORE_URL": kamailio_store_url(config.db),
    }
    text = TEMPLATE.read_text()
    for name, value in fields.items():
        text = text.replace(f"@@{name}@@", value)
    rendered = folder / "kamailio.cfg"
    rendered.touch(mode=0o600)  # it holds the store's password
    rendered.write_text(text)
    return rendered


def write_dispatcher_list(folder: Path, addresses: list[str]) -> Path:
    """Kamailio's list of workers (set 1), one line per SIP address; its path."""
    listing = folder / "dispatcher.list"
    # maxload=0: Kamailio's count ranks the workers but never refuses on its own. It counts
    # a call until a BYE passes through, so calls whose ACK or BYE never came (a flood pike
    # cut off) would hold "load" for the hash's expiry and shut out real callers; each
    # worker's own front door knows its free slots and answers 486, which fails over.
    lines = [
        f"1 sip:{a} 0 0 duid=w{re.sub(r'[^0-9A-Za-z]', '_', a)};maxload=0\n" for a in addresses
    ]
    fresh = listing.with_suffix(".new")
    fresh.write_text("".join(lines))
    fresh.replace(listing)  # a Kamailio (re)starting meanwhile reads a whole list
    return listing


def tls_address(config: Config) -> HostPort:
    """Where the front takes SIP over TLS (TCP): `sip_tls_port`, or the SIP port + 1.

    No worker may have that port number, even over UDP: Kamailio knows itself by host and
    port, so a worker at its TLS port would be taken for Kamailio and in-dialog requests to
    it (ACK, BYE) would not be relayed. The workers start at the SIP port + 2.
    """
    return HostPort(config.sip.host, config.sip_tls_port or config.sip.port + 1)


def write_tls_config(config: Config, folder: Path) -> Path:
    """Kamailio's TLS profile, with a self-signed certificate made on first use.

    The certificate (10 years, the front's address as its subject name) is kept in the data
    folder and reused, so phones that pinned it keep working across restarts; a clinic puts
    its own certificate and key in the same two files.
    """
    tls = folder / "tls"
    tls.mkdir(mode=0o700, parents=True, exist_ok=True)
    certificate, key = tls / "front.crt", tls / "front.key"
    if not (certificate.exists() and key.exists()):
        _self_signed(config.sip.host, certificate, key)
    profile = tls / "tls.cfg"
    profile.write_text(
        "# Written by clinicline serve --workers N (clinicline/cluster.py).\n"
        "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
        f"require_certificate = no\ncertificate = {certificate}\nprivate_key = {key}\n\n"
        "[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
        "require_certificate = no\n"
    )
    return profile


def _self_signed(host: str, certificate: Path, key: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"clinicline SIP front {host}")])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .sign(private, hashes.SHA256())
    )
    key.touch(mode=0o600)
    key.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def kamailio_store_url(db: str) -> str:
    """The store's URL as Kamailio's db_postgres reads it: postgres://user:password@host:port/db."""
    url = make_url(db)
    credentials = url.username or ""
    if url.password:
        credentials += f":{url.password}"
    at = f"{credentials}@" if credentials else ""
    return f"postgres://{at}{url.host or 'localhost'}:{url.port or 5432}/{url.database}"


def _subnet_test(source: str) -> str:
    network = ipaddress.ip_network(source, strict=False)  # checked by Config already
    return f'is_in_subnet("$si", "{network}")'


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        return False


def _udp_port_taken(address: HostPort) -> bool:
    """A second Kamailio on a port in use starts without error and steals traffic: look first."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address.host, address.port))
        except OSError:
            return True
    return False


class Cluster:
    """Kamailio and N worker processes, started, watched and stopped together."""

    def __init__(
        self, config: Config, workers: int, *, dialog: str, passthrough: list[str]
    ) -> None:
        self.front = HostPort.parse(config.sip_front) if config.sip_front else None
        if workers < 0:
            raise ConfigError("--workers cannot be negative")
        if self.front is None and workers == 1:
            raise ConfigError(
                "a cluster has at least 2 workers, or 0 for the SIP front alone "
                "(--workers 1 runs one server)"
            )
        if self.front is not None and workers < 1:
            raise ConfigError("a site that joins a front runs at least 1 worker")
        if self.front is not None and _is_wildcard(config.sip.host):
            raise ConfigError(
                f"--sip {config.sip}: the front reaches a site's workers at this address; give "
                "the machine's own address, not a wildcard"
            )
        if not config.db.startswith("postgresql"):
            raise ConfigError(
                "several workers share their state through PostgreSQL: pass "
                "--db postgresql://user:password@host/name (and CLINICLINE_DATA_KEY)"
            )
        if not os.environ.get("CLINICLINE_DATA_KEY"):
            raise ConfigError("several workers need one data key: set CLINICLINE_DATA_KEY")
        if self.front is None and not KAMAILIO.exists():
            raise StartupError(f"{KAMAILIO} is missing: run `make run` once to install it")
        self.config = config
        self.dialog = dialog
        self.passthrough = passthrough
        self.ports = worker_ports(config, workers)
        if self.front is None and tls_address(config).port in {w.sip.port for w in self.ports}:
            raise ConfigError(
                f"sip_tls_port {tls_address(config).port} is a worker's SIP port: Kamailio "
                "would take that worker for itself; choose a port outside "
                f"{self.ports[0].sip.port}-{self.ports[-1].sip.port}"
            )
        self.folder = config.data_dir / "kamailio"
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._kamailio: asyncio.subprocess.Process | None = None
        self._db: Database | None = None
        self._stopping = asyncio.Event()
        self.restarts = [0] * workers
        self._rotation: list[str] | None = None  # None: not read from Kamailio yet

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopping.set)
        config_path: Path | None = None
        if self.front is None:
            if _udp_port_taken(self.config.sip):
                raise StartupError(f"UDP {self.config.sip} is in use: is another front running?")
            config_path = render_kamailio(self.config, self.ports, self.folder, self.dialog)
        try:
            # Migrated once here: workers starting together must not race to do it.
            self._db = await Database.connect(self.config.db)
            await self._db.migrate()
        except Exception as exc:
            raise StartupError(f"cannot open the store: {type(exc).__name__}: {exc}") from exc
        gateway: SoftphoneGateway | None = None
        try:
            if config_path is not None:  # the front also runs the agents' browser phones
                gateway = await run_gateway(
                    self.config, self._db, self._gateway_name, self.config.data_dir / "softphone"
                )
            watchers = [asyncio.create_task(self._keep_running(w)) for w in self.ports]
            if config_path is not None:
                await self._start_kamailio(config_path)
                watchers.append(asyncio.create_task(self._keep_kamailio(config_path)))
                watchers.append(asyncio.create_task(self._report_front()))
                watchers.append(asyncio.create_task(self._follow_sites()))
                watchers.append(asyncio.create_task(self._watch_rotation()))
            print(self._describe(), flush=True)
            await self._stopping.wait()
            log.info("stopping the cluster")
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        finally:
            if gateway is not None:
                await stop_gateway(gateway, self._db, self._gateway_name)
            await self._stop_all()
        return 0

    @property
    def _gateway_name(self) -> str:
        return f"{socket.gethostname()[:40]}/front {self.config.sip}"

    def _describe(self) -> str:
        consoles = ", ".join(f"http://{w.http}" for w in self.ports)
        if self.front is not None:
            return (
                f"clinicline site: {len(self.ports)} workers behind the front at {self.front}; "
                f"consoles at {consoles}"
            )
        return (
            f"clinicline cluster: sip:clinic@{self.config.sip} (Kamailio) over "
            f"{len(self.ports)} workers here and those other machines announce"
            + (f"; consoles at {consoles}" if consoles else "")
        )

    async def _follow_sites(self) -> None:
        """Keep Kamailio's list of workers to this machine's own and those that other machines'
        sites announce in the store (`serve --workers N --join`), reloading it on a change."""
        own = [str(w.sip) for w in self.ports]
        listed = own
        while True:
            await asyncio.sleep(SITES_INTERVAL)
            if self._db is None:
                return
            try:
                async with self._db.session() as s:
                    announced = await processes.announced_workers(s, now=datetime.now(UTC))
            except Exception as exc:  # noqa: BLE001 - the list stands until the store is back
                log.warning("could not read the announced workers: %s", type(exc).__name__)
                continue
            wanted = list(dict.fromkeys([*own, *announced]))
            if wanted == listed:
                continue
            try:
                write_dispatcher_list(self.folder, wanted)
                reloaded = await self._reload_dispatcher()
            except Exception as exc:  # noqa: BLE001 - this loop is the only one that follows sites
                log.warning("could not hand Kamailio its workers: %s", type(exc).__name__)
                continue
            if reloaded:
                log.info("Kamailio now sends callers to %d workers: %s", len(wanted), wanted)
                listed = wanted

    async def _watch_rotation(self) -> None:
        """Say when callers can get through: the front is ready once Kamailio has probed a
        worker and sends callers to it (a worker's own /health says only that it is up), and
        later when a worker drops out of the rotation or comes back."""
        while True:
            active = await self._read_rotation()
            if active is not None and active != self._rotation:
                if active and not self._rotation:
                    print(f"clinicline cluster ready: Kamailio sends callers to "
                          f"{len(active)} workers", flush=True)  # fmt: skip
                log.info("workers in Kamailio's rotation: %d (%s)", len(active), active)
                self._rotation = active
            await asyncio.sleep(ROTATION_WATCH if self._rotation else ROTATION_INTERVAL)

    async def _read_rotation(self) -> list[str] | None:
        """Kamailio's rotation now; None when its control socket does not answer."""
        answer = await self._kamcmd("dispatcher.list")
        if answer is None or answer[0] != 0:
            return None
        return in_rotation(answer[1])

    async def _reload_dispatcher(self) -> bool:
        """Kamailio re-reads its list of workers; False (tried again next round) when it did
        not answer in time or refused."""
        answer = await self._kamcmd("dispatcher.reload")
        if answer is None:
            # A control socket that never answers must not freeze the list: the next round
            # writes it and asks again.
            log.warning("Kamailio did not answer the reload in %.0f s", RELOAD_TIMEOUT)
            return False
        if reload_refused(*answer):
            log.warning("Kamailio did not reload its workers: %s", answer[1][-300:])
            return False
        return True

    async def _kamcmd(self, command: str) -> tuple[int | None, str] | None:
        """Ask Kamailio over its control socket: (exit code, output), or None when it did not
        answer within `RELOAD_TIMEOUT`."""
        asked = await asyncio.create_subprocess_exec(
            str(KAMCMD), "-s", f"unix:{self.folder / 'kamailio.ctl'}", command,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(asked.communicate(), RELOAD_TIMEOUT)
        except TimeoutError:
            asked.kill()
            await asked.wait()
            return None
        return asked.returncode, out.decode(errors="replace")

    async def _start_kamailio(self, config_path: Path) -> None:
        pid_file = self.folder / "kamailio.pid"
        await check_kamailio_config(config_path)
        log_file = (self.folder / "kamailio.log").open("ab")
        self._kamailio = await asyncio.create_subprocess_exec(
            str(KAMAILIO), "-DD", "-E", "-f", str(config_path), "-P", str(pid_file),
            "-m", "64", "-M", "8", stdout=log_file, stderr=log_file,
            start_new_session=True,  # its own group: its children go with it (_kill_kamailio)
        )  # fmt: skip
        log_file.close()
        for _ in range(50):  # until it has bound the clinic's address
            if _udp_port_taken(self.config.sip) or self._kamailio.returncode is not None:
                break
            await asyncio.sleep(0.1)
        if self._kamailio.returncode is not None or not _udp_port_taken(self.config.sip):
            raise StartupError(f"Kamailio did not start; see {self.folder / 'kamailio.log'}")

    async def _keep_kamailio(self, config_path: Path) -> None:
        """Start Kamailio again if it dies: calls in progress keep their audio (it flows
        between caller and worker), and their BYEs route through the new one (Record-Route
        needs no state); new callers wait only for the restart."""
        while not self._stopping.is_set():
            assert self._kamailio is not None
            code = await self._kamailio.wait()
            if self._stopping.is_set():
                return
            log.warning("Kamailio exited with %s; starting it again", code)
            self._kill_kamailio_group()  # children of a killed Kamailio still hold its port
            await asyncio.sleep(RESTART_DELAY)
            try:
                await self._start_kamailio(config_path)
            except StartupError as exc:  # e.g. its port still held: try again shortly
                log.error("Kamailio did not come back: %s", exc)
                await asyncio.sleep(5)

    async def _report_front(self) -> None:
        """The SIP front's row in the site's process list (the workers write their own)."""
        name = f"{socket.gethostname()[:40]}/front {self.config.sip}"
        started = datetime.now(UTC)
        detail = f"Kamailio, TLS on {tls_address(self.config)}"

        async def write(s: AsyncSession, now: datetime) -> None:
            running = self._kamailio is not None and self._kamailio.returncode is None
            rotation = "" if self._rotation is None else (
                f"; {len(self._rotation)} workers in rotation"
            )  # fmt: skip
            await processes.beat(s, name, "front", "up" if running else "restarting",
                                 now=now, started_at=started, detail=detail + rotation)

        while True:
            await self._note(write)
            await asyncio.sleep(5)

    async def _note(self, write: Callable[[AsyncSession, datetime], Awaitable[None]]) -> None:
        if self._db is None:
            return
        try:
            async with self._db.session() as s:
                await write(s, datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - the site view waits for the store
            log.warning("could not update the site's process list: %s", type(exc).__name__)

    def _kill_kamailio_group(self) -> None:
        if self._kamailio is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._kamailio.pid, signal.SIGKILL)

    def _worker_command(self, ports: WorkerPorts) -> list[str]:
        return [
            sys.executable, "-m", "clinicline.cli", "serve", "--workers", "1",
            "--sip", str(ports.sip), "--http", str(ports.http),
            "--rasa-port", str(ports.rasa_port), "--dialog", self.dialog,
            "--db", self.config.db, *self.passthrough,
        ]  # fmt: skip

    def _worker_env(self, index: int = 0) -> dict[str, str]:
        # Every INVITE now comes from Kamailio's address: the per-source bound would starve
        # them all, so the front is trusted and pike guards the door instead.
        front = self.front or self.config.sip
        trusted = dict.fromkeys([*self.config.sip_trusted_sources, front.host])
        env = {
            **os.environ,
            "CLINICLINE_SIP_TRUSTED_SOURCES": ",".join(trusted),
            "CLINICLINE_SIP_BEHIND_FRONT": "true",
            # The worker is one server (`--workers 1`), never a site of its own.
            "CLINICLINE_SIP_FRONT": "",
            # Campaign calls leave through the front, as calls come in through it: the carrier
            # sees one address for the site, and Kamailio keeps the dialog (Record-Route).
            "CLINICLINE_OUTBOUND_PROXY": self.config.outbound_proxy
            or f"sip:{front.host}:{front.port};lr",
        }
        if index > 0:
            # One listener for the interface engine's SIU (its port is the site's, like the
            # SIP front's); every worker still sends (the HL7 outbox is shared in the store).
            env["CLINICLINE_HL7_LISTEN"] = ""
        return env

    async def _keep_running(self, ports: WorkerPorts) -> None:
        """Run worker `ports.index`, and again whenever it exits, until the cluster stops."""
        delay = RESTART_DELAY
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            started = loop.time()
            proc = await asyncio.create_subprocess_exec(
                *self._worker_command(ports), env=self._worker_env(ports.index), cwd=PROJECT_ROOT
            )
            self._procs[ports.index] = proc
            code = await proc.wait()
            # A worker that cannot even start (a bad config, the store unreachable) is
            # retried ever more slowly, up to a minute apart, not in a tight loop.
            delay = RESTART_DELAY if loop.time() - started > 60 else min(delay * 2, 60.0)
            if self._stopping.is_set():
                return
            self.restarts[ports.index] += 1
            log.warning(
                "worker %d exited with %s; starting it again (restart %d)",
                ports.index, code, self.restarts[ports.index],
            )  # fmt: skip
            await self._note(self._restarting(ports, code))
            await self._close_lost_calls(ports)
            await asyncio.sleep(delay)

    def _restarting(
        self, ports: WorkerPorts, code: int | None
    ) -> Callable[[AsyncSession, datetime], Awaitable[None]]:
        """The dead worker's row says so until it beats again."""
        name = dataclasses.replace(self.config, sip=ports.sip).worker_name
        detail = f"exited with {code}; restart {self.restarts[ports.index]}"

        async def write(s: AsyncSession, now: datetime) -> None:
            await processes.mark(s, name, "restarting", detail, now=now)

        return write

    async def _close_lost_calls(self, ports: WorkerPorts) -> None:
        """The calls the dead worker held are closed now, each with a callback task."""
        if self._db is None:
            return
        name = dataclasses.replace(self.config, sip=ports.sip).worker_name
        try:
            async with self._db.session() as s:
                lost = await calls.close_lost_calls(s, name, ended=datetime.now(UTC))
        except Exception:  # noqa: BLE001 - the restarted worker closes them itself
            log.exception("could not close the calls worker %d lost", ports.index)
            return
        if lost:
            log.warning("worker %d lost %d call(s): closed, callbacks left", ports.index, len(lost))

    async def _stop_all(self) -> None:
        running = [p for p in self._procs.values() if p.returncode is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._db is not None:
            await self._db.dispose()
        if self._kamailio is not None and self._kamailio.returncode is None:
            self._kamailio.terminate()
            try:
                await asyncio.wait_for(self._kamailio.wait(), 10)
            except TimeoutError:
                self._kamailio.kill()
                await self._kamailio.wait()
        self._kill_kamailio_group()


def passthrough_args(args: object) -> list[str]:
    """The `serve` flags every worker gets as given (ports and the store are set per worker)."""
    out: list[str] = []
    config_file = getattr(args, "config", None)
    if config_file is not None:
        out += ["--config", str(config_file)]
    for flag, name in (
        ("--asr-engine", "asr_engine"),
        ("--vosk-model-dir", "vosk_model_dir"),
        ("--ehr", "ehr"),
    ):
        value = getattr(args, name, None)
        if value is not None:
            out += [flag, str(value)]
    if getattr(args, "no_rasa", False):
        out.append("--no-rasa")
    return out
