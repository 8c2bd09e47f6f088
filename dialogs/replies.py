"""The dialogs' fixed wording: responses in the domain and literal texts the actions utter.

Read from the files (the domain's YAML, the actions' source), not by importing Rasa, so the
voice worker can pre-render them. Texts with slots or f-string parts are left out: those carry
names and dates and are always synthesised live.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

DIALOGS_DIR = Path(__file__).parent


def fixed_replies(dialogs_dir: Path = DIALOGS_DIR) -> list[str]:
    """Every fixed reply text, in a stable order."""
    texts: set[str] = set()
    domain = yaml.safe_load((dialogs_dir / "domain.yml").read_text()) or {}
    for variants in (domain.get("responses") or {}).values():
        for variant in variants or []:
            text = variant.get("text") if isinstance(variant, dict) else None
            if isinstance(text, str) and "{" not in text:
                texts.add(text)
    for source in sorted((dialogs_dir / "actions").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Call) and _is_utter(node):
                for keyword in node.keywords:
                    text = _literal(keyword.value) if keyword.arg == "text" else None
                    if text:
                        texts.add(text)
    return sorted(texts)


def _is_utter(call: ast.Call) -> bool:
    func = call.func
    return isinstance(func, ast.Attribute) and func.attr == "utter_message"


def _literal(node: ast.expr) -> str | None:
    """A plain string literal's text (f-strings and names are not fixed wording)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
        return node.value
    return None
