"""Component states behind `GET /health`: what is up, what is starting, what runs degraded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class State(StrEnum):
    STARTING = "starting"
    UP = "up"
    DEGRADED = "degraded"  # working on a fallback (e.g. keypad menu while Rasa starts)
    DOWN = "down"
    DISABLED = "disabled"  # switched off by configuration


# Without these no call can be taken at all.
ESSENTIAL = ("workers", "tts", "store")


@dataclass
class Component:
    state: State = State.STARTING
    detail: str = ""
    info: dict[str, Any] = field(default_factory=dict)


class Health:
    """Live view of every component; the server updates it, `/health` reads it."""

    def __init__(
        self, names: tuple[str, ...] = ("workers", "asr", "tts", "dialogs", "store")
    ) -> None:
        self.components: dict[str, Component] = {name: Component() for name in names}
        # Live figures read at request time (active calls, refusals), by component.
        self.probes: dict[str, Callable[[], dict[str, Any]]] = {}

    def set(self, name: str, state: State, detail: str = "", **info: Any) -> None:
        component = self.components.setdefault(name, Component())
        component.state, component.detail = state, detail
        component.info.update(info)

    @property
    def taking_calls(self) -> bool:
        return all(self.components[n].state in (State.UP, State.DEGRADED) for n in ESSENTIAL)

    @property
    def status(self) -> str:
        states = [c.state for c in self.components.values()]
        if not self.taking_calls:
            return "starting" if State.STARTING in states else "down"
        if all(s in (State.UP, State.DISABLED) for s in states):
            return "ready"
        return "degraded"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "components": {
                name: {
                    "state": c.state.value,
                    "detail": c.detail,
                    **c.info,
                    **(self.probes[name]() if name in self.probes else {}),
                }
                for name, c in self.components.items()
            },
        }
