"""Fixtures for the real-call tests of the voice worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clinicline.harness import ServerProcess, crash_lines, start_server
from voice.tts.piper import PiperSynthesizer


@pytest.fixture(scope="session")
def piper() -> PiperSynthesizer:
    """Piper's voice for the session tests that feed a call synthesised speech."""
    return PiperSynthesizer()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    """One `clinicline serve` with the echo dialog per test module; it must stop cleanly."""
    tmp = tmp_path_factory.mktemp("echo-server")
    proc = start_server(tmp, data_dir=speech_data_dir, dialog="echo")
    try:
        proc.wait_ready()
        yield proc
    finally:
        code = proc.stop()
        log = proc.log()
        assert not crash_lines(log), log[-3000:]
        assert code == 0, f"server did not stop cleanly ({code}):\n{log[-3000:]}"
