"""One pjsua2 endpoint per process, driven from the asyncio loop.

pjsua2 is configured with no worker threads (``threadCnt = 0``, ``mainThreadOnly``) so SIP
callbacks run on the asyncio thread while the loop pumps ``libHandleEvents``. Media port
callbacks still arrive on pjmedia's clock thread; `voice.sip.media` hands them over.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pjsua2 as pj

from voice.sip import native
from voice.sip.call import release_calls
from voice.sip.front_door import FrontDoor, Judge

log = logging.getLogger(__name__)

# How often the idle pump deletes call objects nothing refers to any more.
RELEASE_EVERY_S = 0.25
# The pump polls pjsip every 5 ms while SIP traffic flows and for a second after, every
# 20 ms otherwise. Measured on an idle `clinicline answer` phone on this 2-core machine:
# 7.3 % of a core polling every 5 ms, 3.4 % (all threads) every 20 ms; every server and
# phone runs one. A request arriving at an idle endpoint waits 20 ms at most; media does
# not go through the pump.
BUSY_POLL_S = 0.005
IDLE_POLL_S = 0.02
BUSY_FOR_S = 1.0

# Preferred codecs first; without priorities two pjsua2 peers settle on speex.
CODEC_PRIORITY = {"PCMU/8000": 255, "PCMA/8000": 254, "G722/16000": 253}
# Whatever `maxCalls` says, the wheel's compile-time PJSUA_MAX_CALLS wins; we ask for more
# and read back what the library granted.
REQUESTED_MAX_CALLS = 32


@dataclass(frozen=True)
class EndpointInfo:
    """What the endpoint actually got at start-up."""

    host: str
    port: int
    call_cap: int
    version: str


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Keep stdout clean for machine-readable output (e.g. `clinicline call`'s JSON)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class _Endpoint(pj.Endpoint):
    """pjsua2 reports calls it refused on its own (over the call cap) only here."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    def onRejectedIncomingCall(self, prm: pj.OnRejectedIncomingCallParam) -> None:  # noqa: N802
        try:
            self.refused += 1
            log.warning("incoming call refused by pjsua: %s %s", prm.statusCode, prm.reason)
        except Exception:
            log.exception("refusal callback failed")


class SipEndpoint:
    """Owns the pjsua2 library: start, pump events, and destroy in the safe order."""

    def __init__(self, host: str, port: int, user_agent: str = "clinicline") -> None:
        self.host = host
        self.port = port
        self.user_agent = user_agent
        self._ep: _Endpoint | None = None
        self._pump: asyncio.Task[None] | None = None
        self._objects: list[object] = []  # pjsua2 objects that must die before libDestroy
        self._door: FrontDoor | None = None
        self.info: EndpointInfo | None = None

    def start(
        self, *, null_audio: bool = True, judge: Judge | None = None, tls_client: bool = False
    ) -> EndpointInfo:
        """Start pjsua; with `judge`, every new INVITE passes it before pjsua takes it.

        `tls_client` adds a SIP-over-TLS transport (an ephemeral port) for calling a
        `;transport=tls` URI, such as the SIP front's TLS port. It does not check the server's
        certificate: the front's is self-signed (a real phone is given the clinic's CA).
        """
        ep = _Endpoint()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = REQUESTED_MAX_CALLS
        cfg.uaConfig.userAgent = self.user_agent
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.channelCount = 1
        cfg.medConfig.noVad = True  # keep RTP flowing during silence: peers measure timing
        cfg.medConfig.ecTailLen = 0
        cfg.logConfig.level = 1
        cfg.logConfig.consoleLevel = 1
        with _stdout_to_stderr():  # pjlib logs to stdout before our log config applies
            ep.libCreate()
            ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = self.host
        tcfg.port = self.port
        try:
            ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
            if tls_client:
                secure = pj.TransportConfig()
                secure.boundAddress = self.host
                secure.port = 0
                secure.tlsConfig.verifyServer = False
                ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, secure)
        except pj.Error as exc:
            ep.libDestroy()
            raise OSError(
                f"cannot listen for SIP on {self.host}:{self.port}: {exc.info()}"
            ) from exc
        ep.libStart()
        if null_audio:
            ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            ep.codecSetPriority(codec.codecId, 0)
        for codec_id, prio in CODEC_PRIORITY.items():
            ep.codecSetPriority(codec_id, prio)
        self._ep = ep
        if judge is not None:
            self._door = FrontDoor(judge)
            self._door.open()
        self.info = EndpointInfo(self.host, self.port, native.call_cap(), ep.libVersion().full)
        return self.info

    @property
    def refused_calls(self) -> int:
        return self._ep.refused if self._ep is not None else 0

    @property
    def ep(self) -> pj.Endpoint:
        if self._ep is None:
            raise RuntimeError("SIP endpoint not started")
        return self._ep

    def active_call_count(self) -> int:
        """Calls pjsua holds now, inbound and outbound (0 when not started)."""
        return native.call_count() if self._ep is not None else 0

    def keep(self, obj: object) -> None:
        """Register a pjsua2 object (account, port) to be released before the library."""
        self._objects.append(obj)

    def run_pump(self) -> asyncio.Task[None]:
        """Start pumping SIP events on the running loop."""

        async def pump() -> None:
            ep = self.ep
            loop = asyncio.get_running_loop()
            next_release = 0.0
            busy_until = 0.0
            while True:
                handled = ep.libHandleEvents(0)
                now = loop.time()
                if handled > 0:
                    busy_until = now + BUSY_FOR_S
                    await asyncio.sleep(0)
                    continue
                # Here, never from a callback (see `release_calls`); a few times a second
                # is soon enough for objects waiting only for their slot to go idle.
                if now >= next_release:
                    release_calls()
                    next_release = now + RELEASE_EVERY_S
                await asyncio.sleep(BUSY_POLL_S if now < busy_until else IDLE_POLL_S)

        self._pump = asyncio.get_running_loop().create_task(pump(), name="sip-pump")
        return self._pump

    async def pump_for(self, seconds: float) -> None:
        """Let pending SIP transactions (BYEs, final responses) go out."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            self.ep.libHandleEvents(0)
            await asyncio.sleep(0.005)

    async def shutdown(self, release: Callable[[], None] | None = None) -> None:
        """Hang up everything, drop every pjsua2 object, then destroy the library."""
        if self._ep is None:
            return
        with contextlib.suppress(pj.Error):
            self._ep.hangupAllCalls()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self.pump_for(0.3)
        # Stop the conference bridge's clock first: while it ticks, it calls every media
        # port, and destroying a Python media port under it can crash (`voice.sip.media`).
        with contextlib.suppress(pj.Error):
            self._ep.audDevManager().setNoDev()
        if release is not None:
            release()
        gc.collect()
        release_calls()
        # A call object still referred to now would be deleted after the library, aborting
        # the process: delete it while the library is here (nothing may use it after this).
        if left := release_calls(everything=True):
            log.warning("%d call object(s) still referred to at shutdown; deleted", left)
        for obj in self._objects:
            shutdown = getattr(obj, "shutdown", None)
            if callable(shutdown):
                shutdown()
        self._objects.clear()
        if self._door is not None:
            self._door.close()
        gc.collect()
        self._ep.libDestroy()
        self._ep = None
