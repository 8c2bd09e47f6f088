"""Fixtures shared by every test area."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.demo_store import write_demo_template
from tests.integrations.fhir_server import FhirServer, running_fhir_server

ROOT = Path(__file__).resolve().parent.parent
# The longest modules (or groups), handed out first so that none starts last on a worker while
# the others sit idle (measured with `make test` on 2026-12-02: the Rasa clinic's modules
# 1,450 s of 7,050 s in all, the next ones 420 s and less). Only the order changes; a module
# not listed runs after these.
LONGEST_FIRST = (
    "rasa_clinic",
    "tests/callflow/test_rasa_restart.py",  # 652 s on 2026-12-04: it trains a model now
    "tests/voice/test_calls.py",
    "tests/dialogs/test_rasa_server.py",
    "tests/callflow/test_queue_wait.py",
    "tests/callflow/test_campaign_calls.py",
    "tests/test_cluster.py",
    "tests/test_several_machines.py",
    "tests/voice/test_sip_front.py",
)
# Modules that share the session's Rasa-backed clinic (`rasa_clinic`, ~65 CPU-s and 1.2 GB to
# load) run on one worker one after the other, so that it loads once per run, not per worker.
RASA_CLINIC_MODULES = frozenset({
    "tests/callflow/test_red_flag_phases.py",
    "tests/callflow/test_scripted_calls.py",
    "tests/callflow/test_symptom_calls.py",
    "tests/callflow/test_names_any_phone.py",
    "tests/callflow/test_call_me.py",
})


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `pytest -n 3` (make test) a module runs whole on one worker, so its servers and
    phones start once. The call-flow modules run on every worker side by side: each worker's
    demo clinics ring staff phones of its own (`tests.staff_lines`). Most tests wait on calls
    in real time (the CPU is about half used with two workers), hence more workers than cores."""
    # xdist's own `loadgroup` marks groups by renaming node ids, which pytest 9 ignores.
    from xdist.scheduler import LoadScopeScheduling

    class ModuleAtATime(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "rasa_clinic" if module in RASA_CLINIC_MODULES else module

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:  # the queue is complete when the first unit is handed out
                for scope in reversed(LONGEST_FIRST):
                    if scope in self.workqueue:
                        self.workqueue.move_to_end(scope, last=False)
                self.ordered = True
            super()._assign_work_unit(node)

    return ModuleAtATime(config, log)


SPEECH_DATA_DIR = ROOT / "var" / "test-data"


def pytest_configure(config: pytest.Config) -> None:
    """Render the servers' prompts and reply pieces once, before the workers start: on a fresh
    checkout the first four servers (one per worker) each rendered all of them at once, and on
    a 2-core machine that took 76-98 s of their 120 s to get ready (CI53, CI54: 23 errors)."""
    if hasattr(config, "workerinput"):
        return  # a worker: the controller has rendered them
    from clinicline.config import Config
    from clinicline.speech import render_speech
    from voice.tts.piper import PiperSynthesizer

    settings = Config()
    synthesizer = PiperSynthesizer(threads=settings.tts_threads)
    render_speech(synthesizer, SPEECH_DATA_DIR, settings.clinic_name)


@pytest.fixture(scope="session")
def speech_data_dir() -> Path:
    """One data dir for every server a test run starts: prompts render once, then are reused."""
    SPEECH_DATA_DIR.mkdir(parents=True, exist_ok=True)
    return SPEECH_DATA_DIR


@pytest.fixture(scope="session")
async def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated demo clinic, seeded once per session; tests copy the file."""
    return await write_demo_template(tmp_path_factory.mktemp("template") / "clinic.db")


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    """A real FHIR R4 server (sekmet-fhir), one per test process; tests add data of their own."""
    with running_fhir_server(tmp_path_factory.mktemp("fhir")) as server:
        yield server
