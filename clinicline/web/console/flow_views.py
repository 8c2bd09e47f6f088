"""The Flows area: supervisors edit the call flow's wording; administrators publish it.

GET  /console/api/flows/prompts                 every prompt (newest, published, built-in
                                                wording), the history, what needs approval
POST /console/api/flows/prompts/{name}          {text, base}: a new version (409 when someone
                                                saved since `base`)
POST /console/api/flows/preview                 {name, text}: the words spoken (audio/wav)
POST /console/api/flows/versions/{id}/approve   a second supervisor approves emergency wording
POST /console/api/flows/versions/{id}/publish   callers hear it (publish right)
POST /console/api/flows/versions/{id}/rollback  a version published before, published again

The rules are `clinicline.flows.versions`'; the voice workers pick the published version up
from the store (`clinicline.flows.live`). No patient data passes here: the audit log still
records every edit, approval and publication.
"""

from __future__ import annotations

import asyncio
import io
import wave
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from clinicline.callflow.prompts import EMERGENCY_PROMPTS
from clinicline.flows import versions
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
from integrations.services.agents import may_publish
from voice.audio.frames import SAMPLE_RATE
from voice.tts.cache import PromptCache

# Shortest audio a prompt may render to: less is a voice that said nothing.
MIN_PROMPT_SECONDS = 0.3


@dataclass
class FlowTools:
    """The wording's built-in defaults and, once the speech models have loaded, the prompt
    cache (its voice speaks previews and renders a version before it is published)."""

    defaults: dict[str, str]
    prompts: PromptCache | None = None
    # One synthesis at a time per process: previews must not starve the calls of CPU.
    speaking: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))


FLOWS: web.AppKey[FlowTools] = web.AppKey("clinicline_flows", FlowTools)


def _tools(request: web.Request) -> FlowTools:
    return request.app[FLOWS]


def _refused(exc: versions.FlowError) -> BadBody:
    if isinstance(exc, versions.EditConflict):
        return BadBody(409, str(exc))
    if isinstance(exc, versions.NotAllowed):
        return BadBody(403, str(exc))
    return BadBody(400, str(exc))


@requires("supervisor")
async def state(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), _tools(request)
    async with console.db.session() as s:
        newest = await versions.newest_version(s)
        published = await versions.published_version(s)
        newest_texts = versions.texts_of(newest, tools.defaults)
        published_texts = versions.texts_of(published, tools.defaults)
        log = await versions.history(s)
        publisher = await may_publish(s, staff.agent_id)
        pending_emergency = newest is not None and newest.published_at is None and any(
            newest_texts[n] != published_texts[n] for n in EMERGENCY_PROMPTS
        )
    body: dict[str, Any] = {
        "newest": newest.id if newest is not None else None,
        "published": published.id if published is not None else None,
        "newest_published": newest is not None and newest.published_at is not None,
        "may_publish": publisher,
        "emergency_needs_approval": pending_emergency
        and newest is not None
        and newest.approved_by is None,
        "prompts": [
            {
                "name": name,
                "text": newest_texts[name],
                "published_text": published_texts[name],
                "default_text": default,
                "emergency": name in EMERGENCY_PROMPTS,
                "must_keep": list(versions.REQUIRED_WORDS.get(name, ())),
            }
            for name, default in tools.defaults.items()
        ],
        "history": [v.as_json() for v in log],
        "max_chars": versions.MAX_PROMPT_CHARS,
    }
    return web.json_response(body, headers=NO_STORE)


def _base(data: dict[str, Any]) -> int | None:
    base = data.get("base")
    if base is not None and (not isinstance(base, int) or isinstance(base, bool) or base < 1):
        raise BadBody(400, "'base' must be the version the edit was made from, or null")
    return base


@requires("supervisor", post=True)
async def save(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), _tools(request)
    name = request.match_info.get("name", "")
    data = await json_body(request)
    text = text_field(data, "text", max_len=4 * versions.MAX_PROMPT_CHARS)
    try:
        async with console.db.session() as s:
            saved = await versions.save_prompt(
                s, tools.defaults, name=name, text=text, base=_base(data), actor=staff.username
            )
    except versions.FlowError as exc:
        raise _refused(exc) from exc
    return web.json_response(saved.as_json(), status=201, headers=NO_STORE)


@requires("supervisor", post=True)
async def preview(request: web.Request) -> web.Response:
    """The words spoken by the clinic's voice, before anyone saves them."""
    tools = _tools(request)
    data = await json_body(request)
    name = text_field(data, "name", max_len=64)
    text = text_field(data, "text", max_len=4 * versions.MAX_PROMPT_CHARS)
    try:
        cleaned = versions.check_prompt(tools.defaults, name, text)
    except versions.FlowError as exc:
        raise _refused(exc) from exc
    cache = tools.prompts
    if cache is None:
        raise BadBody(503, "the voice is still loading; try again in a minute")
    async with tools.speaking:
        audio = await asyncio.to_thread(cache.speak, cleaned)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(audio.tobytes())
    return web.Response(body=out.getvalue(), content_type="audio/wav", headers=NO_STORE)


@requires("supervisor", post=True)
async def approve(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), _tools(request)
    version_id = int_param(request, "version_id")
    try:
        async with console.db.session() as s:
            done = await versions.approve(s, tools.defaults, version_id, staff.username)
    except versions.FlowError as exc:
        raise _refused(exc) from exc
    return web.json_response(done.as_json(), headers=NO_STORE)


async def _render_check(tools: FlowTools, texts: dict[str, str]) -> str | None:
    """Render every prompt of a version to disk before it is published: what failed, or None."""
    cache = tools.prompts
    if cache is None:
        return "the voice is still loading; publish in a minute"
    try:
        async with tools.speaking:
            seconds = await asyncio.to_thread(cache.prepare, texts)
    except Exception as exc:  # a voice that cannot say the words is reported, not raised
        return f"the wording could not be rendered ({type(exc).__name__})"
    silent = sorted(n for n, s in seconds.items() if s < MIN_PROMPT_SECONDS)
    return f"these prompts render to silence: {', '.join(silent)}" if silent else None


@requires("supervisor", post=True)
async def publish(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), _tools(request)
    version_id = int_param(request, "version_id")
    try:
        async with console.db.session() as s:
            allowed = await may_publish(s, staff.agent_id)
            texts = await versions.version_texts(s, tools.defaults, version_id)
        problem = await _render_check(tools, texts) if allowed and texts is not None else None
        async with console.db.session() as s:
            done = await versions.publish(
                s, tools.defaults, version_id, staff.username,
                may_publish=allowed, rendered_check=problem,
            )  # fmt: skip
    except versions.FlowError as exc:
        raise _refused(exc) from exc
    return web.json_response(done.as_json(), headers=NO_STORE)


@requires("supervisor", post=True)
async def roll_back(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), _tools(request)
    version_id = int_param(request, "version_id")
    try:
        async with console.db.session() as s:
            allowed = await may_publish(s, staff.agent_id)
            done = await versions.roll_back(
                s, tools.defaults, version_id, staff.username, may_publish=allowed
            )
    except versions.FlowError as exc:
        raise _refused(exc) from exc
    return web.json_response(done.as_json(), headers=NO_STORE)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/api/flows/prompts", state)
    router.add_post("/console/api/flows/prompts/{name}", save)
    router.add_post("/console/api/flows/preview", preview)
    router.add_post("/console/api/flows/versions/{version_id}/approve", approve)
    router.add_post("/console/api/flows/versions/{version_id}/publish", publish)
    router.add_post("/console/api/flows/versions/{version_id}/rollback", roll_back)
