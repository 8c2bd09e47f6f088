"""The worker's front door: each new INVITE is judged before pjsua allocates anything for it.

pjsua2 has no hook before a call slot, a dialog and two RTP sockets exist (its account
selection callback cannot refuse: pjsua falls back to the default account), so the door is a
pjsip module of our own between the dialog layer and pjsua (`native.RequestFilter`). A
refused INVITE gets a stateless response, or none when `Refusal.silent`, and pjsua never sees
it. Refusals are logged once per source and kind every LOG_WINDOW seconds, with counts: a
flood must not flood the log too.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

from voice.sip import native
from voice.sip.admission import Refusal

log = logging.getLogger(__name__)

LOG_WINDOW = 10.0
# When judging itself fails, turn the caller away rather than let an unchecked call in.
_JUDGE_FAILED = Refusal(503, "Service Unavailable", retry_after=5)

Judge = Callable[[str], Refusal | None]


class FrontDoor:
    """Runs `judge(source_address)` on every new INVITE; None lets the INVITE through."""

    def __init__(self, judge: Judge, clock: Callable[[], float] = time.monotonic) -> None:
        self._judge = judge
        self._clock = clock
        self._filter = native.RequestFilter("mod-clinicline-door", self._on_request)
        self._window_start = clock()
        self._window: collections.Counter[tuple[str, str]] = collections.Counter()

    def open(self) -> None:
        self._filter.register()

    def close(self) -> None:
        self._filter.unregister()

    def _on_request(self, rx_data: int) -> bool:
        if not native.request_line(rx_data).startswith("Request msg INVITE/"):
            return False
        source = native.source_host(rx_data)
        try:
            refusal = self._judge(source)
        except Exception:
            log.exception("judging an INVITE failed; refusing it")
            refusal = _JUDGE_FAILED
        if refusal is None:
            return False
        if not refusal.silent:
            native.respond_stateless(rx_data, refusal.code, refusal.reason, refusal.retry_after)
        self._note(source, refusal)
        return True

    def _note(self, source: str, refusal: Refusal) -> None:
        now = self._clock()
        if now - self._window_start >= LOG_WINDOW:
            self._flush(now)
        kind = "dropped" if refusal.silent else f"{refusal.code} {refusal.reason}"
        self._window[(source, kind)] += 1
        if self._window[(source, kind)] == 1:
            log.warning("INVITE from %s refused: %s", source, kind)

    def _flush(self, now: float) -> None:
        for (source, kind), count in self._window.items():
            if count > 1:
                log.warning(
                    "%d INVITEs from %s refused in %.0f s: %s",
                    count, source, now - self._window_start, kind,
                )  # fmt: skip
        self._window.clear()
        self._window_start = now
