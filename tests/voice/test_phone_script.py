"""The patient phone's scripted steps, as `clinicline call` builds them from its options."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from clinicline.calling import build_script
from clinicline.cli import build_parser
from clinicline.errors import ConfigError
from voice.phone.phone import speak_step
from voice.phone.script import SayStep, WaitStep


def _call_args(*options: str) -> argparse.Namespace:
    return build_parser().parse_args(["call", *options])


def test_wait_for_keeps_its_place_among_the_steps(tmp_path: Path) -> None:
    signal = tmp_path / "rasa-is-back"
    script = build_script(
        _call_args("--say", "hello", "--wait-for", f"150:{signal}", "--say", "Aisha Khan")
    )
    assert script.steps == (SayStep("hello"), WaitStep(150.0, until=signal), SayStep("Aisha Khan"))


@pytest.mark.parametrize("value", ["150", "soon:/tmp/x", "-1:/tmp/x", ":/tmp/x"])
def test_a_wait_for_without_seconds_and_a_file_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="SECONDS:FILE"):
        build_script(_call_args(f"--wait-for={value}"))


async def test_a_wait_for_ends_when_the_file_appears_not_at_its_limit(tmp_path: Path) -> None:
    signal = tmp_path / "go-on"
    ended = asyncio.Event()
    waiting = asyncio.create_task(
        speak_step(None, None, WaitStep(3600.0, until=signal), ended, lambda: None)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.5)
    assert not waiting.done()  # no file yet: still quiet
    signal.touch()
    await asyncio.wait_for(waiting, timeout=60)  # an hour's limit, over once the file is there


async def test_a_wait_for_whose_file_never_comes_ends_at_its_limit(tmp_path: Path) -> None:
    ended = asyncio.Event()
    step = WaitStep(0.3, until=tmp_path / "never")
    await asyncio.wait_for(speak_step(None, None, step, ended, lambda: None), timeout=60)  # type: ignore[arg-type]
