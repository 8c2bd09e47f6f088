"""The console's HTTP surface against hostile or mistaken clients (plain aiohttp client)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import numpy as np
import pytest

from clinicline.web.console.guards import CONSOLE
from integrations.services import calls
from integrations.services.agents import set_presence
from integrations.services.audit import audit_trail
from tests.console.conftest import OPEN_NOW, Server
from tests.console.test_console_browser import emergent_request
from voice.audio.recording import CallRecording


@pytest.fixture
async def client(server: Server) -> AsyncIterator[aiohttp.ClientSession]:
    # An unsafe jar: the cookie is for 127.0.0.1, an IP address.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        base_url=server.url, cookie_jar=jar, headers={"Origin": server.url}
    ) as session:
        yield session


async def sign_in(client: aiohttp.ClientSession, username: str) -> None:
    async with client.post(
        "/console/login", json={"username": username, "password": f"{username}-demo"}
    ) as response:
        assert response.status == 200


async def planned_call(server: Server, call_id: str) -> str:
    """A call offered to nurse2; returns the context token of its plan."""
    async with server.db.session() as s:
        await calls.open_call(s, call_id=call_id, caller_number="+15550100001", started=OPEN_NOW)
    async with server.db.session() as s:
        await set_presence(s, server.agent_ids["nurse2"], "available")
    plan = await server.coordinator.plan(emergent_request(call_id))
    assert plan.token is not None
    return plan.token


async def test_cross_origin_post_is_refused(client: aiohttp.ClientSession) -> None:
    async with client.post(
        "/console/login",
        json={"username": "nurse2", "password": "nurse2-demo"},
        headers={"Origin": "http://evil.example"},
    ) as response:
        assert response.status == 403
        assert "Set-Cookie" not in response.headers


async def test_post_without_any_origin_is_refused(server: Server) -> None:
    async with (
        aiohttp.ClientSession(base_url=server.url) as bare,
        bare.post("/console/login", json={"username": "a", "password": "b"}) as response,
    ):
        assert response.status == 403


async def test_oversized_and_malformed_bodies_are_refused(client: aiohttp.ClientSession):
    big = {"username": "nurse2", "password": "x" * 20_000}
    async with client.post("/console/login", json=big) as response:
        assert response.status == 413
    async with client.post(
        "/console/login", data=b"{not json", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
    async with client.post("/console/login", data=b"username=a&password=b") as response:
        assert response.status == 415
    async with client.post("/console/login", json=["nurse2", "nurse2-demo"]) as response:
        assert response.status == 400


async def test_repeated_wrong_passwords_lock_the_username(client: aiohttp.ClientSession, server):
    frozen = datetime.now(UTC)
    server.app[CONSOLE].signin.clock = lambda: frozen  # no back-off runs out mid-test
    for _ in range(5):
        async with client.post(
            "/console/login", json={"username": "nurse1", "password": "guess"}
        ) as response:
            assert response.status == 401
    async with client.post(
        "/console/login", json={"username": "nurse1", "password": "nurse1-demo"}
    ) as response:
        assert response.status == 429


async def test_context_token_resolves_once_then_404(client, server: Server) -> None:
    token = await planned_call(server, "call-ctx")
    await sign_in(client, "nurse2")
    async with client.get(f"/api/context/{token}") as response:
        assert response.status == 200
        payload = await response.json()
    assert payload["call_id"] == "call-ctx" and payload["triage"]["level"] == "emergent"
    async with client.get(f"/api/context/{token}") as response:
        assert response.status == 404
    async with server.db.session() as s:
        trail = await audit_trail(s, 1)
    assert any(a.action == "view_context" and a.actor == "nurse2" for a in trail)


async def test_forged_context_token_is_404(client, server: Server) -> None:
    token = await planned_call(server, "call-forged")
    await sign_in(client, "nurse2")
    forged = ("A" if token[0] != "A" else "B") + token[1:]
    async with client.get(f"/api/context/{forged}") as response:
        assert response.status == 404
    async with client.get("/api/context/" + "x" * 300) as response:
        assert response.status == 404


async def test_offered_agent_and_supervisor_can_read_the_call_others_cannot(
    client, server: Server
) -> None:
    await planned_call(server, "call-read")
    await sign_in(client, "nurse2")
    async with client.get("/api/calls/call-read") as response:
        assert response.status == 200
        assert (await response.json())["call_id"] == "call-read"
    await sign_in(client, "front1")
    async with client.get("/api/calls/call-read") as response:
        assert response.status == 403
    await sign_in(client, "super1")
    async with client.get("/api/calls/call-read") as response:
        assert response.status == 200


async def test_wrap_up_of_someone_elses_call_is_forbidden(client, server: Server) -> None:
    await planned_call(server, "call-wrap")
    await sign_in(client, "front1")
    async with client.post(
        "/console/calls/call-wrap/wrapup", json={"disposition": "info_given"}
    ) as response:
        assert response.status == 403
    async with server.db.session() as s:
        assert (await calls.call_report(s, "call-wrap"))["disposition"] is None


async def test_only_the_agent_who_took_the_call_wraps_it_up_once(
    client, server: Server
) -> None:
    await planned_call(server, "call-took")
    plan = server.coordinator.pending("call-took")
    assert plan is not None and plan.agent is not None and plan.agent.username == "nurse2"
    await sign_in(client, "nurse2")
    wrap = {"disposition": "info_given"}
    # Offered to her, but her phone has not answered: she has not taken it.
    async with client.post("/console/calls/call-took/wrapup", json=wrap) as response:
        assert response.status == 403
        assert "did not take" in (await response.json())["error"]
    # Her phone answers (what the voice worker reports when the consult leg connects).
    await server.coordinator.on_answered(plan)
    async with client.post("/console/calls/call-took/wrapup", json=wrap) as response:
        assert response.status == 200
    async with client.post(
        "/console/calls/call-took/wrapup", json={"disposition": "transferred"}
    ) as response:
        assert response.status == 409
    async with server.db.session() as s:
        report = await calls.call_report(s, "call-took")
    assert report["disposition"] == "info_given"
    assert [e["kind"] for e in report["events"]].count("wrap_up") == 1
    # A supervisor may correct it; that is one more wrap-up event under her name.
    await sign_in(client, "super1")
    async with client.post(
        "/console/calls/call-took/wrapup", json={"disposition": "transferred"}
    ) as response:
        assert response.status == 200


async def test_an_agent_who_declined_cannot_wrap_up(client, server: Server) -> None:
    await planned_call(server, "call-declined")
    await sign_in(client, "nurse2")
    async with client.post("/console/calls/call-declined/decline", json={}) as response:
        assert response.status == 200
    async with client.post(
        "/console/calls/call-declined/wrapup", json={"disposition": "info_given"}
    ) as response:
        assert response.status == 403
    async with server.db.session() as s:
        assert (await calls.call_report(s, "call-declined"))["disposition"] is None


async def test_unknown_disposition_and_presence_are_rejected(client, server: Server) -> None:
    await planned_call(server, "call-bad")
    await sign_in(client, "nurse2")
    async with client.post(
        "/console/calls/call-bad/wrapup", json={"disposition": "<script>"}
    ) as response:
        assert response.status == 400
    async with client.post("/console/presence", json={"presence": "asleep"}) as response:
        assert response.status == 400


async def test_away_says_why_and_its_timer_runs_from_the_change_not_the_repeat(
    client: aiohttp.ClientSession, server: Server
) -> None:
    await sign_in(client, "nurse2")
    async with client.post("/console/presence", json={"presence": "away", "reason": "lunch"}) as r:
        assert r.status == 200
        lunch = await r.json()
    assert (lunch["presence"], lunch["reason"]) == ("away", "lunch") and lunch["since"]
    async with client.post("/console/presence", json={"presence": "away", "reason": "lunch"}) as r:
        assert (await r.json())["since"] == lunch["since"]  # said again: the same stretch
    async with client.post("/console/presence", json={"presence": "away"}) as r:
        other = await r.json()
    assert other["reason"] == "other" and other["since"] >= lunch["since"]
    for body in (
        {"presence": "available", "reason": "lunch"},  # a reason goes with away only
        {"presence": "away", "reason": "missed_offer"},  # the system's word, not hers
        {"presence": "away", "reason": "<b>nap</b>"},
    ):
        async with client.post("/console/presence", json=body) as r:
            assert r.status == 400, body
    async with client.get("/console/me") as r:
        assert (await r.json())["presence"] == other
    async with client.get("/console/api/board") as r:
        board = await r.json()
    assert board["you"] == other and board["agents"] is None  # others' states: supervisors'
    await sign_in(client, "super1")
    async with client.get("/console/api/board") as r:
        agents = {a["name"]: a for a in (await r.json())["agents"]}
    nurse = agents["Tomasz Kowalczyk"]  # nurse2 in the demo clinic
    assert nurse["presence"] == "away" and nurse["reason"] == "other"
    assert nurse["in_state_s"] is not None and nurse["in_state_s"] >= 0


async def test_logout_ends_the_session_for_good(client: aiohttp.ClientSession) -> None:
    await sign_in(client, "nurse2")
    cookie = {c.key: c.value for c in client.cookie_jar}["clinicline_console"]
    async with client.post("/console/logout", json={}) as response:
        assert response.status == 200
    async with client.get("/console/me", cookies={"clinicline_console": cookie}) as response:
        assert response.status == 401


async def test_cross_origin_websocket_is_refused(client, server: Server) -> None:
    await sign_in(client, "nurse2")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/console/ws", headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403


async def test_console_page_forbids_inline_script_and_framing(client) -> None:
    async with client.get("/console") as response:
        assert response.status == 200
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


async def test_recent_calls_refuse_a_bad_limit_and_other_parameters(client, server: Server) -> None:
    await sign_in(client, "super1")
    for query in ("limit=abc", "limit=0", "limit=100000", "limit=-1", "since=2020-01-01"):
        async with client.get(f"/console/api/calls?{query}") as response:
            assert response.status == 400, query
    async with client.get("/console/api/calls?limit=5") as response:
        assert response.status == 200
        assert len((await response.json())["calls"]) <= 5


async def test_only_a_supervisor_joins_and_only_a_call_bridged_now_audited_as_a_view(
    client, server: Server
) -> None:
    requests: list[tuple[str, int, str]] = []

    async def worker_heard(call_id: str, supervisor_id: int, mode: str) -> None:
        requests.append((call_id, supervisor_id, mode))

    server.hub.on_monitor = worker_heard  # what the worker holding the call is handed
    await planned_call(server, "call-mon")
    url = "/console/calls/call-mon/monitor"
    await sign_in(client, "nurse2")
    async with client.post(url, json={"mode": "listen"}) as response:
        assert response.status == 403
    await sign_in(client, "super1")
    async with client.post(url, json={"mode": "listen"}) as response:
        assert response.status == 409  # offered, not yet bridged: nothing to listen to
    async with client.post("/console/calls/nope/monitor", json={"mode": "listen"}) as response:
        assert response.status == 404
    async with client.post(url, json={"mode": "spy"}) as response:
        assert response.status == 400
    async with server.db.session() as s:
        await calls.set_fields(s, "call-mon", verified_patient_id=1)
        await calls.add_event(s, call_id="call-mon", kind="bridged", data={"queue": "nurse"})
    async with client.post(url, json={"mode": "whisper"}) as response:
        assert response.status == 202, await response.text()
    assert requests == [("call-mon", server.agent_ids["super1"], "whisper")]
    async with server.db.session() as s:
        trail = await audit_trail(s, 1)
    assert any(
        a.action == "monitor_call" and a.actor == "super1" and a.call_id == "call-mon"
        for a in trail
    )
    async with server.db.session() as s:
        await calls.close_call(s, call_id="call-mon", ended=datetime.now(UTC), disposition=None)
    async with client.post(url, json={"mode": "stop"}) as response:
        assert response.status == 409  # over: nobody left to listen to
    assert len(requests) == 1


async def test_only_the_agent_on_the_line_passes_a_call_on_and_it_is_audited(
    client, server: Server
) -> None:
    asked: list[tuple[str, int, str, str, int | None]] = []

    async def worker_heard(
        call_id: str, agent_id: int, queue: str, note: str, to_agent: int | None
    ) -> None:
        asked.append((call_id, agent_id, queue, note, to_agent))

    server.hub.on_handoff = worker_heard  # what the worker bridging the call is handed
    await planned_call(server, "call-hand")
    url = "/console/calls/call-hand/transfer"
    await sign_in(client, "nurse2")
    async with client.post(url, json={"queue": "billing"}) as response:
        assert response.status == 409  # offered to her, not yet answered and bridged
    nurse2 = server.agent_ids["nurse2"]
    async with server.db.session() as s:
        await calls.set_fields(s, "call-hand", verified_patient_id=1)
        await calls.add_event(
            s, call_id="call-hand", kind="transfer_answered", data={"agent_id": nurse2}
        )
        await calls.add_event(s, call_id="call-hand", kind="bridged", data={"queue": "nurse"})
    refused = (
        {"queue": "nowhere"}, {"queue": ""}, {"queue": "billing", "note": "x" * 201},
        {"queue": 7},
        {"queue": "billing", "agent": "nurse1"},  # she does not serve billing
        {"queue": "nurse", "agent": "nurse2"},  # herself
        {"queue": "nurse", "agent": "nobody"},
    )  # fmt: skip
    for body in refused:
        async with client.post(url, json=body) as response:
            assert response.status == 400, body
    async with client.post("/console/calls/nope/transfer", json={"queue": "billing"}) as response:
        assert response.status == 404
    await sign_in(client, "nurse1")  # a colleague: not on this call
    async with client.post(url, json={"queue": "billing"}) as response:
        assert response.status == 409
    await sign_in(client, "nurse2")
    note = "asks about\na co-pay"
    async with client.post(url, json={"queue": "billing", "note": note}) as response:
        assert response.status == 202, await response.text()
    assert asked == [("call-hand", nurse2, "billing", "asks about a co-pay", None)]
    async with server.db.session() as s:
        trail = await audit_trail(s, 1)
    assert any(a.action == "transfer_call" and a.actor == "nurse2" for a in trail)
    async with server.db.session() as s:  # the worker passed it on: she is off the line
        await calls.add_event(
            s, call_id="call-hand", kind="agent_transferred",
            data={"agent_id": nurse2, "queue": "billing"},
        )  # fmt: skip
    async with client.post(url, json={"queue": "billing"}) as response:
        assert response.status == 409
    assert len(asked) == 1
    async with server.db.session() as s:  # billing1 took it, and passes it to a named nurse
        await calls.add_event(
            s, call_id="call-hand", kind="transfer_answered",
            data={"agent_id": server.agent_ids["nurse1"]},
        )  # fmt: skip
        await calls.add_event(s, call_id="call-hand", kind="bridged", data={"queue": "nurse"})
    await sign_in(client, "nurse1")
    async with client.post(url, json={"queue": "nurse", "agent": "nurse2"}) as response:
        assert response.status == 202, await response.text()
    assert asked[-1] == ("call-hand", server.agent_ids["nurse1"], "nurse", "", nurse2)
    async with client.get("/console/me") as response:
        me = await response.json()
    assert "billing" in me["queues"]
    assert "nurse2" in [c["username"] for c in me["colleagues"]]
    assert "nurse1" not in [c["username"] for c in me["colleagues"]]  # not herself


def test_the_bridge_follows_answers_transfers_on_and_referrals() -> None:
    assert calls.bridge_of([]) == (False, None)
    answered = [("transfer_answered", {"agent_id": 4}), ("bridged", {})]
    assert calls.bridge_of(answered) == (True, 4)
    passed_on = [*answered, ("agent_transferred", {"agent_id": 4})]
    assert calls.bridge_of(passed_on) == (False, None)
    assert calls.bridge_of([*passed_on, ("transfer_answered", {"agent_id": 9})]) == (False, None)
    again = [*passed_on, ("transfer_answered", {"agent_id": 9}), ("bridged", {})]
    assert calls.bridge_of(again) == (True, 9)
    assert calls.bridge_of([*answered, ("referred", {})]) == (False, None)


async def test_a_recording_plays_for_a_supervisor_only_and_every_play_is_audited(
    client, server: Server
) -> None:
    recording = CallRecording(max_seconds=5)
    for _ in range(50):
        recording.caller.on_received(np.full(160, 9, dtype="<i2").tobytes())
    async with server.db.session() as s:
        await calls.open_call(s, call_id="call-rec-1", caller_number=None, started=OPEN_NOW)
        await calls.open_call(s, call_id="call-rec-none", caller_number=None, started=OPEN_NOW)
        await calls.set_fields(s, "call-rec-1", verified_patient_id=1)
        await calls.save_recording(s, "call-rec-1", recording.wav())
    await sign_in(client, "nurse2")
    async with client.get("/api/calls/call-rec-1/recording") as response:
        assert response.status == 403
    await sign_in(client, "super1")
    async with client.get("/api/calls/call-rec-1/recording") as response:
        assert response.status == 200
        assert response.content_type == "audio/wav"
        assert response.headers["Cache-Control"] == "no-store"
        assert (await response.read()) == recording.wav()
    async with client.get("/api/calls/call-rec-none/recording") as response:
        assert response.status == 404
    async with client.get("/api/calls/nope/recording") as response:
        assert response.status == 404
    async with server.db.session() as s:
        trail = await audit_trail(s, 1)
    plays = [a for a in trail if a.action == "play_recording" and a.call_id == "call-rec-1"]
    assert [a.actor for a in plays] == ["super1"]
