"""Fixtures shared by every test area."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def speech_data_dir() -> Path:
    """One data dir for every server a test run starts: prompts render once, then are reused."""
    path = ROOT / "var" / "test-data"
    path.mkdir(parents=True, exist_ok=True)
    return path
