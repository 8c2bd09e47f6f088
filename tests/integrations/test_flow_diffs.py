"""The history's readable diff: the words of a prompt that went and came, and the entries a
red-flag or training version added or removed, read from versions in both stores (SQLite
and PostgreSQL)."""

from __future__ import annotations

import pytest

from clinicline.flows.diffs import (
    entry_changes,
    lexicon_changes,
    training_changes,
    word_diff,
)
from clinicline.flows.history import FlowError
from integrations.store import Database
from integrations.store.models import LexiconVersion, TrainingVersion


def _read(pieces: list[dict[str, str]]) -> str:
    """The pieces as the console shows them: struck words in [-…-], new ones in {+…+}."""
    marks = {"same": "{}", "removed": "[-{}-]", "added": "{{+{}+}}"}
    out = ""
    for piece in pieces:
        if out and piece["text"][0] not in ".,;:!?)":
            out += " "
        out += marks[piece["kind"]].format(piece["text"])
    return out


@pytest.mark.parametrize(
    ("before", "after", "read"),
    [
        (
            "Please hold while I connect you.",
            "Please hold, a member of our team will be with you soon.",
            "Please hold [-while I connect-]{+, a member of our team will be with+} you {+soon+}.",
        ),
        ("We're closed today.", "We're open today!", "We're [-closed-] {+open+} today[-.-]{+!+}"),
        (
            "Thank you for calling {clinic}.",
            "Thanks for calling {clinic} today.",
            "[-Thank you-] {+Thanks+} for calling {clinic} {+today+}.",
        ),
        ("", "New words.", "{+New words.+}"),
        ("Same words.", "Same   words.", "Same words."),
    ],
)
def test_only_the_words_that_changed_are_marked(before: str, after: str, read: str) -> None:
    assert _read(word_diff(before, after)) == read


def test_entries_added_and_removed_per_key_and_a_move_is_no_change() -> None:
    before = {"cardiac": ["crushing chest", "elephant on my chest"], "stroke": ["face droop"]}
    after = {"cardiac": ["elephant on my chest", "crushing chest", "chest like a vice"],
             "seizure": ["seas year"]}  # fmt: skip
    assert entry_changes(before, after, str) == [
        {"where": "cardiac", "change": "added", "entry": "chest like a vice"},
        {"where": "seizure", "change": "added", "entry": "seas year"},
        {"where": "stroke", "change": "removed", "entry": "face droop"},
    ]
    assert entry_changes(after, after, str) == []


async def test_a_versions_changes_are_from_the_version_it_was_made_from(db: Database) -> None:
    async with db.session() as s:
        first = LexiconVersion(
            edits={"seizure": [{"phrase": "seas year"}]}, note="a", created_by="super1"
        )
        s.add(first)
        await s.flush()
        second = LexiconVersion(
            edits={"seizure": [{"phrase": "seas year"}],
                   "cardiac": [{"pattern": r"chest \w+ vice"}]},
            based_on=first.id, note="b", created_by="super2",
        )  # fmt: skip
        examples = TrainingVersion(edits={"request_refill": ["my puffer is empty"]}, created_by="x")
        s.add_all([second, examples])
        await s.commit()
        assert await lexicon_changes(s, first.id) == [
            {"where": "seizure", "change": "added", "entry": "seas year"}
        ]
        assert await lexicon_changes(s, second.id) == [
            {"where": "cardiac", "change": "added", "entry": r"/chest \w+ vice/"}
        ]
        assert await training_changes(s, examples.id) == [
            {"where": "request_refill", "change": "added", "entry": "my puffer is empty"}
        ]
        with pytest.raises(FlowError, match="no version 42"):
            await training_changes(s, 42)
