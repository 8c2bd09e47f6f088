"""Versions of the call flow's wording on a real store (SQLite and PostgreSQL): edits never
overwrite each other, the emergency message needs a second person, only publishers publish,
rollback restores, and a worker's prompts follow the published version."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from clinicline.callflow.prompts import clinic_prompts
from clinicline.flows import versions
from clinicline.flows.live import PublishedPrompts
from integrations.store import Database
from integrations.store.models import AuditEvent
from tests.integrations.conftest import same_store
from voice.tts.cache import PromptCache
from voice.tts.external import EspeakSynthesizer

DEFAULTS = clinic_prompts("Riverside Clinic")
EMERGENCY = DEFAULTS["emergency"]


async def _save(db: Database, name: str, text: str, base: int | None, actor: str) -> int:
    async with db.session() as s:
        saved = await versions.save_prompt(
            s, DEFAULTS, name=name, text=text, base=base, actor=actor
        )
    return saved.id


async def _published_texts(db: Database) -> dict[str, str]:
    async with db.session() as s:
        return versions.texts_of(await versions.published_version(s), DEFAULTS)


async def test_an_edit_from_a_stale_version_is_refused_and_the_other_edit_is_kept(
    db: Database,
) -> None:
    first = await _save(db, "hold", "One moment please, I am connecting you.", None, "super1")
    with pytest.raises(versions.EditConflict, match=f"super1 saved version {first}"):
        await _save(db, "goodbye", "Bye now, take care.", None, "super2")
    async with db.session() as s:
        newest = await versions.newest_version(s)
        assert newest is not None and newest.id == first
        texts = versions.texts_of(newest, DEFAULTS)
    assert texts["hold"] == "One moment please, I am connecting you."
    assert texts["goodbye"] == DEFAULTS["goodbye"]
    # Made again on top of the newest, it is kept, and so is the first edit.
    second = await _save(db, "goodbye", "Bye now, take care.", first, "super2")
    async with db.session() as s:
        texts = versions.texts_of(await versions.newest_version(s), DEFAULTS)
    assert second > first and texts["hold"].startswith("One moment") and texts["goodbye"] == (
        "Bye now, take care."
    )


async def test_two_processes_saving_from_the_same_version_at_once_keep_one_edit_each_time(
    db: Database, data_key: bytes
) -> None:
    base = await _save(db, "hold", "Please hold on.", None, "super1")
    async with same_store(db, data_key) as other:
        outcomes = await asyncio.gather(
            _save(db, "goodbye", "Goodbye from one.", base, "super1"),
            _save(other, "goodbye", "Goodbye from two.", base, "super2"),
            return_exceptions=True,
        )
    kept = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, versions.EditConflict)]
    assert len(kept) == 1 and len(refused) == 1, outcomes


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("nonsense", "Hello.", "no prompt named 'nonsense'"),
        ("hold", "   ", "cannot be empty"),
        ("hold", "word " * 200, "at most 600"),
        ("hold", "Please hold\x00 now.", "cannot be spoken"),
        ("emergency", "Please stay on the line for a nurse.", "must keep 911"),
        ("greeting", "Hello, how can I help?", "must keep 911"),
        ("emergency_crisis", "Dial 911 if you are in danger.", "must keep 988"),
    ],
)
async def test_wording_that_cannot_be_used_is_refused_with_the_reason(
    db: Database, name: str, text: str, reason: str
) -> None:
    with pytest.raises(versions.FlowError, match=reason):
        await _save(db, name, text, None, "super1")
    async with db.session() as s:
        assert await versions.newest_version(s) is None  # nothing half-saved


async def test_new_emergency_wording_needs_a_second_supervisor_and_the_publish_right(
    db: Database,
) -> None:
    wording = "This may be an emergency: hang up and dial 911 now. A nurse is on the way."
    version = await _save(db, "emergency", wording, None, "super1")
    async with db.session() as s:
        with pytest.raises(versions.NotAllowed, match="second supervisor must approve"):
            await versions.publish(s, DEFAULTS, version, "super1", may_publish=True)
        with pytest.raises(versions.NotAllowed, match="not by someone who wrote it"):
            await versions.approve(s, DEFAULTS, version, "super1")
        await versions.approve(s, DEFAULTS, version, "super2")
        with pytest.raises(versions.NotAllowed, match="publish right"):
            await versions.publish(s, DEFAULTS, version, "super2", may_publish=False)
        with pytest.raises(versions.FlowError, match="render to silence"):
            await versions.publish(s, DEFAULTS, version, "super1", may_publish=True,
                                   rendered_check="these prompts render to silence: emergency")
        published = await versions.publish(s, DEFAULTS, version, "super1", may_publish=True)
    assert published.approved_by == "super2" and published.published_by == "super1"
    assert (await _published_texts(db))["emergency"] == wording
    async with db.session() as s:
        actions = [
            (e.actor, e.action, e.detail)
            for e in await s.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]
    assert actions == [
        ("super1", "prompt_edit", {"version": version, "prompt": "emergency"}),
        ("super2", "prompt_approve", {"version": version}),
        ("super1", "prompt_publish", {"version": version}),
    ]


async def test_other_wording_publishes_without_approval_and_approval_is_not_asked_for_it(
    db: Database,
) -> None:
    version = await _save(db, "hold", "Hold on, I am finding someone.", None, "super1")
    async with db.session() as s:
        with pytest.raises(versions.FlowError, match="does not change the emergency message"):
            await versions.approve(s, DEFAULTS, version, "super2")
        await versions.publish(s, DEFAULTS, version, "super1", may_publish=True)
    assert (await _published_texts(db))["hold"] == "Hold on, I am finding someone."


async def test_rollback_publishes_an_earlier_published_wording_again_as_a_new_version(
    db: Database,
) -> None:
    first = await _save(db, "hold", "First hold wording.", None, "super1")
    async with db.session() as s:
        await versions.publish(s, DEFAULTS, first, "super1", may_publish=True)
    second = await _save(db, "hold", "Second hold wording.", first, "super1")
    async with db.session() as s:
        await versions.publish(s, DEFAULTS, second, "super1", may_publish=True)
    draft = await _save(db, "goodbye", "A goodbye never published.", second, "super2")
    assert (await _published_texts(db))["hold"] == "Second hold wording."
    async with db.session() as s:
        with pytest.raises(versions.FlowError, match="never published"):
            await versions.roll_back(s, DEFAULTS, draft, "super1", may_publish=True)
        with pytest.raises(versions.NotAllowed, match="roll back"):
            await versions.roll_back(s, DEFAULTS, first, "super2", may_publish=False)
        back = await versions.roll_back(s, DEFAULTS, first, "super1", may_publish=True)
        log = await versions.history(s)
    assert back.id > draft and back.note == f"rollback to version {first}"
    assert sorted(back.changed) == ["goodbye", "hold"]
    texts = await _published_texts(db)
    assert texts["hold"] == "First hold wording." and texts["goodbye"] == DEFAULTS["goodbye"]
    assert [v.id for v in log] == [back.id, draft, second, first]  # nothing lost


async def test_a_rolled_back_emergency_wording_was_approved_once_and_is_not_asked_again(
    db: Database,
) -> None:
    wording = "Hang up and dial 911 now if this is an emergency. A nurse is coming on the line."
    version = await _save(db, "emergency", wording, None, "super1")
    async with db.session() as s:
        await versions.approve(s, DEFAULTS, version, "super2")
        await versions.publish(s, DEFAULTS, version, "super1", may_publish=True)
    later = await _save(db, "emergency", EMERGENCY, version, "super1")  # the built-in again
    async with db.session() as s:
        await versions.publish(s, DEFAULTS, later, "super1", may_publish=True)
        await versions.roll_back(s, DEFAULTS, version, "super1", may_publish=True)
    assert (await _published_texts(db))["emergency"] == wording


@pytest.fixture(scope="module")
def espeak() -> EspeakSynthesizer:
    return EspeakSynthesizer()


async def test_a_worker_plays_the_published_wording_and_keeps_it_when_the_store_is_gone(
    db: Database,
    tmp_path: Path,
    espeak: EspeakSynthesizer,
    data_key: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    small = {"hold": "Please hold.", "goodbye": "Goodbye."}
    cache = PromptCache(espeak, tmp_path / "prompts")
    changes: list[int | None] = []
    live = PublishedPrompts(db, cache, small, poll_seconds=0.05, on_change=changes.append)
    cache.render(small)  # as a worker starts: the built-in wording, before the store is asked
    assert not await live.check() and live.playing is None  # nothing published yet
    async with db.session() as s:
        saved = await versions.save_prompt(s, small, name="hold", text="Hold on, please.",
                                           base=None, actor="super1")
    assert not await live.check() and cache.text("hold") == "Please hold."  # only a draft
    async with db.session() as s:
        await versions.publish(s, small, saved.id, "super1", may_publish=True)
    live.start()
    try:
        for _ in range(100):
            if cache.text("hold") == "Hold on, please.":
                break
            await asyncio.sleep(0.05)
        assert cache.text("hold") == "Hold on, please." and changes == [saved.id]
        assert len(cache.audio("hold")) > 0
        # The store goes away (nothing listens at this address): the wording playing stays.
        gone = await Database.connect("postgresql+asyncpg://nobody@127.0.0.1:9/none", data_key)
        live.db = gone
        try:
            with pytest.raises(OSError):
                await live.check()
            with caplog.at_level(logging.WARNING, logger="clinicline.flows.live"):
                await asyncio.sleep(0.3)  # the loop goes on through the failures
            assert cache.text("hold") == "Hold on, please." and live.playing == saved.id
            assert live._task is not None and not live._task.done()
            # Six polls failed the same way; the log says so once, not at every poll.
            kept = [r for r in caplog.records if r.getMessage().startswith("keeping prompts")]
            assert len(kept) == 1 and f"version {saved.id}" in kept[0].getMessage(), kept
        finally:
            await gone.dispose()
    finally:
        await live.stop()


async def test_a_worker_judges_with_the_published_red_flag_words(db: Database) -> None:
    from clinicline.flows import lexicon as clinic_lexicon
    from clinicline.flows.live import PublishedLexicon
    from nlu.triage import TriageEngine
    from nlu.triage.engine import DEFAULT_LEXICON

    line = "my brothers having a seas year and his head hit the table"
    engine = TriageEngine.from_file(DEFAULT_LEXICON, symptoms=None, net_bank=None)
    live = PublishedLexicon(db, engine, DEFAULT_LEXICON)
    assert not await live.check() and engine.assess(line).level.value == "none"
    async with db.session() as s:
        with pytest.raises(versions.FlowError, match="not saved"):
            await clinic_lexicon.save_edits(
                s, edits={"seizure": [{"phrase": "seas year"}]}, base=None, actor="super1",
                note="x", regression={"passed": False},
            )  # fmt: skip
        saved = await clinic_lexicon.save_edits(
            s, edits={"seizure": [{"phrase": "seas year"}]}, base=None, actor="super1",
            note="seizure: + phrase", regression={"passed": True, "lines": 1},
        )  # fmt: skip
    assert not await live.check()  # saved, not published: the shipped words still decide
    async with db.session() as s:
        await clinic_lexicon.publish_lexicon(s, saved.id, "super1", may_publish=True)
    assert await live.check() and live.in_use == saved.id
    assert engine.assess(line).categories == ["seizure"]
