"""Component states behind `GET /health`: what is up, what is starting, what runs degraded.

A component's state is what the server last `set`, unless a live check says otherwise at
request time: the workers are `degraded` while a new caller would be turned away for want
of a call slot, and back to `up` when one frees, without anyone calling `set`.
"""

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
# An app process (`serve --app-only`) takes no calls: it serves consoles while its store is up.
APP_ESSENTIAL = ("store",)


@dataclass
class Component:
    state: State = State.STARTING
    detail: str = ""
    info: dict[str, Any] = field(default_factory=dict)


class Health:
    """Live view of every component; the server updates it, `/health` reads it."""

    def __init__(
        self,
        names: tuple[str, ...] = ("workers", "asr", "tts", "dialogs", "store"),
        essential: tuple[str, ...] = ESSENTIAL,
    ) -> None:
        self.components: dict[str, Component] = {name: Component() for name in names}
        self.essential = essential
        # Live figures read at request time (active calls, refusals), by component.
        self.probes: dict[str, Callable[[], dict[str, Any]]] = {}
        # Live checks read at request time: (state, detail) overrides an `up` component.
        self.checks: dict[str, Callable[[], tuple[State, str] | None]] = {}

    def set(self, name: str, state: State, detail: str = "", **info: Any) -> None:
        component = self.components.setdefault(name, Component())
        component.state, component.detail = state, detail
        component.info.update(info)

    def state_of(self, name: str) -> tuple[State, str]:
        """The component's state and detail now: a live check can only make `up` worse."""
        component = self.components[name]
        check = self.checks.get(name)
        if check is not None and component.state is State.UP:
            live = check()
            if live is not None:
                return live
        return component.state, component.detail

    @property
    def taking_calls(self) -> bool:
        return all(self.state_of(n)[0] in (State.UP, State.DEGRADED) for n in self.essential)

    @property
    def status(self) -> str:
        return _overall({name: self.state_of(name)[0] for name in self.components}, self.essential)

    def to_json(self) -> dict[str, Any]:
        components, states = {}, {}
        for name, component in self.components.items():
            state, detail = self.state_of(name)
            states[name] = state
            components[name] = {
                "state": state.value,
                "detail": detail,
                **component.info,
                **(self.probes[name]() if name in self.probes else {}),
            }
        return {"status": _overall(states, self.essential), "components": components}


def _overall(states: dict[str, State], essential: tuple[str, ...]) -> str:
    if not all(states[n] in (State.UP, State.DEGRADED) for n in essential):
        return "starting" if State.STARTING in states.values() else "down"
    if all(s in (State.UP, State.DISABLED) for s in states.values()):
        return "ready"
    return "degraded"
