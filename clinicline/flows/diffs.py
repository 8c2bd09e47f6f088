"""What a version changed from the one it was made from, as a supervisor reads it: the words of
a prompt that went and came (not the whole sentence twice), and the entries added to or removed
from a list (red-flag words per category, examples per intent)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from difflib import SequenceMatcher
from typing import Literal, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from clinicline.flows.history import version_of
from integrations.store.models import LexiconVersion, TrainingVersion

Kind = Literal["same", "removed", "added"]
# One run of words: kept, taken out, or put in.
Piece = dict[str, str]
Entry = TypeVar("Entry")


# A placeholder ("{clinic}"), a word (with its apostrophes) or one mark of punctuation:
# "hold," is "hold" then ",", so a comma added after a word does not mark the word as changed.
_TOKEN = re.compile(r"\{\w+\}|[\w']+|[^\w\s]")
_SPACE_BEFORE_MARK = re.compile(r" ([.,;:!?)])")


def _joined(tokens: Sequence[str]) -> str:
    return _SPACE_BEFORE_MARK.sub(r"\1", " ".join(tokens))


def word_diff(before: str, after: str) -> list[Piece]:
    """BEFORE turned into AFTER as runs of words, in reading order; a replaced run is its
    removed words followed by its added ones. A piece that starts with punctuation is written
    without a space before it."""
    old, new = _TOKEN.findall(before), _TOKEN.findall(after)
    pieces: list[Piece] = []

    def add(kind: Kind, words: Sequence[str]) -> None:
        if words:
            pieces.append({"kind": kind, "text": _joined(words)})

    # autojunk off: prompts are short, and a common word ("the") must still anchor a match.
    for op, i1, i2, j1, j2 in SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            add("same", old[i1:i2])
        else:
            add("removed", old[i1:i2])
            add("added", new[j1:j2])
    return pieces


def entry_changes(
    before: Mapping[str, Sequence[Entry]],
    after: Mapping[str, Sequence[Entry]],
    label: Callable[[Entry], str],
) -> list[dict[str, str]]:
    """Each entry removed from or added to a key's list ({"where", "change", "entry"}), keys in
    alphabetical order, removals first; an entry only moved within its list is no change."""
    found: list[dict[str, str]] = []
    for where in sorted(before.keys() | after.keys()):
        old = [label(e) for e in before.get(where, ())]
        new = [label(e) for e in after.get(where, ())]
        found += [{"where": where, "change": "removed", "entry": e} for e in old if e not in new]
        found += [{"where": where, "change": "added", "entry": e} for e in new if e not in old]
    return found


def lexicon_entry(entry: Mapping[str, str]) -> str:
    """A red-flag addition as the editor shows it: the phrase, or the pattern between slashes."""
    return entry["phrase"] if "phrase" in entry else f"/{entry.get('pattern', '')}/"


async def lexicon_changes(s: AsyncSession, version_id: int) -> list[dict[str, str]]:
    """The red-flag words a lexicon version added or removed, per category."""
    row = await version_of(s, LexiconVersion, version_id)
    before = await s.get(LexiconVersion, row.based_on) if row.based_on else None
    return entry_changes(before.edits if before else {}, row.edits, lexicon_entry)


async def training_changes(s: AsyncSession, version_id: int) -> list[dict[str, str]]:
    """The examples a training version added or removed, per intent."""
    row = await version_of(s, TrainingVersion, version_id)
    before = await s.get(TrainingVersion, row.based_on) if row.based_on else None
    return entry_changes(before.edits if before else {}, row.edits, str)
