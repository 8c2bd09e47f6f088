"""The browser-phone gateway: Kamailio with its WebSocket and rtpengine, run by `serve`.

Kamailio's config is `deploy/kamailio/softphone.cfg` (what it accepts from whom is written
there); this module renders it, starts both daemons in their own process groups, and stops
them with the server. Credentials are the auth_ephemeral kind: the console hands its agent a
username "<expiry>:<username>" and its HMAC under a secret made at each start, so nothing
about them is stored. A pair works only through a signed-in console session's relay, for that
session's own agent (the relay refuses any other line), until it expires.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from clinicline.config import PROJECT_ROOT, HostPort
from clinicline.errors import StartupError
from clinicline.kamailio import KAMAILIO, check_kamailio_config
from dialogs.server import free_loopback_port

log = logging.getLogger(__name__)

RTPENGINE = Path("/usr/bin/rtpengine")
WEBSOCKET_MODULE = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules/websocket.so")
TEMPLATE = PROJECT_ROOT / "deploy" / "kamailio" / "softphone.cfg"
REALM = "clinicline"
# The SDP towards a browser: ICE, DTLS-SRTP with the browser as DTLS client, the gateway's
# addresses; towards a worker: plain RTP, no ICE. G.711 passes through untouched (Chromium
# and the workers both speak PCMU), so rtpengine never transcodes.
_REWRITE = "replace-origin replace-session-connection"
# Browsers require RTP and RTCP on one port (rtcp-mux) and a mid per media section.
TO_BROWSER_FLAGS = (
    f"ICE=force DTLS=passive SDES-off RTP/SAVPF rtcp-mux-require generate-mid {_REWRITE}"
)
# single-codec: the browser answers with every codec it shares with the worker, and pjsua then
# sends a re-INVITE to lock one, racing the browser's own set-up (a call answered in the
# browser was once hung up 3 s later); one codec in the answer, and no re-INVITE.
TO_WORKER_FLAGS = f"ICE=remove DTLS=off RTP/AVP rtcp-mux-demux single-codec {_REWRITE}"
START_SECONDS = 10.0
RESTART_DELAY = 1.0


@dataclass(frozen=True)
class Credentials:
    username: str  # "<expiry>:<agent's username>"
    password: str
    expires: int  # UNIX time


@dataclass(frozen=True)
class SoftphoneLine:
    """What the console's app needs of a running gateway: where to relay browsers, what the
    workers ring, and how to sign an agent's credentials."""

    sip: HostPort  # the workers ring sip:<username>@sip
    websocket_url: str  # where the consoles' relays connect (loopback on one machine)
    secret: str
    ttl: float = 8 * 3600.0

    def uri(self, username: str) -> str:
        return f"sip:{username}@{self.sip}"

    def credentials(self, username: str, now: float | None = None) -> Credentials:
        expires = int((time.time() if now is None else now) + self.ttl)
        name = f"{expires}:{username}"
        digest = hmac.new(self.secret.encode(), name.encode(), hashlib.sha256).digest()
        return Credentials(name, base64.b64encode(digest).decode(), expires)


def network_address() -> str | None:
    """This machine's address on its network (the source of its default route): where
    browsers on other desks, and Chromium on this one, send a browser phone's media.
    Chromium gathers no loopback candidates, so 127.0.0.1 works only for tests that allow it.
    No packet is sent: a UDP socket's connect only picks the route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # TEST-NET-2: routed, never sent to
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def missing_parts() -> list[str]:
    """What this machine lacks to run the gateway (`make run` installs it)."""
    modules = (WEBSOCKET_MODULE, WEBSOCKET_MODULE.with_name("auth_ephemeral.so"))
    needed = (KAMAILIO, RTPENGINE, *modules)
    return [str(p) for p in needed if not p.exists()]


def render_config(
    folder: Path, line: SoftphoneLine, ws_port: int, ng_port: int, worker_subnets: str
) -> Path:
    fields = {
        "SIP_LISTEN": str(line.sip),
        "WS_LISTEN": f"{line.sip.host}:{ws_port}",
        "CTL_SOCKET": str(folder / "kamailio.ctl"),
        "SECRET": line.secret,
        "REALM": REALM,
        "NG_LISTEN": f"127.0.0.1:{ng_port}",
        "WORKER_SUBNETS": worker_subnets,
        "TO_BROWSER_FLAGS": TO_BROWSER_FLAGS,
        "TO_WORKER_FLAGS": TO_WORKER_FLAGS,
    }
    text = TEMPLATE.read_text()
    for name, value in fields.items():
        text = text.replace(f"@@{name}@@", value)
    rendered = folder / "softphone.cfg"
    rendered.touch(mode=0o600)  # it holds the secret
    rendered.write_text(text)
    return rendered


def _rtpengine_answers(ng_port: int) -> bool:
    """rtpengine's control protocol ("ng": a cookie, then a bencoded dictionary) answers a
    ping with pong."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.3)
        probe.sendto(b"start d7:command4:pinge", ("127.0.0.1", ng_port))
        try:
            return b"pong" in probe.recv(200)
        except OSError:
            return False


def _free_tcp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _accepts_tcp(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


class SoftphoneGateway:
    """Kamailio + rtpengine for browser phones, started and stopped by the server."""

    def __init__(
        self,
        folder: Path,
        sip: HostPort,
        *,
        media_address: str = "",
        rtp_ports: tuple[int, int] = (30000, 30999),
        worker_subnets: str = "127.0.0.0/8",
    ) -> None:
        self.folder = folder
        self.sip = sip
        self.media_address = media_address or network_address() or sip.host
        self.rtp_ports = rtp_ports
        self.worker_subnets = worker_subnets
        self.line: SoftphoneLine | None = None
        self._procs: list[asyncio.subprocess.Process] = []
        self._ports = (0, 0)  # Kamailio's WebSocket, rtpengine's control
        self._keeper: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> SoftphoneLine:
        """Start both daemons and keep them running (started again if one dies, on the same
        ports with the same secret: consoles reconnect and their credentials still hold)."""
        missing = missing_parts()
        if missing:
            raise StartupError(f"browser phones need {', '.join(missing)}: run `make run` once")
        self.folder.mkdir(parents=True, exist_ok=True)
        # The WebSocket listens where SIP does: on loopback for one machine, on the front's
        # address for app processes on other machines (they relay their consoles' pages to it).
        self._ports = _free_tcp_port(self.sip.host), free_loopback_port()
        line = SoftphoneLine(
            self.sip, f"ws://{self.sip.host}:{self._ports[0]}", secrets.token_urlsafe(32)
        )
        await self._launch(line)
        self.line = line
        self._stopping = False
        self._keeper = asyncio.create_task(self._keep(line), name="softphone-gateway")
        log.info("browser phones: rung at %s (media on %s)", self.sip, self.media_address)
        return line

    async def _launch(self, line: SoftphoneLine) -> None:
        ws_port, ng_port = self._ports
        config = render_config(self.folder, line, ws_port, ng_port, self.worker_subnets)
        await check_kamailio_config(config)
        await self._spawn(
            "rtpengine",
            # --table=-1: userspace forwarding, no kernel module (none on these machines).
            str(RTPENGINE), "--config-file=none", "--foreground", "--log-stderr", "--table=-1",
            f"--interface={self.media_address}", f"--listen-ng=127.0.0.1:{ng_port}",
            f"--port-min={self.rtp_ports[0]}", f"--port-max={self.rtp_ports[1]}",
            "--log-level=5", "--num-threads=2", "--delete-delay=0",
        )  # fmt: skip
        # Kamailio pings rtpengine once at start and leaves it out for a minute if it is silent.
        deadline = time.monotonic() + START_SECONDS
        while not await asyncio.to_thread(_rtpengine_answers, ng_port):
            if time.monotonic() > deadline or self._procs[0].returncode is not None:
                await self._end_processes()
                raise StartupError(f"rtpengine did not start; see {self.folder}/rtpengine.log")
        await self._spawn(
            "kamailio",
            str(KAMAILIO), "-DD", "-E", "-f", str(config), "-P", str(self.folder / "kamailio.pid"),
            "-m", "32", "-M", "8",
        )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while not _accepts_tcp(self.sip.host, ws_port):
            if time.monotonic() > deadline or any(p.returncode is not None for p in self._procs):
                await self._end_processes()
                raise StartupError(
                    f"the softphone gateway did not start; see {self.folder}/*.log"
                )
            await asyncio.sleep(0.1)

    async def _keep(self, line: SoftphoneLine) -> None:
        """Either daemon exiting takes both down and up again: rtpengine's calls and
        Kamailio's registrations are in memory, and the consoles' phones re-register."""
        while not self._stopping:
            waits = [asyncio.ensure_future(p.wait()) for p in self._procs]
            if not waits:
                await asyncio.sleep(RESTART_DELAY)
            else:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for wait in waits:
                    wait.cancel()
            if self._stopping:
                return
            log.warning("browser-phone gateway: a daemon exited; starting both again")
            await self._end_processes()
            await asyncio.sleep(RESTART_DELAY)
            try:
                await self._launch(line)
            except (StartupError, OSError) as exc:  # e.g. a port not yet released
                log.error("browser-phone gateway did not come back: %s", exc)
                await asyncio.sleep(5)

    async def _spawn(self, name: str, *command: str) -> None:
        with (self.folder / f"{name}.log").open("ab") as log_file:
            self._procs.append(
                await asyncio.create_subprocess_exec(
                    *command, stdout=log_file, stderr=log_file,
                    start_new_session=True,  # its own group: its children stop with it
                )  # fmt: skip
            )

    async def stop(self) -> None:
        self._stopping = True
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None
        await self._end_processes()
        self.line = None

    async def _end_processes(self) -> None:
        for proc in reversed(self._procs):
            # The whole group, also when its leader is gone: a killed Kamailio's children
            # would hold its ports against the next one. Orphans are killed outright: with
            # no leader to stop them in order, SIGTERM took them 1.5-2 s on this machine.
            dead = proc.returncode is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL if dead else signal.SIGTERM)
        for proc in self._procs:
            try:
                await asyncio.wait_for(proc.wait(), 5)
                await asyncio.wait_for(_group_gone(proc.pid), 5)  # the next starts after
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        self._procs.clear()


async def _group_gone(group: int) -> None:
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.05)
