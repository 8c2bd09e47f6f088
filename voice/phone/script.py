"""Scripted patient calls: the YAML format of `shared/eval/calls/` and command-line steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ScriptError(ValueError):
    """The script file cannot be used; the message says which line and why."""


@dataclass(frozen=True)
class SayStep:
    text: str


@dataclass(frozen=True)
class PlayStep:
    path: Path


@dataclass(frozen=True)
class DtmfStep:
    digits: str
    method: str = "rfc2833"


@dataclass(frozen=True)
class BargeStep:
    """Speak without waiting for the bot to finish. `from_bot`: `after` seconds into the
    bot's next words (a caller who interrupts a prompt or a goodbye); otherwise `after`
    seconds after the previous step, whatever the line is doing (on hold, while a transfer
    rings, while a person talks)."""

    text: str
    after: float = 1.0
    from_bot: bool = True


@dataclass(frozen=True)
class WaitStep:
    """Stay quiet for a while (e.g. until a transfer has connected). With `until`, only
    until that file exists: a test that knows when the clinic is ready says so by creating
    it, instead of the phone sitting out the longest the clinic could take."""

    seconds: float
    until: Path | None = None


Step = SayStep | PlayStep | DtmfStep | WaitStep | BargeStep

_DTMF_CHARS = set("0123456789*#ABCD")


@dataclass(frozen=True)
class CallScript:
    steps: tuple[Step, ...]
    caller: str | None = None
    expect: dict[str, Any] = field(default_factory=dict)
    patient: dict[str, Any] = field(default_factory=dict)


def _step(entry: Any, index: int, base: Path) -> Step:
    if isinstance(entry, str):
        return SayStep(entry)
    if isinstance(entry, dict) and len(entry) == 1:
        ((kind, value),) = entry.items()
        if kind == "say" and isinstance(value, str):
            return SayStep(value)
        if kind == "play":
            path = Path(str(value))
            return PlayStep(path if path.is_absolute() else base / path)
        if kind in ("barge", "say_after"):
            return parse_barge(value, index, from_bot=kind == "barge")
        if kind == "wait":
            try:
                return WaitStep(float(value))
            except (TypeError, ValueError) as exc:
                raise ScriptError(f"say[{index}]: wait takes seconds, got {value!r}") from exc
        if kind in ("dtmf", "info"):
            digits = str(value)
            if not digits or set(digits) - _DTMF_CHARS:
                raise ScriptError(f"say[{index}]: DTMF may only hold 0-9 * # A-D, got {digits!r}")
            return DtmfStep(digits, "sip_info" if kind == "info" else "rfc2833")
    raise ScriptError(
        f"say[{index}]: expected a line of text, {{play: FILE.wav}}, {{dtmf: '123'}} "
        f"{{wait: 2}}, {{barge: '1.5:TEXT'}} or {{say_after: '8:TEXT'}}, got {entry!r}"
    )


def parse_barge(value: Any, index: int = 0, *, from_bot: bool = True) -> BargeStep:
    """"S:TEXT" (or a mapping {after: S, text: TEXT}) -> a step that speaks over the bot."""
    if isinstance(value, dict):
        after, text = value.get("after", 1.0), value.get("text")
    else:
        after, _, text = str(value).partition(":")
    try:
        seconds = float(after)
    except (TypeError, ValueError) as exc:
        raise ScriptError(f"say[{index}]: barge takes 'SECONDS:TEXT', got {value!r}") from exc
    if not text or not str(text).strip() or seconds < 0:
        raise ScriptError(f"say[{index}]: barge takes 'SECONDS:TEXT', got {value!r}")
    return BargeStep(str(text).strip(), seconds, from_bot)


def load_script(path: Path) -> CallScript:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ScriptError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("say"), list):
        raise ScriptError(f"{path}: a call script is a mapping with a 'say:' list")
    steps = tuple(_step(entry, i, path.parent) for i, entry in enumerate(data["say"]))
    caller = data.get("caller")
    return CallScript(
        steps=steps,
        caller=str(caller) if caller is not None else None,
        expect=dict(data.get("expect") or {}),
        patient=dict(data.get("patient") or {}),
    )
