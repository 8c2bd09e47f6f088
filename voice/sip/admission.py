"""Which new calls a worker takes: per-source INVITE rate, free call slots, media set-up rate.

Decided for every new INVITE before pjsua allocates a call slot or any media (see
`voice.sip.front_door`), so a flood costs a token-bucket lookup and at most one stateless
response per source and second — never a dialog, an RTP socket or a session.

Why a global bound on media set-ups as well: pjsua opens two sockets (RTP, RTCP) per call in
pjsip's one ioqueue, which this wheel builds with 64 keys. A closed socket's key only returns
to the free list 500 ms later (PJ_IOQUEUE_KEY_FREE_DELAY), so calls that are answered and
hung up at once (`sipp -sn uac` does exactly that) use keys up faster than they come back,
whatever the call cap; the next registration then hits `pj_assert` in
`pj_ioqueue_register_sock2` and aborts the process. With at most MEDIA_SETUP_BURST set-ups at
once and MEDIA_SETUPS_PER_SECOND after that, the keys in use stay below 1 (SIP) + 2 x 4 (live
calls) + 2 x (4 + 4 + 2) (calls ended in the last 500 ms) = 29 of 64.

A trusted source (the proxy in front) has no per-source rate, but it may not take the whole
media bound either: it gets at most MEDIA_SETUPS_PER_SECOND - 1 set-ups a second, so one a
second is always left for someone else (any other source is held to `per_source_rate`).
Measured before this share: a 200/s flood from a trusted address took every set-up, and 0 of
15 real calls from another address were answered during it.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MEDIA_SETUPS_PER_SECOND = 4.0
MEDIA_SETUP_BURST = 4
# The most of the media bound one trusted source may use (see the module docstring).
SOURCE_MEDIA_SHARE_PER_SECOND = MEDIA_SETUPS_PER_SECOND - 1
SOURCE_MEDIA_SHARE_BURST = MEDIA_SETUP_BURST - 1
# Per-source buckets kept; the least recently seen source is forgotten first. A flood from
# more addresses than this still meets the global media bound.
MAX_TRACKED_SOURCES = 4096


@dataclass(frozen=True)
class AdmissionPolicy:
    """The knobs; the defaults suit one clinic line (a phone sends one INVITE per call)."""

    # Sustained INVITEs per second one source address may send, and how many at once.
    per_source_rate: float = 1.0
    per_source_burst: int = 5
    # Sources exempt from the per-source bound: the proxy in front (Kamailio) sends every
    # caller's INVITE from its own address. The slot and media bounds still apply, and so
    # does the per-source share of the media bound.
    trusted_sources: frozenset[str] = frozenset()
    # Call slots kept free for consult legs: a bridged warm transfer holds two slots.
    transfer_reserve: int = 1
    # Retry-After (seconds) on a 503 for a source over its rate.
    retry_after: int = 5


@dataclass(frozen=True)
class Refusal:
    """How to turn an INVITE away: a stateless response, or nothing at all (`silent`)."""

    code: int
    reason: str
    retry_after: int | None = None
    silent: bool = False


BUSY = Refusal(486, "Busy Here")
SHUTTING_DOWN = Refusal(503, "Shutting Down", retry_after=30)


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def seconds_to_token(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclass
class _Source:
    invites: TokenBucket
    # One refusal a second is answered; the rest of a flood is dropped unanswered.
    answers: TokenBucket


@dataclass
class AdmissionCounters:
    """What was turned away, by reason (shown in /health)."""

    admitted: int = 0
    rate_limited: int = 0  # answered 503 + Retry-After
    dropped: int = 0  # over the rate and already answered this second: no response
    busy: int = 0  # no call slot (486)
    media_limited: int = 0  # the global media set-up bound (503 + Retry-After)
    sources: dict[str, int] = field(default_factory=dict)  # refusals by source, bounded


class CallAdmission:
    """Decides each new INVITE: admit, refuse with a response, or drop."""

    def __init__(
        self, policy: AdmissionPolicy, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._sources: collections.OrderedDict[str, _Source] = collections.OrderedDict()
        self._media = TokenBucket(MEDIA_SETUPS_PER_SECOND, MEDIA_SETUP_BURST, clock())
        # Each trusted source's share of the media bound; the others have their `invites`.
        self._shares = {
            source: TokenBucket(SOURCE_MEDIA_SHARE_PER_SECOND, SOURCE_MEDIA_SHARE_BURST, clock())
            for source in policy.trusted_sources
        }
        self.counters = AdmissionCounters()

    def slots_free(self, in_use: int, cap: int) -> int:
        """Slots a new caller could still take, the transfer reserve kept back."""
        return max(0, cap - self.policy.transfer_reserve - in_use)

    def decide(self, source: str, in_use: int, cap: int) -> Refusal | None:
        """None to admit the INVITE from `source` while `in_use` of `cap` slots are held."""
        now = self._clock()
        share = self._shares.get(source)
        if share is None:
            refusal = self._source_refusal(source, now)
            if refusal is not None:
                return refusal
        if self.slots_free(in_use, cap) < 1:
            self.counters.busy += 1
            return BUSY
        for bucket in (self._media,) if share is None else (share, self._media):
            if not bucket.take(now):
                self.counters.media_limited += 1
                wait = max(1, math.ceil(bucket.seconds_to_token(now)))
                return Refusal(503, "Service Unavailable", retry_after=wait)
        self.counters.admitted += 1
        return None

    def _source_refusal(self, source: str, now: float) -> Refusal | None:
        state = self._sources.get(source)
        if state is None:
            policy = self.policy
            state = _Source(
                TokenBucket(policy.per_source_rate, policy.per_source_burst, now),
                TokenBucket(1.0, 1, now),
            )
            self._sources[source] = state
            if len(self._sources) > MAX_TRACKED_SOURCES:
                self._sources.popitem(last=False)
        self._sources.move_to_end(source)
        if state.invites.take(now):
            return None
        self._count_source(source)
        if not state.answers.take(now):
            self.counters.dropped += 1
            return Refusal(503, "Service Unavailable", silent=True)
        self.counters.rate_limited += 1
        wait = max(self.policy.retry_after, math.ceil(state.invites.seconds_to_token(now)))
        return Refusal(503, "Service Unavailable", retry_after=wait)

    def _count_source(self, source: str) -> None:
        tally = self.counters.sources
        if source in tally or len(tally) < 32:
            tally[source] = tally.get(source, 0) + 1
