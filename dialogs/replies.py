"""The dialogs' fixed wording, for rendering ahead of calls: the domain's responses and the
replies of `wording.yaml` that need nothing filled in.

Read from the files (not by importing Rasa), so the voice worker can pre-render them. Replies
with words in braces carry names and dates and are always synthesised live. A published edit of
the wording is learnt when it is published (`clinicline.flows.live.PublishedDialogWording`).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dialogs.wording import DialogWording

DIALOGS_DIR = Path(__file__).parent


def fixed_replies(dialogs_dir: Path = DIALOGS_DIR) -> list[str]:
    """Every fixed reply text, in a stable order."""
    texts: set[str] = set(DialogWording.from_file(dialogs_dir / "wording.yaml").fixed_texts())
    domain = yaml.safe_load((dialogs_dir / "domain.yml").read_text()) or {}
    for variants in (domain.get("responses") or {}).values():
        for variant in variants or []:
            text = variant.get("text") if isinstance(variant, dict) else None
            if isinstance(text, str) and "{" not in text:
                texts.add(text)
    return sorted(texts)
