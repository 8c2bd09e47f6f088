"""What /health says: live capacity checks, the dialogs only `up` when our Rasa answers, the
EHR and the HL7 interface engine as this process last found them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from clinicline.config import load_config
from clinicline.dialogs_runtime import dialogs_state
from clinicline.harness import free_port
from clinicline.health import Health, State
from clinicline.hl7_link import Hl7Link, watch_integrations
from dialogs.server import RasaServer, port_in_use
from integrations.ehr.fhir_client import EhrSettings, FhirEhr
from integrations.ehr.sync import EhrSync
from integrations.store import Database
from tests.integrations.fhir_server import FhirServer


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


async def test_the_ehr_and_the_interface_engine_show_on_the_health_page(
    fhir_server: FhirServer, tmp_path: Path
) -> None:
    """A real FHIR server that answers, then one that does not; HL7 configured and not."""
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}")
    await db.migrate()
    try:
        answering = EhrSync(
            db, FhirEhr(EhrSettings.from_url(fhir_server.ehr_url, fhir_server.token))
        )
        health = _ready_health()
        no_hl7 = Hl7Link(load_config(env={}), db)
        watch_integrations(health, answering, no_hl7)
        assert await answering.before_verification("1961-07-14")
        page = health.to_json()
        assert page["components"]["ehr"]["state"] == "up"
        assert page["components"]["ehr"]["refills_waiting"] == 0
        assert page["components"]["hl7"]["state"] == "disabled"
        assert page["status"] == "ready"

        closed = free_port()
        silent = EhrSync(
            db,
            FhirEhr(EhrSettings.from_url(f"fhir+http://127.0.0.1:{closed}/fhir", "t", timeout_s=2)),
        )
        health = _ready_health()
        hl7 = Hl7Link(load_config(env={"CLINICLINE_HL7_PEER": f"127.0.0.1:{closed}"}), db)
        await hl7.start()
        try:
            watch_integrations(health, silent, hl7)
            assert not await silent.before_verification("1961-07-14")
            assert hl7.outbox is not None
            await hl7.outbox.count()
            page = health.to_json()
            assert page["components"]["ehr"]["state"] == "degraded"
            assert "could not be reached" in page["components"]["ehr"]["detail"]
            assert page["components"]["hl7"] == {
                "state": "up",
                "detail": "SIU over MLLP",
                "waiting": 0,
                "dead_letters": 0,
            }
            assert page["status"] == "degraded"
        finally:
            await hl7.stop()
    finally:
        await db.dispose()
