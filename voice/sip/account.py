"""The local SIP identity of a worker or a test phone (no registrar: peers call us directly)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import pjsua2 as pj

log = logging.getLogger(__name__)


class LocalAccount(pj.Account):
    """Hands each incoming call's pjsua id to a callback, on the asyncio thread."""

    def __init__(self, on_incoming: Callable[[int, str], None] | None = None) -> None:
        super().__init__()
        self._on_incoming = on_incoming

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:  # noqa: N802
        if self._on_incoming is None:
            return
        try:
            # The whole INVITE, for headers such as the transfer context token.
            self._on_incoming(prm.callId, prm.rdata.wholeMsg)
        except Exception:
            log.exception("incoming call handler failed")

    def shutdown(self) -> None:
        with contextlib.suppress(pj.Error):
            super().shutdown()


def create_account(
    host: str,
    port: int,
    user: str = "clinic",
    on_incoming: Callable[[int, str], None] | None = None,
    rtp_port: int = 0,
    *,
    proxy: str | None = None,
    default: bool = True,
) -> LocalAccount:
    """Create an account bound to HOST (the default one unless `default` is False): RTP stays
    on the same address as SIP. With `proxy` ("sip:host:port;lr"), the calls it places leave
    through that proxy (a Route header), and their dialogs with them."""
    cfg = pj.AccountConfig()
    cfg.idUri = f"sip:{user}@{host}:{port}" if port else f"sip:{user}@{host}"
    cfg.mediaConfig.transportConfig.boundAddress = host
    cfg.mediaConfig.transportConfig.publicAddress = host
    if rtp_port:
        cfg.mediaConfig.transportConfig.port = rtp_port
        cfg.mediaConfig.transportConfig.portRange = 400
    if proxy:
        cfg.sipConfig.proxies.append(proxy)
    account = LocalAccount(on_incoming)
    account.create(cfg, default)
    return account
