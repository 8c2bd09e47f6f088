"""The action endpoint under attack: forged calls over HTTP, and forged trackers behind the token.

Each test is an attack that worked before: the action webhook sat on the public web port,
answered anyone, took `text/plain` (so any web page could post to it), and believed the
tracker's `verified` and `patient_id`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from clinicline.config import HostPort
from clinicline.web.action_site import start_action_site
from integrations.services.scheduling import upcoming
from integrations.store import Database
from integrations.store.models import Medication, Patient, RefillRequest, StaffTask
from tests.dialogs.conftest import NOW, Conversation

TOKEN = "action-token-for-tests"


@dataclass
class Endpoint:
    url: str
    db: Database


@pytest.fixture
async def endpoint(clinic: Database) -> AsyncIterator[Endpoint]:
    runner, where = await start_action_site(clinic, HostPort("127.0.0.1", 0), TOKEN)
    try:
        yield Endpoint(where.url, clinic)
    finally:
        await runner.cleanup()


def action_call(sender: str, action: str = "action_goodbye", **slots: Any) -> dict[str, Any]:
    return {
        "next_action": action,
        "sender_id": sender,
        "version": "3.6.21",
        "tracker": {"sender_id": sender, "slots": slots, "latest_message": {}, "events": [],
                    "active_loop": {}, "latest_action_name": "action_listen"},
        "domain": {},
    }


async def post(url: str, body: bytes | str, **headers: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, await r.text()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def test_the_endpoint_listens_on_loopback_only(endpoint: Endpoint) -> None:
    assert endpoint.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "Authorization": "Bearer wrong-token"},
        {"Content-Type": "application/json", "Authorization": f"Basic {TOKEN}"},
        {"Content-Type": "application/json", "Authorization": "Bearer "},
    ],
    ids=["no token", "wrong token", "wrong scheme", "empty token"],
)
async def test_a_forged_action_call_without_the_token_is_refused(
    endpoint: Endpoint, headers: dict[str, str]
) -> None:
    status, _ = await post(endpoint.url, json.dumps(action_call("call-x")), **headers)
    assert status == 401


async def test_a_cross_site_text_plain_post_is_refused_even_with_the_token(
    endpoint: Endpoint,
) -> None:
    # What a web page can send without a CORS preflight.
    headers = {**bearer(), "Content-Type": "text/plain"}
    status, _ = await post(endpoint.url, json.dumps(action_call("call-x")), **headers)
    assert status == 415


@pytest.mark.parametrize(
    "body",
    ["[" * 15_000, "{not json", "[1, 2]", '{"next_action": 3}', '{"next_action": "x"}'],
    ids=["15000 brackets", "not json", "a list", "bad action name", "no tracker"],
)
async def test_bodies_that_are_not_action_calls_get_400(endpoint: Endpoint, body: str) -> None:
    status, text = await post(endpoint.url, body, **bearer())
    assert status == 400, text


async def test_a_huge_body_is_refused_before_it_is_read(endpoint: Endpoint) -> None:
    status, _ = await post(endpoint.url, b" " * (5 * 1024 * 1024), **bearer())
    assert status == 413


async def test_the_token_holder_gets_an_answer(endpoint: Endpoint) -> None:
    status, text = await post(endpoint.url, json.dumps(action_call("call-x")), **bearer())
    assert status == 200
    assert "Goodbye" in text


async def test_rasas_nlg_calls_get_the_domain_responses_words_and_only_with_the_token(
    endpoint: Endpoint,
) -> None:
    nlg = endpoint.url.removesuffix("/webhook") + "/nlg"
    call = json.dumps({"response": "utter_default", "arguments": {}, "tracker": {},
                       "channel": {"name": "rest"}})  # fmt: skip
    status, text = await post(nlg, call, **bearer())
    assert status == 200 and json.loads(text)["text"].startswith("Sorry, I didn't catch that")
    assert (await post(nlg, call, **bearer("forged")))[0] == 401
    unknown = json.dumps({"response": "utter_no_such_thing", "tracker": {}})
    assert (await post(nlg, unknown, **bearer()))[0] == 404
    for body in ("[]", '{"response": 3}', '{"response": "greet"}', "not json"):
        assert (await post(nlg, body, **bearer()))[0] == 400, body


async def test_the_public_web_app_has_no_action_endpoint(clinic: Database) -> None:
    from clinicline.web.app import guarded_app

    app = guarded_app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    try:
        forged = json.dumps(action_call("call-x", "action_serve_request", verified=True))
        status, _ = await post(url, forged, **bearer())
        assert status in (404, 405)
        status, _ = await post(url, forged, **{"Content-Type": "text/plain"})
        assert status == 415
    finally:
        await runner.cleanup()


# -- a tracker that lies ---------------------------------------------------------------------
# Even with the token (say Rasa's tracker store were written by someone), the tracker's claims
# about identity change nothing: the call record says who is verified.


async def maria(db: Database) -> int:
    async with db.session() as s:
        pid = await s.scalar(select(Patient.id).where(Patient.mrn == "DEMO0001"))
    assert pid is not None
    return pid


async def test_a_tracker_claiming_verified_reads_no_appointment(
    conversation: Conversation,
) -> None:
    c = await conversation.open(None)
    pid = await maria(c.db)
    c.slots.update(verified=True, patient_id=pid)
    c.user("when is my next appointment", "appointment_info")
    turn = await c.run("action_serve_request")
    assert "appointment" not in turn.said.lower()
    assert "Nguyen" not in turn.said
    assert (await c.report())["verified"] is False


async def test_a_tracker_claiming_verified_cannot_cancel_her_appointment(
    conversation: Conversation,
) -> None:
    c = await conversation.open(None)
    pid = await maria(c.db)
    async with c.db.session() as s:
        before = await upcoming(s, pid, now=NOW)
    assert before, "the demo clinic books Maria an appointment"
    c.slots.update(verified=True, patient_id=pid, appointment_id=before[0].appointment_id,
                   cancel_confirmed=True, appointments=[{"appointment_id": 1}])
    turn = await c.run("action_submit_cancel")
    async with c.db.session() as s:
        after = await upcoming(s, pid, now=NOW)
    assert [a.appointment_id for a in after] == [a.appointment_id for a in before]
    assert "cancelled" not in turn.said


async def test_a_tracker_claiming_verified_hears_no_medication_and_files_no_refill(
    conversation: Conversation,
) -> None:
    c = await conversation.open(None)
    pid = await maria(c.db)
    c.slots.update(verified=True, patient_id=pid)
    c.user("refill my lisinopril", "request_refill")
    turn = await c.run("validate_refill_form", "refill_form")
    assert "lisinopril" not in turn.said.lower()
    assert c.slots["requested_slot"] == "patient_name"  # the identity check comes first
    async with c.db.session() as s:
        med_id = await s.scalar(select(func.min(Medication.id)).where(Medication.patient_id == pid))
    c.slots.update(medication_id=med_id, refill_confirmed=True)
    await c.run("action_submit_refill")
    async with c.db.session() as s:
        filed = await s.scalar(
            select(func.count(RefillRequest.id)).where(RefillRequest.call_id == c.call_id)
        )
        tasks = await s.scalar(
            select(func.count(StaffTask.id)).where(StaffTask.patient_id == pid,
                                                   StaffTask.call_id == c.call_id)
        )
    assert filed == 0 and tasks == 0


async def test_a_tracker_cannot_confirm_a_namesake_the_store_never_offered(
    conversation: Conversation,
) -> None:
    c = await conversation.open("+15550100001")
    pid = await maria(c.db)
    c.user("i need my appointment", "appointment_info")
    c.slots.update(pending_patient={"id": pid, "name": "Maria Lopez"})
    c.answer("name_confirmed", "yes", "affirm")
    await c.run("validate_identity_form", "identity_form")
    assert (await c.report())["verified"] is False


async def test_the_caller_number_comes_from_the_call_record_not_the_message(
    conversation: Conversation,
) -> None:
    # A loose name match passes only with the caller ID on file; metadata claiming Maria's
    # number on a call from elsewhere must not lower the bar.
    c = await conversation.open("+15559999999")
    c.caller_number = "+15550100001"  # what the message metadata now claims
    c.user("i need a refill", "request_refill")
    c.answer("patient_name", "Marla Loper")  # scores 0.80: passes only with her number
    await c.run("validate_refill_form", "refill_form")
    c.answer("dob", "March fourth nineteen seventy two")
    await c.run("validate_refill_form", "refill_form")
    c.answer("dob_confirmed", "yes", "affirm")
    await c.run("validate_refill_form", "refill_form")
    assert (await c.report())["verified"] is False


async def test_an_action_failure_logs_no_slot_value(
    conversation: Conversation, caplog: pytest.LogCaptureFixture
) -> None:
    c = await conversation.open(None)
    c.slots["dob"] = "Maria-Lopez-1972-03-04-secret"  # not a date: the action raises
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ValueError):
        await c.run("action_ask_dob_confirmed", "identity_form")
    assert "secret" not in caplog.text


async def test_an_action_failure_over_http_is_500_and_logs_no_slot_value(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    call = action_call("call-x", "action_ask_dob_confirmed", dob="Maria-Lopez-secret")
    status, text = await post(endpoint.url, json.dumps(call), **bearer())
    assert status == 500
    assert "secret" not in text
    assert "action failed" in caplog.text and "ValueError" in caplog.text
    assert "secret" not in caplog.text
    status, _ = await post(endpoint.url, json.dumps(action_call("call-x")), **bearer())
    assert status == 200


@pytest.mark.parametrize("token", ["-starts-with-a-dash", "--double", "plain_token-123"])
def test_a_rasa_token_that_begins_with_a_dash_is_still_one_argument(token: str) -> None:
    # Found by the sign-in bench: Rasa crash-looped on "-t: expected one argument" when
    # secrets.token_urlsafe() happened to start with "-".
    import argparse

    from dialogs.inside_rasa.launch import rasa_argv

    parser = argparse.ArgumentParser()  # Rasa's own option, as `rasa run` declares it
    parser.add_argument("command")
    parser.add_argument("-p", "--port")
    parser.add_argument("-t", "--auth-token", type=str)
    args = parser.parse_args(rasa_argv(["run", "-p", "5005"], token)[1:])
    assert args.auth_token == token and args.port == "5005"
