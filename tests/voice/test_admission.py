"""The worker's admission rules on a fake clock: per-source rate, call slots, media set-ups."""

from __future__ import annotations

import pytest

from voice.sip.admission import (
    MAX_TRACKED_SOURCES,
    MEDIA_SETUP_BURST,
    AdmissionPolicy,
    CallAdmission,
    TokenBucket,
)
from voice.sip.call import dialog_tags


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _admission(**policy: object) -> tuple[CallAdmission, Clock]:
    clock = Clock()
    return CallAdmission(AdmissionPolicy(**policy), clock), clock  # type: ignore[arg-type]


def test_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.seconds_to_token(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) and not bucket.take(0.5)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]


def test_a_flooding_source_gets_one_503_a_second_and_silence_otherwise() -> None:
    admission, clock = _admission(per_source_rate=1.0, per_source_burst=2, transfer_reserve=0)
    verdicts = [admission.decide("198.51.100.7", 0, 4) for _ in range(50)]
    assert verdicts[:2] == [None, None]
    answered = [v for v in verdicts[2:] if v is not None and not v.silent]
    assert len(answered) == 1 and answered[0].code == 503
    assert answered[0].retry_after is not None and answered[0].retry_after >= 1
    assert all(v is not None and v.silent for v in verdicts[3:])
    assert admission.counters.dropped == 47 and admission.counters.rate_limited == 1
    clock.now += 1.0
    assert admission.decide("198.51.100.7", 0, 4) is None  # one token back after a second


def test_a_flood_from_one_source_does_not_shut_out_another() -> None:
    admission, clock = _admission(transfer_reserve=0)
    for _ in range(500):
        admission.decide("198.51.100.7", 0, 4)
    clock.now += 1.0  # the media bound refills too
    assert admission.decide("203.0.113.20", 0, 4) is None


def test_no_free_slot_is_busy_and_the_transfer_reserve_is_kept() -> None:
    admission, _ = _admission(transfer_reserve=1)
    assert admission.decide("203.0.113.20", 2, 4) is None
    busy = admission.decide("203.0.113.21", 3, 4)  # a bridged transfer needs the 4th slot
    assert busy is not None and busy.code == 486 and not busy.silent
    assert admission.slots_free(3, 4) == 0 and admission.slots_free(1, 4) == 2


def test_media_setups_are_bounded_whoever_asks() -> None:
    admission, clock = _admission(transfer_reserve=0)
    sources = [f"203.0.113.{i}" for i in range(MEDIA_SETUP_BURST + 2)]
    verdicts = [admission.decide(source, 0, 4) for source in sources]
    assert verdicts[:MEDIA_SETUP_BURST] == [None] * MEDIA_SETUP_BURST
    limited = verdicts[MEDIA_SETUP_BURST]
    assert limited is not None and limited.code == 503 and limited.retry_after == 1
    clock.now += 0.25
    assert admission.decide("203.0.113.99", 0, 4) is None


def test_trusted_proxy_is_not_rate_limited_per_source() -> None:
    admission, clock = _admission(trusted_sources=frozenset({"10.0.0.5"}), transfer_reserve=0)
    admitted = 0
    for _ in range(40):
        clock.now += 0.4  # 2.5 INVITEs a second: over a caller's rate, under its media share
        admitted += admission.decide("10.0.0.5", 0, 4) is None
    assert admitted == 40


def test_a_trusted_flood_leaves_a_media_setup_a_second_for_everyone_else() -> None:
    admission, clock = _admission(trusted_sources=frozenset({"10.0.0.5"}), transfer_reserve=0)
    flood_admitted = others_admitted = 0
    for second in range(30):
        for tick in range(200):  # 200 INVITEs a second from the proxy
            clock.now = 1000.0 + second + tick / 200
            flood_admitted += admission.decide("10.0.0.5", 0, 4) is None
            if tick == 100:  # one real caller from elsewhere each second, mid-flood
                others_admitted += admission.decide(f"203.0.113.{second}", 0, 4) is None
    assert others_admitted == 30
    # The flood got its share (3 a second, after a burst of 3), and not one set-up more.
    assert 3 * 30 <= flood_admitted <= 3 * 30 + 3


def test_source_table_stays_bounded_under_spoofed_addresses() -> None:
    admission, _ = _admission()
    for i in range(MAX_TRACKED_SOURCES + 100):
        admission.decide(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", 0, 4)
    assert len(admission._sources) == MAX_TRACKED_SOURCES
    assert len(admission.counters.sources) <= 32


@pytest.mark.parametrize(
    ("response", "tags"),
    [
        (
            "SIP/2.0 200 OK\r\nFrom: \"+15550100007\" <sip:+15550100007@127.0.0.2>;tag=abc-1\r\n"
            "To: <sip:clinic@127.0.0.1>;tag=Xy.Z9\r\nCall-ID: 1@h\r\n\r\n",
            ("Xy.Z9", "abc-1"),
        ),
        ("SIP/2.0 200 OK\r\nf: <sip:a@b>;tag=R\r\nt: <sip:c@d> ; tag=L\r\n\r\n", ("L", "R")),
        ("SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=R\r\nTo: <sip:c@d>\r\n\r\n", None),
    ],
)
def test_dialog_tags_come_from_our_2xx(response: str, tags: tuple[str, str] | None) -> None:
    assert dialog_tags(response) == tags
