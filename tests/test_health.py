"""What /health says: live capacity checks, and the dialogs only `up` when our Rasa answers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from clinicline.dialogs_runtime import dialogs_state
from clinicline.health import Health, State
from dialogs.server import RasaServer, port_in_use


def _ready_health() -> Health:
    health = Health()
    for name in ("workers", "asr", "tts", "store"):
        health.set(name, State.UP)
    health.set("dialogs", State.DISABLED)
    return health


def test_live_check_degrades_an_up_component_and_lets_it_recover() -> None:
    health = _ready_health()
    full = [True]
    health.checks["workers"] = lambda: (State.DEGRADED, "at capacity") if full[0] else None
    body = health.to_json()
    assert body["status"] == "degraded" and health.taking_calls
    assert body["components"]["workers"] == {"state": "degraded", "detail": "at capacity"}
    full[0] = False
    assert health.to_json()["status"] == "ready" and health.status == "ready"


def test_live_check_never_makes_a_down_component_look_better() -> None:
    health = _ready_health()
    health.set("workers", State.DOWN, "no SIP port")
    health.checks["workers"] = lambda: (State.DEGRADED, "at capacity")
    assert health.state_of("workers") == (State.DOWN, "no SIP port")
    assert health.status == "down" and not health.taking_calls


@pytest.fixture
def rasa(tmp_path: Path) -> RasaServer:
    """Never started: its state is what a supervisor sees between Rasa processes."""
    return RasaServer(
        tmp_path / "model.tar.gz",
        port=9,
        action_url="http://127.0.0.1:9/webhook",
        run_dir=tmp_path,
        api_token="api-token-for-this-test",
        action_token="action-token-for-this-test",
    )


def test_dialogs_are_up_only_while_our_rasa_answers(rasa: RasaServer) -> None:
    assert dialogs_state(rasa, answering=True)[0] is State.UP
    rasa.waiting_reason = "Rasa exited with -9; restarting"
    rasa.restarts = 3
    state, detail = dialogs_state(rasa, answering=False)
    assert state is State.DOWN and "restarting" in detail and "restarts: 3" in detail


def test_port_held_by_another_process_is_reported(rasa: RasaServer) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        assert port_in_use(port)
    assert not port_in_use(port)
    rasa.waiting_reason = f"port {port} is held by another process"
    state, detail = dialogs_state(rasa, answering=False)
    assert state is State.DOWN and "held by another process" in detail
