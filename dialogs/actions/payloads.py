"""Custom payloads the voice worker acts on (transfer, hang up, keypad entry, named prompts)."""

from __future__ import annotations

from typing import Any, Literal

Queue = Literal["nurse", "front_desk", "pharmacy", "billing", "scheduling"]


def transfer(queue: Queue, reason: str) -> dict[str, Any]:
    return {"kind": "transfer", "queue": queue, "reason": reason}


def hangup() -> dict[str, Any]:
    return {"kind": "hangup"}


def collect_digits(purpose: str, max_digits: int = 8) -> dict[str, Any]:
    return {"kind": "collect_digits", "max": max_digits, "purpose": purpose}


def play_prompt(name: str) -> dict[str, Any]:
    return {"kind": "play_prompt", "name": name}
