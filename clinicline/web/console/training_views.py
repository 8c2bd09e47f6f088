"""The Flows area's training data: supervisors add callers' phrasings to intents, train and
evaluate a draft model; staff with the publish right put it in front of callers, or roll back.

GET  /console/api/flows/training                 intents (shipped and added examples), lookup
                                                 tables (shipped and added names), the newest
                                                 and published versions, the history
POST /console/api/flows/training                 {base, intent, text}: a new version (409 when
                                                 someone saved since `base`); intent
                                                 "lookup:<table>" adds a name to a table
POST /console/api/flows/training/remove          {base, intent, text}: one of the clinic's own
POST /console/api/flows/training/{id}/train      validate, train and evaluate, in the background
POST /console/api/flows/training/{id}/publish    every Rasa server swaps to its model
POST /console/api/flows/training/{id}/rollback   a version published before (0: the shipped
                                                 phrasings), published again
GET  /console/api/flows/training/{id}/changes    the examples a version added or removed
POST /console/api/flows/training/{id}/replay     the golden scripted calls, replayed as text
                                                 with the version's model and the published
                                                 one (503 while the sandbox loads a model)
POST /console/api/flows/chat                     {model: draft|published}: a try-it chat,
                                                 greeted (503 while its sandbox loads)
POST /console/api/flows/chat/{chat}              {text}: the line's answer to a typed sentence
POST /console/api/flows/call-me                  {model: draft|published}: this process's
                                                 worker rings the supervisor's own phone
                                                 with that flow (202; 503 while loading)

The rules are `clinicline.flows.training`'s; the training runs in `clinicline.flows.trainer`;
the servers follow the published version in `clinicline.dialogs_runtime`. Every edit, training,
publication and rollback is in the audit log.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from clinicline.flows import diffs, training, versions
from clinicline.flows.callme import DraftCalls
from clinicline.flows.history import FlowError
from clinicline.flows.tryit import (
    Sandbox,
    SandboxStarting,
    TryItChats,
    chat_json,
    golden_scripts,
)
from clinicline.web.console.flow_views import (
    FlowTools,
    edit_base,
    entry_changes_view,
    flow_tools,
    red_flag_engine,
    refused,
    with_publish_right,
)
from clinicline.web.console.guards import (
    NO_STORE,
    BadBody,
    console_of,
    int_param,
    json_body,
    requires,
    signed_in,
    text_field,
)
from dialogs.errors import DialogError
from dialogs.training_data import LOOKUP, MAX_EXAMPLE_CHARS
from integrations.services.agents import agent_by_id, may_publish
from integrations.store.models import TrainingVersion
from nlu.triage import TriageEngine
from nlu.triage.errors import LexiconError


@requires("supervisor")
async def training_state(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), flow_tools(request)
    async with console.db.session() as s:
        newest = await training.newest_training(s)
        published = await training.published_training(s)
        log = await training.training_history(s)
        publisher = await may_publish(s, staff.agent_id)
    added = training.additions_of(newest)
    body = {
        "intents": [
            {"name": name, "shipped": examples, "added": added.get(name, [])}
            for name, examples in tools.shipped.items()
        ],
        "lookups": [
            {"name": name, "shipped": entries, "added": added.get(LOOKUP + name, [])}
            for name, entries in tools.lookups.items()
        ],
        "newest": newest.id if newest is not None else None,
        "published": published.id if published is not None else None,
        "may_publish": publisher,
        "can_train": tools.trainer is not None,
        "history": [v.as_json() for v in log],
        "max_chars": MAX_EXAMPLE_CHARS,
    }
    return web.json_response(body, headers=NO_STORE)


async def _edit(request: web.Request, act: Any) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), flow_tools(request)
    data = await json_body(request)
    intent = text_field(data, "intent", max_len=80)
    text = text_field(data, "text", max_len=MAX_EXAMPLE_CHARS * 2)
    try:
        async with console.db.session() as s:
            done = await act(
                s, intent=intent, text=text, base=edit_base(data), actor=staff.username, tools=tools
            )
    except FlowError as exc:
        raise refused(exc) from exc
    return web.json_response(done.as_json(), headers=NO_STORE)


@requires("supervisor", post=True)
async def add(request: web.Request) -> web.Response:
    async def act(s: Any, *, tools: FlowTools, **edit: Any) -> training.TrainingSummary:
        return await training.add_example(s, shipped=tools.shipped, lookups=tools.lookups, **edit)

    return await _edit(request, act)


@requires("supervisor", post=True)
async def remove(request: web.Request) -> web.Response:
    async def act(s: Any, *, tools: FlowTools, **edit: Any) -> training.TrainingSummary:
        return await training.remove_example(s, **edit)

    return await _edit(request, act)


@requires("supervisor", post=True)
async def train(request: web.Request) -> web.Response:
    """Start training VERSION here; 202 at once, the progress is on the version's row."""
    staff, tools = signed_in(request), flow_tools(request)
    if tools.trainer is None:
        raise BadBody(409, "this process cannot train: ask on a console of a clinicline server")
    try:
        row = await tools.trainer.start(int_param(request, "version_id"), staff.username)
    except FlowError as exc:
        raise refused(exc) from exc
    return web.json_response(
        training.TrainingSummary.of(row).as_json(), status=202, headers=NO_STORE
    )


@requires("supervisor", post=True)
async def publish(request: web.Request) -> web.Response:
    return await with_publish_right(request, training.publish_training)


@requires("supervisor", post=True)
async def roll_back(request: web.Request) -> web.Response:
    tools = flow_tools(request)
    if tools.trainer is None:
        raise BadBody(409, "this process cannot roll back the model: no dialogs project here")
    return await with_publish_right(
        request, training.roll_back_training, shipped_model=tools.trainer.shipped_model()
    )


# ---- the try-it chat ---------------------------------------------------------------------


async def _chat_model(request: web.Request, which: str) -> Path:
    """The model file the chat answers with: the newest trained version's (draft), or the
    published one's; the shipped model when there is none."""
    console, tools = console_of(request), flow_tools(request)
    assert tools.trainer is not None
    async with console.db.session() as s:
        row = await (training.newest_trained(s) if which == "draft"
                     else training.published_training(s))  # fmt: skip
    name = row.model if row is not None and row.edits and row.model else None
    model = tools.trainer.models_dir / f"{name or tools.trainer.shipped_model()}.tar.gz"
    if not model.exists():
        raise BadBody(409, f"{model.name} is not on this machine: train it here first")
    return model


async def _texts(request: web.Request) -> dict[str, str]:
    console, tools = console_of(request), flow_tools(request)
    async with console.db.session() as s:
        return versions.texts_of(await versions.newest_version(s), tools.defaults)


async def _chats(request: web.Request) -> TryItChats:
    tools = flow_tools(request)
    if tools.trainer is None:
        raise BadBody(409, "this process cannot run the try-it dialogs: no dialogs project here")
    if tools.chats is None:
        if tools.triage is None:  # a console without a server's engine: load one, once
            tools.triage = await asyncio.to_thread(TriageEngine.default)
        triage: TriageEngine = tools.triage
        sandbox = Sandbox(tools.trainer.work_dir / "try-it", tools.wording)
        tools.chats = TryItChats(sandbox, triage)
    return tools.chats


def _starting(exc: FlowError) -> web.Response:
    return web.json_response({"error": str(exc), "starting": True}, status=503,
                             headers={**NO_STORE, "Retry-After": "3"})  # fmt: skip


@requires("supervisor", post=True)
async def chat_open(request: web.Request) -> web.Response:
    staff, chats = signed_in(request), await _chats(request)
    which = (await json_body(request)).get("model", "draft")
    if which not in ("draft", "published"):
        raise BadBody(400, "'model' is 'draft' or 'published'")
    model = await _chat_model(request, which)
    try:
        chat = await chats.open(staff.username, model, await _texts(request))
    except SandboxStarting as exc:
        return _starting(exc)
    except FlowError as exc:
        raise refused(exc) from exc
    return web.json_response({**chat_json(chat, chat.lines), "model": model.name},
                             headers=NO_STORE)  # fmt: skip


@requires("supervisor", post=True)
async def chat_say(request: web.Request) -> web.Response:
    staff, chats = signed_in(request), await _chats(request)
    text = text_field(await json_body(request), "text", max_len=500)
    try:
        chat = chats.chat_of(request.match_info["chat_id"], staff.username)
        lines = await chats.say(chat, text, await _texts(request))
    except FlowError as exc:
        raise refused(exc) from exc
    except DialogError as exc:
        raise BadBody(503, f"the try-it dialogs did not answer: {exc}") from exc
    return web.json_response(chat_json(chat, lines), headers=NO_STORE)


@requires("supervisor", post=True)
async def call_me(request: web.Request) -> web.Response:
    """Ring the signed-in supervisor's own phone (from her record, never from the request)
    with the chosen model and the newest wording and red-flag words, against the try-it
    sandbox."""
    staff, console, tools = signed_in(request), console_of(request), flow_tools(request)
    which = (await json_body(request)).get("model", "draft")
    if which not in ("draft", "published"):
        raise BadBody(400, "'model' is 'draft' or 'published'")
    if tools.worker is None:
        raise BadBody(409, "this console's process takes no calls: open the console on a "
                           "voice worker's address to be called")  # fmt: skip
    chats = await _chats(request)
    if tools.draft_calls is None:
        tools.draft_calls = DraftCalls(tools.worker, chats)
    async with console.db.session() as s:
        me = await agent_by_id(s, staff.agent_id)
        published = versions.texts_of(await versions.published_version(s), tools.defaults)
    if me is None or not me.sip_uri:
        raise BadBody(409, "you have no phone on record: turn on your browser phone, or ask "
                           "an administrator to set your desk phone")  # fmt: skip
    model = await _chat_model(request, which)
    try:
        # The newest red-flag words judge her words, as the newest wording speaks to her.
        _, red_flags = await red_flag_engine(request, "draft")
        await tools.draft_calls.ring(
            me.sip_uri, model, red_flags, await _texts(request), published, staff.username
        )
    except LexiconError as exc:
        raise BadBody(400, str(exc)) from exc
    except SandboxStarting as exc:
        return _starting(exc)
    except FlowError as exc:
        raise refused(exc) from exc
    phone = "your browser phone" if me.on_browser_phone else "your desk phone"
    return web.json_response({"phone": phone, "model": model.name}, status=202,
                             headers=NO_STORE)  # fmt: skip


@requires("supervisor", post=True)
async def replay(request: web.Request) -> web.Response:
    """Replay the golden calls with the version's model, then with the published one; each
    model's results are kept on the version as soon as they are in, so a 503 (the sandbox
    switching models) costs nothing already done when the console asks again."""
    console, tools, chats = console_of(request), flow_tools(request), await _chats(request)
    assert tools.trainer is not None
    version_id = int_param(request, "version_id")
    async with console.db.session() as s:
        row = await s.get(TrainingVersion, version_id)
        if row is None or row.state != "ready" or not row.model:
            raise BadBody(400, f"version {version_id} is not trained: train it first")
        done = dict(row.evaluation.get("golden") or {})
    models = {"draft": tools.trainer.models_dir / f"{row.model}.tar.gz",
              "published": await _chat_model(request, "published")}  # fmt: skip
    scripts = golden_scripts()
    for which, model in models.items():
        if done.get(which, {}).get("model") == model.name:
            continue
        try:
            results = [await chats.replay(script, model, await _texts(request))
                       for script in scripts]  # fmt: skip
        except SandboxStarting as exc:
            return _starting(exc)
        except DialogError as exc:
            raise BadBody(503, f"the try-it dialogs did not answer: {exc}") from exc
        async with console.db.session() as s:
            done = await training.record_golden(s, version_id, which, model.name, results)
    return web.json_response({"version": version_id, "golden": done}, headers=NO_STORE)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/console/api/flows/training/{version_id}/replay", replay)
    router.add_get(
        "/console/api/flows/training/{version_id}/changes",
        entry_changes_view(diffs.training_changes),
    )
    router.add_post("/console/api/flows/chat", chat_open)
    router.add_post("/console/api/flows/chat/{chat_id}", chat_say)
    router.add_post("/console/api/flows/call-me", call_me)
    router.add_get("/console/api/flows/training", training_state)
    router.add_post("/console/api/flows/training", add)
    router.add_post("/console/api/flows/training/remove", remove)
    router.add_post("/console/api/flows/training/{version_id}/train", train)
    router.add_post("/console/api/flows/training/{version_id}/publish", publish)
    router.add_post("/console/api/flows/training/{version_id}/rollback", roll_back)
