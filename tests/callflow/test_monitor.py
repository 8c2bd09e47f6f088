"""A supervisor listens to, whispers on, or barges into a call bridged to a nurse.

Real server, real caller, nurse and supervisor phones (each its own pjsua2 process, each
transcribing what it heard); the nurse and the supervisor sign in to the console over its HTTP
API, and the supervisor asks to join through it. Rasa is off: the red-flag path does not need
it. One row per mode: who hears the supervisor is the whole difference between them.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import wave
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clinicline.harness import (
    ROOT,
    ServerProcess,
    bridged_calls,
    next_bridged_call,
    phone_call,
    start_demo_clinic,
    wait_for_record,
    when_logged,
)
from tests.callflow.console_agent import sign_in_at_console
from tests.staff_lines import STAFF_PORT, always_open_hours, answer_log, staff_phone

pytestmark = pytest.mark.slow

SUPERVISOR_SAYS = "Ask him whether he takes blood thinners."
# Her line as a phone's recogniser writes it: a CI run heard "blood centers". No one else on
# the call says either word (the nurse, the caller, the bot's guidance and the nurse's whisper).
HER_WORDS = ("blood", "thinner")
CALLER_SAYS_LATER = "He is starting to breathe again now."
# mode: (the nurse hears the supervisor, the caller hears the supervisor)
HEARD_BY = {"listen": (False, False), "whisper": (True, False), "barge": (True, True)}


@pytest.fixture(scope="module")
def clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    server = start_demo_clinic(
        tmp_path_factory.mktemp("monitor"),
        staff_port=STAFF_PORT,
        data_dir=speech_data_dir,
        env={"CLINICLINE_HOURS_FILE": str(always_open_hours()), "CLINICLINE_RING_TIMEOUT": "15"},
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()[-3000:]


def _phone(server: ServerProcess, user: str, say: str, stay: float, *extra: str) -> Any:
    return staff_phone(
        server.env, user, "--answer-after", "1", "--stay", str(stay), "--say", say,
        "--timeout", "200", *extra,
    )  # fmt: skip


async def _until_exists(path: Path) -> None:
    while not path.exists():
        await asyncio.sleep(0.3)


def _recording(server: ServerProcess, call_id: str, out: Path) -> tuple[np.ndarray, np.ndarray]:
    done = subprocess.run(
        [sys.executable, "-m", "clinicline.cli", "calls", "recording", call_id, "--out", str(out),
         "--db", server.db_url],
        cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 8000)
        stereo = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return stereo[0::2], stereo[1::2]


def _has_her_words(text: str) -> bool:
    return any(word in text.lower() for word in HER_WORDS)


def _rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


def _seconds(record: dict[str, Any]) -> float:
    started, ended = (datetime.fromisoformat(record[k]) for k in ("started", "ended"))
    return (ended - started).total_seconds()


@pytest.mark.parametrize("mode", list(HEARD_BY))
async def test_a_supervisor_joins_a_bridged_call_heard_only_by_whom_the_mode_says(
    clinic: ServerProcess, mode: str, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{clinic.http_port}"
    nurse = await sign_in_at_console(base, "nurse1")
    # Away: the emergent call is not offered to her (she is in the nurse queue too).
    supervisor = await sign_in_at_console(base, "super1", "away")
    nurse_phone = _phone(clinic, "nurse1", "Nurse speaking, I am with you.", 70)
    supervisor_phone = _phone(clinic, "super1", SUPERVISOR_SAYS, 26, "--accept-key", "none")
    joined = tmp_path / "joined"
    watch = asyncio.create_task(when_logged(clinic, ": supervisor joined", joined))
    bridges = len(bridged_calls(clinic))
    caller = asyncio.create_task(
        asyncio.to_thread(
            phone_call,
            clinic,
            "--say",
            "my husband collapsed and he is not breathing",
            "--wait-for",
            f"150:{joined}",
            "--say",
            CALLER_SAYS_LATER,
            "--wait",
            "16",
            "--listen",
            "4",
            timeout=300,
        )  # fmt: skip
    )
    try:
        call_id = await asyncio.wait_for(next_bridged_call(clinic, bridges), 150)
        async with supervisor.http.post(
            f"{base}/console/calls/{call_id}/monitor", json={"mode": mode}
        ) as r:
            assert r.status == 202, await r.text()
        if mode == "listen":  # a second supervisor while the first is on it: refused, said so
            await asyncio.wait_for(_until_exists(joined), 120)
            second = await sign_in_at_console(base, "super2", "away")
            async with second.http.post(
                f"{base}/console/calls/{call_id}/monitor", json={"mode": "barge"}
            ) as r:
                assert r.status == 202, await r.text()
            await second.close()
        result = await caller
        supervisor_heard = await asyncio.to_thread(answer_log, supervisor_phone)
        nurse_heard = await asyncio.to_thread(answer_log, nurse_phone)
    finally:
        watch.cancel()
        await nurse.close()
        await supervisor.close()
        for phone in (nurse_phone, supervisor_phone):
            if phone.poll() is None:
                phone.kill()
    record = await asyncio.to_thread(wait_for_record, clinic, result["call_id"])
    kinds = [e["kind"] for e in record["events"]]
    started = [e["data"] for e in record["events"] if e["kind"] == "monitor_started"]
    assert started and started[0]["mode"] == mode, kinds
    assert kinds.index("bridged") < kinds.index("monitor_started") < kinds.index("monitor_ended")

    she = supervisor_heard["calls"][0]
    assert she["answered"], supervisor_heard
    assert "breath" in she["heard"].lower(), she["heard"]  # the caller, after she joined
    nurse_hears, caller_hears = HEARD_BY[mode]
    by_nurse = nurse_heard["calls"][0]["heard"].lower()
    by_caller = " ".join(t["heard"] for t in result["turns"]).lower()
    assert _has_her_words(by_nurse) == nurse_hears, by_nurse
    assert _has_her_words(by_caller) == caller_hears, by_caller
    refused = [e["data"] for e in record["events"] if e["kind"] == "monitor_refused"]
    assert len(refused) == (mode == "listen"), kinds
    assert all(r["supervisor_id"] != started[0]["supervisor_id"] for r in refused)
    # The call's recording (decrypted by the operator's CLI): the caller on the left, what she
    # heard on the right, the supervisor there only when the caller heard her.
    said, heard = _recording(clinic, result["call_id"], tmp_path / "call.wav")
    assert _rms(said) > 300 and _rms(heard) > 300, (_rms(said), _rms(heard))
    assert abs(len(said) / 8000 - _seconds(record)) < 3, (len(said) / 8000, _seconds(record))
    # Her words are in the transcript when someone on the call heard them, never otherwise.
    monitor_turns = " ".join(t["text"] for t in record["turns"] if t["speaker"] == "monitor")
    assert _has_her_words(monitor_turns) == nurse_hears, record["turns"]
