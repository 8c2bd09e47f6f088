"""Rasa's conversation trackers in the shared store, encrypted: a conversation survives a Rasa
restart, and any Rasa server of the site can take its next turn.

A tracker holds what the caller said (names, dates of birth, medications): protected health
information. Rasa's own SQL tracker store keeps every event as readable JSON, so this one keeps
a conversation as one row — its serialised tracker, Fernet-encrypted under the site's data key —
in table `dialog_trackers`, keyed by the conversation id (a call id, which says nothing about
the caller). A conversation lives as long as its call: rows untouched for a day are deleted.

It runs inside the Rasa process (Rasa's venv: SQLAlchemy 1.4, psycopg2). The store's URL and
the key come from the environment, never from endpoints.yml or the command line:
CLINICLINE_TRACKER_STORE_URL (a synchronous SQLAlchemy URL) and CLINICLINE_TRACKER_STORE_KEY
(comma-separated Fernet keys; the first encrypts, all decrypt).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, MultiFernet
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.trackers import (
    DialogueStateTracker,
    get_trackers_for_conversation_sessions,
)

from dialogs.inside_rasa.launch import TRACKER_KEY_ENV as KEY_ENV
from dialogs.inside_rasa.launch import TRACKER_URL_ENV as URL_ENV

KEEP_SECONDS = 24 * 3600
PRUNE_EVERY = 600.0

_metadata = sa.MetaData()
trackers = sa.Table(
    "dialog_trackers",
    _metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
)


class EncryptedTrackerStore(TrackerStore, SerializedTrackerAsText):  # type: ignore[misc]
    """endpoints.yml: `tracker_store: {type: dialogs.inside_rasa.tracker_store.
    EncryptedTrackerStore}`."""

    def __init__(self, domain: Any = None, event_broker: Any = None, **kwargs: Any) -> None:
        url, keys = os.environ.get(URL_ENV, ""), os.environ.get(KEY_ENV, "")
        if not url or not keys:
            raise ValueError(f"the tracker store needs {URL_ENV} and {KEY_ENV}")
        self._fernet = MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])
        self._engine = sa.create_engine(url, pool_pre_ping=True)
        try:
            _metadata.create_all(self._engine)
        except sa.exc.SQLAlchemyError:
            # Rasa servers starting together race to create the table; one of them wins.
            _metadata.create_all(self._engine)
        self._pruned_at = 0.0
        super().__init__(domain, event_broker, **kwargs)

    # -- the rows (synchronous; run in a thread) --------------------------------------------------
    def _write(self, sender_id: str, data: bytes, now: float) -> None:
        with self._engine.begin() as conn:
            updated = conn.execute(
                trackers.update()
                .where(trackers.c.sender_id == sender_id)
                .values(data=data, updated_at=now)
            )
            if updated.rowcount == 0:
                conn.execute(trackers.insert().values(sender_id=sender_id, data=data,
                                                      updated_at=now))  # fmt: skip
            if now - self._pruned_at > PRUNE_EVERY:
                self._pruned_at = now
                conn.execute(trackers.delete().where(trackers.c.updated_at < now - KEEP_SECONDS))

    def _read(self, sender_id: str) -> bytes | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(trackers.c.data).where(trackers.c.sender_id == sender_id)
            ).first()
        return None if row is None else bytes(row[0])

    def _senders(self) -> list[str]:
        with self._engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(trackers.c.sender_id))]

    # -- Rasa's interface -------------------------------------------------------------------------
    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        data = self._fernet.encrypt(self.serialise_tracker(tracker).encode("utf-8"))
        await asyncio.to_thread(self._write, tracker.sender_id, data, time.time())

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        tracker = await self.retrieve_full_tracker(sender_id)
        if tracker is None:
            return None
        sessions = get_trackers_for_conversation_sessions(tracker)
        return sessions[-1] if len(sessions) > 1 else tracker

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        token = await asyncio.to_thread(self._read, sender_id)
        if token is None:
            return None
        return self.deserialise_tracker(sender_id, self._fernet.decrypt(token).decode("utf-8"))

    async def keys(self) -> Iterable[str]:
        return await asyncio.to_thread(self._senders)
