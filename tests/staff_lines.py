"""Where the demo clinic's staff phones answer in this test process.

The demo clinic's staff have desk phones at 127.0.0.1:5070 and up (`clinicline seed --demo`)
and the always-open hours file rings the on-call line at 5090. Under `pytest -n 3` three test
processes run call-flow tests side by side: each seeds its clinics with a port range of its own
(`--staff-port`: 5070, 5270, 5470) and rings its own on-call line, so none picks up another's
transfers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from integrations.seed.demo_clinic import SIP_FIRST_PORT, SIP_HOST, STAFF

ROOT = Path(__file__).resolve().parent.parent
HOURS_TEMPLATE = ROOT / "tests" / "fixtures" / "hours_always_open.yaml"
TEMPLATE_ON_CALL = "sip:oncall@127.0.0.1:5090"
PORTS_PER_PROCESS = 200


def _process_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # "gw1" under xdist; unset alone
    return int(worker.removeprefix("gw") or 0)


STAFF_PORT = SIP_FIRST_PORT + PORTS_PER_PROCESS * _process_index()
ON_CALL = f"{SIP_HOST}:{STAFF_PORT + 20}"


def desk(username: str) -> str:
    """HOST:PORT of a demo staff member's phone, as `clinicline seed --staff-port` wrote it."""
    names = [name for name, *_ in STAFF]
    return f"{SIP_HOST}:{STAFF_PORT + names.index(username)}"


def always_open_text(on_call: str) -> str:
    """The always-open hours file's text with the on-call line at `on_call` (HOST:PORT)."""
    text = HOURS_TEMPLATE.read_text()
    assert TEMPLATE_ON_CALL in text
    return text.replace(TEMPLATE_ON_CALL, f"sip:oncall@{on_call}")


def always_open_hours() -> Path:
    """The always-open hours file, its on-call line at this process's `ON_CALL`."""
    text = always_open_text(ON_CALL)
    path = ROOT / "var" / "test-hours" / f"always-open-{STAFF_PORT}.yaml"
    if not path.exists() or path.read_text() != text:
        # Servers of earlier tests may be reading it: the file changes in one step.
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_suffix(".new")
        fresh.write_text(text)
        os.replace(fresh, path)
    return path


def staff_phone(
    env: dict[str, str], user: str, *options: str, where: str | None = None
) -> subprocess.Popen[str]:
    """A staff member's desk phone (`clinicline answer`) at `where` (her desk by default),
    running until its call is over; `answer_log` reads what it did and heard."""
    return subprocess.Popen(
        [sys.executable, "-m", "clinicline.cli", "answer", "--listen", where or desk(user),
         "--user", user, *options],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def answer_log(phone: subprocess.Popen[str], timeout: float = 150) -> dict[str, Any]:
    """The JSON a staff phone printed when it exited: its calls, answered or not, and heard."""
    out, _ = phone.communicate(timeout=timeout)
    log: dict[str, Any] = json.loads(out[out.index("{") :])
    return log
