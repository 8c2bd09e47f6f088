"""The Flows area's training data through the console API: who may read and change it, the
versions an addition or removal makes, and what publishing and rolling back require. The
training itself runs in tests/dialogs/test_training_loop.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from clinicline.flows.trainer import Trainer
from clinicline.web.console.flow_views import FLOWS
from dialogs.train import PROJECT_DIR
from integrations.store.models import AuditEvent
from tests.console.conftest import Server, serving
from tests.console.test_flows_console import _post, signed_in

TRAINING = "/console/api/flows/training"


@pytest.fixture
async def training_server(tmp_path: Path, seeded_template: Path) -> AsyncIterator[Server]:
    async with serving(tmp_path, seeded_template) as running:
        running.app[FLOWS].trainer = Trainer(running.db, PROJECT_DIR, tmp_path / "training")
        yield running


async def _state(client: aiohttp.ClientSession) -> dict:
    async with client.get(TRAINING) as response:
        assert response.status == 200
        return await response.json()


async def test_agents_and_nurses_see_no_training_data(training_server: Server) -> None:
    for username in ("front1", "nurse1"):
        async with signed_in(training_server, username) as client:
            async with client.get(TRAINING) as response:
                assert response.status == 403
            body = {"intent": "request_refill", "text": "my puffer is empty", "base": None}
            assert (await _post(client, TRAINING, body))[0] == 403
            assert (await _post(client, f"{TRAINING}/1/train", {}))[0] == 403
            async with client.get(f"{TRAINING}/1/changes") as response:
                assert response.status == 403


async def test_a_supervisor_adds_and_removes_phrasings_each_a_version(
    training_server: Server,
) -> None:
    async with signed_in(training_server, "super2") as client:
        state = await _state(client)
        assert state["newest"] is None and state["can_train"] and not state["may_publish"]
        refill = next(i for i in state["intents"] if i["name"] == "request_refill")
        assert len(refill["shipped"]) > 20 and refill["added"] == []
        status, v1 = await _post(
            client, TRAINING,
            {"intent": "request_refill", "text": " my puffer is  nearly empty", "base": None},
        )  # fmt: skip
        assert status == 200, v1
        assert (v1["added"], v1["state"], v1["based_on"]) == (1, "draft", None)
        # Made from a version that is no longer the newest: refused, nothing lost.
        status, data = await _post(
            client, TRAINING, {"intent": "greet", "text": "howdy folks", "base": None}
        )
        assert status == 409 and "super2 saved version" in data["error"]
        for body, why in [
            ({"intent": "billing_insurance", "text": "could I get a refill please"},
             "example of 'request_refill'"),
            ({"intent": "nope", "text": "hello there"}, "no intent"),
            ({"intent": "greet", "text": ""}, "'text' must be"),
            ({"intent": "greet", "text": "hi [there](x)"}, "plain words"),
            ({"intent": "test_results", "text": "My puffer is nearly empty."},
             "example of 'request_refill'"),
        ]:  # fmt: skip
            status, data = await _post(client, TRAINING, {**body, "base": v1["id"]})
            assert status == 400 and why in data["error"], (body, data)
        async with client.post(
            TRAINING, data=b'{"text": "' + b"a" * 10_000_000 + b'"}',
            headers={"Content-Type": "application/json"},
        ) as response:  # fmt: skip
            assert response.status == 413
        status, data = await _post(
            client, f"{TRAINING}/remove",
            {"intent": "request_refill", "text": "could I get a refill please", "base": v1["id"]},
        )  # fmt: skip
        assert status == 400 and "not one of the clinic's" in data["error"]
        status, v2 = await _post(
            client, f"{TRAINING}/remove",
            {"intent": "request_refill", "text": "my puffer is nearly empty", "base": v1["id"]},
        )  # fmt: skip
        assert status == 200 and (v2["added"], v2["based_on"]) == (0, v1["id"])
        state = await _state(client)
        assert state["newest"] == v2["id"] and [v["id"] for v in state["history"]] == [
            v2["id"], v1["id"],
        ]  # fmt: skip
        # The history's readable diff: what each version added or took away.
        for version, change in [(v1, "added"), (v2, "removed")]:
            async with client.get(f"{TRAINING}/{version['id']}/changes") as response:
                assert response.status == 200
                assert (await response.json())["changes"] == [
                    {"where": "request_refill", "change": change,
                     "entry": "my puffer is nearly empty"},
                ]  # fmt: skip
        async with client.get(f"{TRAINING}/999/changes") as response:
            assert response.status == 400 and "no version 999" in (await response.json())["error"]
        # A name the line should know goes into a word list (a lookup table), lowercase.
        insurers = next(t for t in state["lookups"] if t["name"] == "insurer")
        assert "aetna" in insurers["shipped"] and insurers["added"] == []
        status, data = await _post(
            client, TRAINING, {"intent": "lookup:insurer", "text": "Aetna", "base": v2["id"]}
        )
        assert status == 400 and "already in the insurer list" in data["error"]
        status, v3 = await _post(
            client, TRAINING,
            {"intent": "lookup:insurer", "text": "Blue Ridge Health Plan", "base": v2["id"]},
        )  # fmt: skip
        assert status == 200 and v3["note"] == "added to lookup:insurer", v3
        state = await _state(client)
        insurers = next(t for t in state["lookups"] if t["name"] == "insurer")
        assert insurers["added"] == ["blue ridge health plan"]
        assert all(i["added"] == [] for i in state["intents"])
        async with client.get(f"{TRAINING}/{v3['id']}/changes") as response:
            assert (await response.json())["changes"] == [
                {"where": "lookup:insurer", "change": "added", "entry": "blue ridge health plan"}
            ]
        status, v4 = await _post(
            client, f"{TRAINING}/remove",
            {"intent": "lookup:insurer", "text": "blue ridge health plan", "base": v3["id"]},
        )  # fmt: skip
        assert status == 200 and v4["added"] == 0, v4
    async with training_server.db.session() as s:
        audited = await s.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "training_edit")
        )
        assert list(audited) == ["super2"] * 4


async def test_publishing_needs_the_right_and_a_trained_model_that_passed(
    training_server: Server,
) -> None:
    async with signed_in(training_server, "super2") as client:
        _, v1 = await _post(
            client, TRAINING, {"intent": "greet", "text": "howdy folks", "base": None}
        )
        status, data = await _post(client, f"{TRAINING}/{v1['id']}/publish", {})
        assert status == 403 and "publish right" in data["error"]
        assert (await _post(client, f"{TRAINING}/0/rollback", {}))[0] == 403
        status, data = await _post(client, f"{TRAINING}/99/train", {})
        assert status == 400 and "no version 99" in data["error"]
    async with signed_in(training_server, "super1") as client:
        assert (await _state(client))["may_publish"]
        status, data = await _post(client, f"{TRAINING}/{v1['id']}/publish", {})
        assert status == 400 and "not trained" in data["error"]
        status, data = await _post(client, f"{TRAINING}/0/rollback", {})
        assert status == 400 and "nothing to roll back" in data["error"]
        status, data = await _post(client, f"{TRAINING}/{v1['id']}/rollback", {})
        assert status == 400 and "never published" in data["error"]


async def test_call_me_needs_a_supervisor_a_known_model_and_a_process_that_takes_calls(
    training_server: Server,
) -> None:
    """The refusals; the call itself rings a real phone in tests/callflow/test_call_me.py."""
    call_me = "/console/api/flows/call-me"
    async with signed_in(training_server, "nurse1") as client:
        assert (await _post(client, call_me, {"model": "draft"}))[0] == 403
    async with signed_in(training_server, "super2") as client:
        status, data = await _post(client, call_me, {"model": "newest"})
        assert status == 400 and "'model'" in data["error"]
        # This console's process has no voice worker (an app process): nothing to call with.
        status, data = await _post(client, call_me, {"model": "draft"})
        assert status == 409 and "takes no calls" in data["error"], data
