"""The dialogs' fixed wording, for rendering ahead of calls: the replies of `wording.yaml` that
need nothing filled in (the domain's own responses among them: Rasa asks for their words).

Read from the file (not by importing Rasa), so the voice worker can pre-render them. Replies
with words in braces carry names and dates and are always synthesised live. A published edit of
the wording is learnt when it is published (`clinicline.flows.live.PublishedDialogWording`).
"""

from __future__ import annotations

from pathlib import Path

from dialogs.wording import DialogWording

DIALOGS_DIR = Path(__file__).parent


def fixed_replies(dialogs_dir: Path = DIALOGS_DIR) -> list[str]:
    """Every fixed reply text, in a stable order."""
    return sorted(set(DialogWording.from_file(dialogs_dir / "wording.yaml").fixed_texts()))
