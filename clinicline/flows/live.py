"""Each voice worker plays the wording published last, picked up without a restart.

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

from clinicline.flows.versions import published_version, texts_of
from integrations.store import Database
from voice.tts.cache import PromptCache

log = logging.getLogger(__name__)

POLL_SECONDS = 3.0


class PublishedPrompts:
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
        self._task: asyncio.Task[None] | None = None

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

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="published-prompts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store down, a voice that cannot render the words
                log.warning("prompts: keeping version %s (%s: %s)",
                            self.playing or "built-in", type(exc).__name__, exc)
            await asyncio.sleep(self.poll_seconds)
