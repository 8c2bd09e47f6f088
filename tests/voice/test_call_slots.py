"""A finished call's object, let go of late, never touches the call that took its slot."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from clinicline.harness import ROOT, free_port


def test_a_late_let_go_call_object_leaves_the_newer_call_in_its_slot_alone() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.voice.call_slot_probe", str(free_port(socket.SOCK_DGRAM))],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stderr[-3000:]
    result = json.loads(lines[0])
    assert result["slot_reused"], result  # the situation under test did arise
    # pjsua2's own destructor would have hung the newer call up and cut it off its events.
    assert result["newer_call_survived"] is True, result
    assert result["newer_call_heard_its_end"] is True, result
    assert result["call_let_go_of_while_up_was_ended"] is True, result
    # Every object let go of was deleted once its slot was idle: only the one kept remains.
    assert result["call_objects_left"] == 1, result
    # ... and that one, still referred to when the library went down, did not abort the process.
    assert done.returncode == 0 and "shut down" in done.stdout, done.stderr[-3000:]
