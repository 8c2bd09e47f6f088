"""Exercise `TapPool` on a real pjsua2 endpoint with its conference bridge ticking.

Run as ``python -m tests.voice.tap_pool_probe PORT`` (test_tap_pool.py): pjsua2 allows one
endpoint per process, so the pool is tried in a process of its own. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np

from voice.sip.endpoint import SipEndpoint
from voice.sip.media import QUARANTINE_S, TapPool


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def probe(port: int) -> dict[str, object]:
    endpoint = SipEndpoint("127.0.0.1", port, user_agent="tap-pool-probe")
    endpoint.start()
    clock = FakeClock()
    pool = TapPool(asyncio.get_running_loop(), clock=clock)
    first = pool.acquire(lambda _pcm: None)
    first.enqueue(np.zeros(800, dtype=np.int16))
    pool.release(first, None)
    queued_after_release = first.queued_frames
    pool.release(first, None)  # a second release must not put it in the pool twice
    during_quarantine = pool.acquire(lambda _pcm: None)
    clock.now += QUARANTINE_S
    reused = pool.acquire(lambda _pcm: None)
    reused_after_quarantine = reused is first
    after_quarantine = pool.acquire(lambda _pcm: None)
    # Many calls one after another, as a flood of answered-and-hung-up calls makes them.
    for _ in range(500):
        clock.now += QUARANTINE_S
        pool.release(reused, None)
        clock.now += QUARANTINE_S
        reused = pool.acquire(lambda _pcm: None)
    await asyncio.sleep(0.5)  # the bridge ticks over every tap meanwhile
    result: dict[str, object] = {
        "quarantined_tap_given_out": during_quarantine is first,
        "reused_after_quarantine": reused_after_quarantine,
        "second_release_ignored": after_quarantine is not first,
        "queued_after_release": queued_after_release,
        "taps_made": pool.size,
    }
    # Every tap must be gone before `libDestroy`: the pool's and these names alike.
    del first, reused, during_quarantine, after_quarantine
    await endpoint.shutdown(release=pool.close)
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(int(sys.argv[1])))), flush=True)
