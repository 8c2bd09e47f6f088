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


def expect(what: str) -> dict[str, Any]:
    """What the question just asked waits for ("full_name", "dob", ...): the voice worker
    knows the call is in the identity check, and can listen for that kind of answer."""
    return {"kind": "expect", "what": what}


def verified() -> dict[str, Any]:
    """The caller has just been verified: the voice worker reads whom from the call record
    (never from this payload) and listens for her own medications from then on."""
    return {"kind": "verified"}


def play_prompt(name: str) -> dict[str, Any]:
    return {"kind": "play_prompt", "name": name}
