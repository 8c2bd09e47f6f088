"""The Flows area: supervisors edit the call flow's wording; administrators publish it.

GET  /console/api/flows/lexicon                 the red-flag categories, the clinic's own words
                                                (newest and published), the history
POST /console/api/flows/lexicon                 {base, category, phrase|pattern}: tested by
                                                the triage regression, kept only if it passes
POST /console/api/flows/lexicon/remove          {base, category, index}: the same gate
POST /console/api/flows/lexicon/{id}/publish    workers judge callers' words with it
POST /console/api/flows/lexicon/{id}/rollback   an earlier published version, again
GET  /console/api/flows/lexicon/{id}/changes    the words a version added or removed
POST /console/api/flows/try                     {text, words: draft|published}: what triage
                                                makes of a sentence, and what the line does
GET  /console/api/flows/prompts                 every prompt (newest, published, built-in
                                                wording), the history, what needs approval
POST /console/api/flows/prompts/{name}          {text, base}: a new version (409 when someone
                                                saved since `base`)
POST /console/api/flows/preview                 {name, text}: the words spoken (audio/wav)
GET  /console/api/flows/versions/{id}/changes   each prompt's words before and after, and
                                                the words that went and came
POST /console/api/flows/versions/{id}/approve   a second supervisor approves emergency wording
POST /console/api/flows/versions/{id}/publish   callers hear it (publish right)
POST /console/api/flows/versions/{id}/rollback  a version published before, published again

The rules are `clinicline.flows.versions`'; the voice workers pick the published version up
from the store (`clinicline.flows.live`). No patient data passes here: the audit log still
records every edit, approval and publication.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from clinicline.callflow.prompts import EMERGENCY_PROMPTS, PROMPT_USES
from clinicline.flows import diffs, lexicon, versions
from clinicline.flows.trainer import Trainer
from clinicline.flows.tryit import TryItChats
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
from dialogs.training_data import shipped_examples, shipped_lookups
from dialogs.wording import PREFIX, DialogWording, fields_of
from integrations.services.agents import may_publish
from integrations.services.audit import record_access
from integrations.services.missed import MissReply, missed_turns
from nlu.triage import TriageEngine
from nlu.triage.clinic_edits import (
    BENIGN,
    Edits,
    categories_of,
    check_edits,
    phrase_of,
    with_edits,
)
from nlu.triage.engine import DEFAULT_LEXICON
from nlu.triage.errors import LexiconError
from voice.audio.wav import wav_bytes
from voice.tts.cache import PromptCache

if TYPE_CHECKING:  # given by `serve` in a process that takes calls
    from clinicline.flows.callme import DraftCalls
    from voice.worker import VoiceWorker

# Shortest audio a prompt may render to: less is a voice that said nothing.
MIN_PROMPT_SECONDS = 0.3


@dataclass
class FlowTools:
    """The wording's built-in defaults and, once the speech models have loaded, the prompt
    cache (its voice speaks previews and renders a version before it is published)."""

    defaults: dict[str, str]
    prompts: PromptCache | None = None
    # The dialogs' replies (`dialog.<name>` among the defaults): where each is used, and the
    # sample words a preview fills into its braces.
    wording: DialogWording = field(default_factory=DialogWording.from_file)
    # The lexicon the clinic's red-flag words go on top of, and more labelled sets for the
    # regression (the shared development set where it is there).
    lexicon_base: Path = DEFAULT_LEXICON
    regression_sets: tuple[Path, ...] = ()
    # The server's triage engine (its safety net and symptom words), for trying a sentence,
    # and the last engine built from a version of the clinic's words (its self-test is costly).
    triage: TriageEngine | None = None
    tried: tuple[int | None, TriageEngine] | None = None
    # One synthesis at a time per process: previews must not starve the calls of CPU.
    speaking: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    # One regression at a time: each takes a core for ~10 s.
    testing: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    # Trains the clinic's phrasings in this process (None: a console that cannot train).
    trainer: Trainer | None = None
    # The try-it chats of this process, against their sandbox (started on first use).
    chats: TryItChats | None = None
    # This process's voice worker, which places the "call me" test calls (None: an app
    # process, no calls here), and those calls once the first is asked for.
    worker: VoiceWorker | None = None
    draft_calls: DraftCalls | None = None
    # The shipped training phrasings per intent, read once.
    shipped: dict[str, list[str]] = field(default_factory=shipped_examples)
    # The shipped lookup tables (medicines, specialists, insurers), read once.
    lookups: dict[str, list[str]] = field(default_factory=shipped_lookups)

    def used(self, name: str) -> str:
        """Where the caller hears a prompt or reply, for the editor."""
        if name.startswith(PREFIX):
            reply = self.wording.replies.get(name.removeprefix(PREFIX))
            return reply.used if reply is not None else ""
        return PROMPT_USES.get(name, "")


FLOWS: web.AppKey[FlowTools] = web.AppKey("clinicline_flows", FlowTools)


def flow_tools(request: web.Request) -> FlowTools:
    return request.app[FLOWS]


def refused(exc: versions.FlowError) -> BadBody:
    if isinstance(exc, versions.EditConflict):
        return BadBody(409, str(exc))
    if isinstance(exc, versions.NotAllowed):
        return BadBody(403, str(exc))
    return BadBody(400, str(exc))


@requires("supervisor")
async def state(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), flow_tools(request)
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
                "group": "dialog" if name.startswith(PREFIX) else "call",
                "used": tools.used(name),
                "fills": sorted(fields_of(default)),
            }
            for name, default in tools.defaults.items()
        ],
        "history": [v.as_json() for v in log],
        "max_chars": versions.MAX_PROMPT_CHARS,
    }
    return web.json_response(body, headers=NO_STORE)


def edit_base(data: dict[str, Any]) -> int | None:
    base = data.get("base")
    if base is not None and (not isinstance(base, int) or isinstance(base, bool) or base < 1):
        raise BadBody(400, "'base' must be the version the edit was made from, or null")
    return base


@requires("supervisor", post=True)
async def save(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), flow_tools(request)
    name = request.match_info.get("name", "")
    data = await json_body(request)
    text = text_field(data, "text", max_len=4 * versions.MAX_PROMPT_CHARS)
    try:
        async with console.db.session() as s:
            saved = await versions.save_prompt(
                s, tools.defaults, name=name, text=text, base=edit_base(data), actor=staff.username
            )
    except versions.FlowError as exc:
        raise refused(exc) from exc
    return web.json_response(saved.as_json(), status=201, headers=NO_STORE)


@requires("supervisor", post=True)
async def preview(request: web.Request) -> web.Response:
    """The words spoken by the clinic's voice, before anyone saves them."""
    tools = flow_tools(request)
    data = await json_body(request)
    name = text_field(data, "name", max_len=64)
    text = text_field(data, "text", max_len=4 * versions.MAX_PROMPT_CHARS)
    try:
        cleaned = versions.check_prompt(tools.defaults, name, text)
    except versions.FlowError as exc:
        raise refused(exc) from exc
    cache = tools.prompts
    if cache is None:
        raise BadBody(503, "the voice is still loading; try again in a minute")
    async with tools.speaking:
        audio = await asyncio.to_thread(cache.speak, tools.wording.with_samples(cleaned))
    return web.Response(body=wav_bytes(audio), content_type="audio/wav", headers=NO_STORE)


@requires("supervisor")
async def version_changes(request: web.Request) -> web.Response:
    console, tools = console_of(request), flow_tools(request)
    version_id = int_param(request, "version_id")
    try:
        async with console.db.session() as s:
            changed = await versions.changes(s, tools.defaults, version_id)
    except versions.FlowError as exc:
        raise refused(exc) from exc
    return web.json_response({"version": version_id, "changes": changed}, headers=NO_STORE)


def entry_changes_view(
    read: Callable[[AsyncSession, int], Awaitable[list[dict[str, str]]]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """GET …/{version_id}/changes: what READ says a version added or removed."""

    @requires("supervisor")
    async def changes(request: web.Request) -> web.Response:
        console = console_of(request)
        version_id = int_param(request, "version_id")
        try:
            async with console.db.session() as s:
                changed = await read(s, version_id)
        except versions.FlowError as exc:
            raise refused(exc) from exc
        return web.json_response({"version": version_id, "changes": changed}, headers=NO_STORE)

    return changes


@requires("supervisor", post=True)
async def approve(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), flow_tools(request)
    version_id = int_param(request, "version_id")
    try:
        async with console.db.session() as s:
            done = await versions.approve(s, tools.defaults, version_id, staff.username)
    except versions.FlowError as exc:
        raise refused(exc) from exc
    return web.json_response(done.as_json(), headers=NO_STORE)


async def _render_check(tools: FlowTools, texts: dict[str, str]) -> str | None:
    """Render the words a version changes to disk before it is published: what failed, or
    None. (The built-in words are rendered by every worker at start; rendering them again,
    or sample-filled replies no call will play, would only cost the CPU calls need.)"""
    cache = tools.prompts
    if cache is None:
        return "the voice is still loading; publish in a minute"
    # A reply's words in braces are filled when it is spoken; checked here with samples.
    spoken = {
        name: tools.wording.with_samples(text)
        for name, text in texts.items()
        if text != tools.defaults.get(name)
    }
    try:
        async with tools.speaking:
            seconds = await asyncio.to_thread(cache.prepare, spoken)
    except Exception as exc:  # a voice that cannot say the words is reported, not raised
        return f"the wording could not be rendered ({type(exc).__name__})"
    silent = sorted(n for n, s in seconds.items() if s < MIN_PROMPT_SECONDS)
    return f"these prompts render to silence: {', '.join(silent)}" if silent else None


@requires("supervisor", post=True)
async def publish(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), flow_tools(request)
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
        raise refused(exc) from exc
    return web.json_response(done.as_json(), headers=NO_STORE)


@requires("supervisor", post=True)
async def roll_back(request: web.Request) -> web.Response:
    defaults = flow_tools(request).defaults

    async def act(s: AsyncSession, version_id: int, actor: str, *, may_publish: bool) -> Any:
        return await versions.roll_back(s, defaults, version_id, actor, may_publish=may_publish)

    return await with_publish_right(request, act)


# ---- the clinic's red-flag words ------------------------------------------------------------


@requires("supervisor")
async def lexicon_state(request: web.Request) -> web.Response:
    console, staff, tools = console_of(request), signed_in(request), flow_tools(request)
    async with console.db.session() as s:
        newest = await lexicon.newest_lexicon(s)
        published = await lexicon.published_lexicon(s)
        log = await lexicon.lexicon_history(s)
        publisher = await may_publish(s, staff.agent_id)
    body = {
        "categories": [*categories_of(tools.lexicon_base),
                       {"name": BENIGN, "level": "none",
                        "description": "words that are not a red flag (\"the stroke clinic\")"}],
        "newest": newest.id if newest is not None else None,
        "published": published.id if published is not None else None,
        "newest_published": newest is not None and newest.published_at is not None,
        "edits": newest.edits if newest is not None else {},
        "published_edits": published.edits if published is not None else {},
        "may_publish": publisher,
        "history": [v.as_json() for v in log],
    }  # fmt: skip
    return web.json_response(body, headers=NO_STORE)


async def _gated_save(
    request: web.Request, base: int | None, edits: Edits, note: str
) -> web.Response:
    """Run the triage regression on EDITS against the published words; save only a pass."""
    console, staff, tools = console_of(request), signed_in(request), flow_tools(request)
    async with console.db.session() as s:
        published = await lexicon.published_lexicon(s)
        before = dict(published.edits) if published is not None else {}
    async with tools.testing:
        result = await lexicon.run_regression(
            before, edits, tools.lexicon_base, tools.regression_sets
        )
    if "error" in result:
        raise BadBody(400, str(result["error"]))
    if not result.get("passed"):
        return web.json_response(
            {"error": "refused: this edit changes how the sets are judged", "regression": result},
            status=422, headers=NO_STORE,
        )
    try:
        async with console.db.session() as s:
            saved = await lexicon.save_edits(
                s, edits=edits, base=base, actor=staff.username, note=note, regression=result
            )
    except versions.FlowError as exc:
        raise refused(exc) from exc
    return web.json_response(
        {**saved.as_json(), "regression": result}, status=201, headers=NO_STORE
    )


async def _newest_edits(request: web.Request, base: int | None) -> Edits:
    async with console_of(request).db.session() as s:
        newest = await lexicon.newest_lexicon(s)
    if (newest.id if newest is not None else None) != base:
        who = f"{newest.created_by} saved version {newest.id}" if newest else "nothing is saved"
        raise BadBody(409, f"{who} in the meantime; reload and make your edit again")
    return check_edits(dict(newest.edits)) if newest is not None else {}


@requires("supervisor", post=True)
async def lexicon_add(request: web.Request) -> web.Response:
    tools = flow_tools(request)
    data = await json_body(request)
    base = edit_base(data)
    category = text_field(data, "category", max_len=64)
    known = {c["name"] for c in categories_of(tools.lexicon_base)} | {BENIGN}
    if category not in known:
        raise BadBody(400, f"there is no category {category!r}")
    kinds = [k for k in ("phrase", "pattern") if k in data]
    if len(kinds) != 1:
        raise BadBody(400, "send either 'phrase' (plain words) or 'pattern' (a regex)")
    words = text_field(data, kinds[0], max_len=300).strip()
    if not words:
        raise BadBody(400, f"the {kinds[0]} is empty")
    if kinds[0] == "phrase":
        words = phrase_of(words)
        if not words:
            raise BadBody(400, "the phrase has no words")
    edits = await _newest_edits(request, base)
    if {kinds[0]: words} in edits.get(category, []):
        raise BadBody(400, f"{category} already has that {kinds[0]}")
    edits[category] = [*edits.get(category, []), {kinds[0]: words}]
    try:
        check_edits(edits)
    except LexiconError as exc:
        raise BadBody(400, str(exc)) from exc
    return await _gated_save(request, base, edits, f"{category}: + {kinds[0]} {words!r}")


@requires("supervisor", post=True)
async def lexicon_remove(request: web.Request) -> web.Response:
    data = await json_body(request)
    base = edit_base(data)
    category = text_field(data, "category", max_len=64)
    index = data.get("index")
    edits = await _newest_edits(request, base)
    entries = edits.get(category, [])
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(entries):
        raise BadBody(400, f"'index' must name one of {category}'s {len(entries)} entries")
    removed = entries[index]
    edits[category] = entries[:index] + entries[index + 1 :]
    if not edits[category]:
        del edits[category]
    kind, words = next(iter(removed.items()))
    return await _gated_save(request, base, edits, f"{category}: - {kind} {words!r}")


@requires("supervisor", post=True)
async def lexicon_publish(request: web.Request) -> web.Response:
    return await with_publish_right(request, lexicon.publish_lexicon)


@requires("supervisor", post=True)
async def lexicon_roll_back(request: web.Request) -> web.Response:
    return await with_publish_right(request, lexicon.roll_back_lexicon)


async def with_publish_right(request: web.Request, act: Any, **extra: Any) -> web.Response:
    """ACT on the version in the path, told whether the signed-in person may publish (as the
    store says now, never as the browser says); EXTRA goes to ACT as it is."""
    console, staff = console_of(request), signed_in(request)
    version_id = int_param(request, "version_id")
    try:
        async with console.db.session() as s:
            allowed = await may_publish(s, staff.agent_id)
            done = await act(s, version_id, staff.username, may_publish=allowed, **extra)
    except versions.FlowError as exc:
        raise refused(exc) from exc
    return web.json_response(done.as_json(), headers=NO_STORE)


# What the line does with a sentence once triage has judged it (clinicline.callflow.clinic).
_OUTCOMES = {
    "emergent": "the emergency message at once, then the nurse (or the on-call line)",
    "urgent": "a nurse, now",
    "screen": "the red-flag screening question before anything else",
    "none": "the dialogs (self-service)",
}


async def red_flag_engine(request: web.Request, which: str) -> tuple[int | None, TriageEngine]:
    """(the version, an engine judging with it): the draft (newest) or the published red-flag
    words, on the server's safety net and symptom words. The last one built is kept (its
    self-test is costly); LexiconError when the words do not compile."""
    console, tools = console_of(request), flow_tools(request)
    if tools.triage is None:  # a console without a server's engine: load one, once
        tools.triage = await asyncio.to_thread(TriageEngine.default)
    live = tools.triage
    async with console.db.session() as s:
        row = await (
            lexicon.newest_lexicon(s) if which == "draft" else lexicon.published_lexicon(s)
        )
        edits = dict(row.edits) if row is not None else {}
    version = row.id if row is not None else None
    if tools.tried is None or tools.tried[0] != version:
        words = await asyncio.to_thread(with_edits, edits, tools.lexicon_base)
        built = await asyncio.to_thread(TriageEngine, words, symptoms=live.symptoms, net=live.net)
        tools.tried = (version, built)
    return tools.tried


@requires("supervisor", post=True)
async def try_sentence(request: web.Request) -> web.Response:
    """Judge a typed sentence with the draft (newest) or the published red-flag words, the
    safety net and the symptom words, as a caller's final words are judged. Nothing is kept."""
    data = await json_body(request)
    text = text_field(data, "text", max_len=500)
    which = data.get("words", "draft")
    if which not in ("draft", "published"):
        raise BadBody(400, "'words' is 'draft' or 'published'")
    try:
        version, engine = await red_flag_engine(request, which)
        result = await asyncio.to_thread(engine.assess_final, text)
    except LexiconError as exc:
        raise BadBody(400, str(exc)) from exc
    verdict = result.level.value if result.level.value != "none" or not result.screen else "screen"
    return web.json_response(
        {**result.to_json(), "version": version,
         "outcome": _OUTCOMES[verdict]},
        headers=NO_STORE,
    )  # fmt: skip


# The replies that say the line could not serve the caller, and why that counts as missed.
_MISS_REPLIES = {
    "not understood": ("not_understood", f"{PREFIX}default"),
    "not something the line does": (f"{PREFIX}out_of_scope",),
    "asked for a person": (f"{PREFIX}connecting",),
}
MISSED_DAYS = (1, 7, 30)


@requires("supervisor")
async def missed(request: web.Request) -> web.Response:
    """GET /console/api/flows/missed?days=7: callers' turns the line did not understand, could
    not serve or that ended with her asking for a person, redacted; the view is audited."""
    console, staff, tools = console_of(request), signed_in(request), flow_tools(request)
    try:
        days = int(request.query.get("days", "7"))
    except ValueError:
        days = 0
    if days not in MISSED_DAYS:
        raise BadBody(400, f"'days' is one of {', '.join(map(str, MISSED_DAYS))}")
    async with console.db.session() as s:
        said = [versions.texts_of(await versions.newest_version(s), tools.defaults),
                versions.texts_of(await versions.published_version(s), tools.defaults),
                tools.defaults]  # fmt: skip
        replies = [
            MissReply(reason, tuple({texts[n] for texts in said for n in names if n in texts}))
            for reason, names in _MISS_REPLIES.items()
        ]
        since = datetime.now(UTC) - timedelta(days=days)
        found = await missed_turns(s, since=since, replies=replies)
        await record_access(
            s, actor=staff.username, action="view_missed_turns", patient_id=None,
            detail={"days": days, "turns": len(found)},
        )  # fmt: skip
    return web.json_response({"days": days, "missed": found}, headers=NO_STORE)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/console/api/flows/try", try_sentence)
    router.add_get("/console/api/flows/missed", missed)
    router.add_get("/console/api/flows/lexicon", lexicon_state)
    router.add_post("/console/api/flows/lexicon", lexicon_add)
    router.add_post("/console/api/flows/lexicon/remove", lexicon_remove)
    router.add_post("/console/api/flows/lexicon/{version_id}/publish", lexicon_publish)
    router.add_post("/console/api/flows/lexicon/{version_id}/rollback", lexicon_roll_back)
    router.add_get(
        "/console/api/flows/lexicon/{version_id}/changes",
        entry_changes_view(diffs.lexicon_changes),
    )
    router.add_get("/console/api/flows/prompts", state)
    router.add_post("/console/api/flows/prompts/{name}", save)
    router.add_post("/console/api/flows/preview", preview)
    router.add_get("/console/api/flows/versions/{version_id}/changes", version_changes)
    router.add_post("/console/api/flows/versions/{version_id}/approve", approve)
    router.add_post("/console/api/flows/versions/{version_id}/publish", publish)
    router.add_post("/console/api/flows/versions/{version_id}/rollback", roll_back)
