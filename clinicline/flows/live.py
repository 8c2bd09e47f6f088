"""Each voice worker plays the wording and judges with the red-flag words published last,
and each process's dialog actions speak the replies published last, picked up without a
restart.

The worker starts with the built-in wording rendered (the emergency message never waits for
the store), then asks the store every few seconds which version is published. A new one is
rendered in full before it replaces the old (`PromptCache.render` is all or nothing), so a
call under way goes on, and hears the new words from its next prompt on. When the store is
down or the rendering fails, the wording already playing stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from clinicline.flows.lexicon import published_lexicon
from clinicline.flows.versions import published_version, texts_of
from dialogs.wording import DialogWording, fixed_of
from integrations.store import Database
from nlu.triage import TriageEngine
from nlu.triage.clinic_edits import with_edits
from voice.tts.cache import PromptCache

log = logging.getLogger(__name__)

POLL_SECONDS = 3.0


class _StoreWatch:
    """Asks the store every `poll_seconds` (`check`); a failure keeps what is in use."""

    poll_seconds: float = POLL_SECONDS
    _task: asyncio.Task[None] | None = None

    async def check(self) -> bool:
        raise NotImplementedError

    def in_use_now(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=type(self).__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        # The same failure comes back at every poll until someone acts (a published version
        # that no longer fits, the store down): warn when it starts or changes, not every 3 s.
        last_failure: str | None = None
        while True:
            try:
                await self.check()
                last_failure = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store down, words that cannot be rendered or loaded
                failure = f"{type(exc).__name__}: {exc}"
                if failure != last_failure:
                    log.warning("keeping %s (%s)", self.in_use_now(), failure)
                last_failure = failure
            await asyncio.sleep(self.poll_seconds)


class PublishedPrompts(_StoreWatch):
    """Keeps a worker's prompt cache on the published version of the wording."""

    def __init__(
        self,
        db: Database,
        cache: PromptCache,
        defaults: Mapping[str, str],
        *,
        poll_seconds: float = POLL_SECONDS,
        on_change: Callable[[int | None], None] | None = None,
    ) -> None:
        self.db, self.cache, self.defaults = db, cache, dict(defaults)
        self.poll_seconds = poll_seconds
        self.on_change = on_change
        self.playing: int | None = None  # the version rendered and playing (None: built-in)

    async def check(self) -> bool:
        """Render and switch to the published version if it is not the one playing; True
        when the wording changed."""
        async with self.db.session() as s:
            row = await published_version(s)
            version = row.id if row is not None else None
            texts = texts_of(row, self.defaults)
        if version == self.playing:
            return False
        await asyncio.to_thread(self.cache.render, texts)
        self.playing = version
        log.info("prompts: now playing version %s", version or "built-in")
        if self.on_change is not None:
            self.on_change(version)
        return True

    def in_use_now(self) -> str:
        return f"prompts version {self.playing or 'built-in'}"


class PublishedLexicon(_StoreWatch):
    """Keeps a worker's triage engine on the clinic's published red-flag words.

    The shipped lexicon is in use from the start; the clinic's edits go on top of it once
    published. Only edits that passed the regression are ever published; a version that does
    not load (a lexicon file changed under it) is logged and the lexicon in use stays.
    """

    def __init__(
        self, db: Database, engine: TriageEngine, base: Path, *, poll_seconds: float = POLL_SECONDS
    ) -> None:
        self.db, self.engine, self.base = db, engine, base
        self.poll_seconds = poll_seconds
        self.in_use: int | None = None  # the version in use (None: the shipped lexicon alone)

    async def check(self) -> bool:
        async with self.db.session() as s:
            row = await published_lexicon(s)
            version = row.id if row is not None else None
            edits = dict(row.edits) if row is not None else {}
        if version == self.in_use:
            return False
        lexicon = await asyncio.to_thread(with_edits, edits, self.base, f"version {version}")
        await asyncio.to_thread(self.engine.use_lexicon, lexicon)
        self.in_use = version
        log.info("triage: now deciding with red-flag words version %s", version or "shipped")
        return True

    def in_use_now(self) -> str:
        return f"red-flag words version {self.in_use or 'shipped'}"


class PublishedDialogWording(_StoreWatch):
    """Keeps a process's dialog replies (`dialogs/wording.yaml`, `dialog.<name>` in a version)
    on the published version: the actions' next reply uses it. ON_CHANGE (the voice worker's
    phrase cache) is given the new fixed replies and renders them before the switch, so a
    caller never waits for a reply's synthesis."""

    def __init__(
        self,
        db: Database,
        wording: DialogWording,
        *,
        poll_seconds: float = POLL_SECONDS,
        on_change: Callable[[list[str]], object] | None = None,
    ) -> None:
        self.db, self.wording = db, wording
        self.poll_seconds = poll_seconds
        self.on_change = on_change
        self.in_use: int | None = None  # the version spoken (None: the file's replies)

    async def check(self) -> bool:
        async with self.db.session() as s:
            row = await published_version(s)
            version = row.id if row is not None else None
            texts = texts_of(row, self.wording.defaults())
        if version == self.in_use:
            return False
        if self.on_change is not None:
            await asyncio.to_thread(self.on_change, fixed_of(texts.values()))
        self.wording.use(texts)
        self.in_use = version
        log.info("dialog replies: now speaking version %s", version or "built-in")
        return True

    def in_use_now(self) -> str:
        return f"dialog replies version {self.in_use or 'built-in'}"
