"""Media taps are reused, never destroyed while the conference bridge runs (`TapPool`)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from clinicline.harness import ROOT, free_port


def test_taps_are_reused_after_their_quarantine_and_never_made_per_call() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.voice.tap_pool_probe", str(free_port(socket.SOCK_DGRAM))],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout[done.stdout.index("{") :])
    assert result["quarantined_tap_given_out"] is False, result
    assert result["reused_after_quarantine"] is True, result
    assert result["second_release_ignored"] is True, result
    assert result["queued_after_release"] == 0, result  # the last call's words are not replayed
    # 500 calls one after another cost three taps: the first, the one made during its
    # quarantine, and one more; never one per call.
    assert result["taps_made"] == 3, result
