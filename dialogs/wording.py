"""The words the dialogs' actions say, as data (`wording.yaml`), not as literals in the code.

An action asks for a reply by name and gives the words in braces (`say("booked",
appointment=...)`). The texts are the file's until a supervisor publishes others in the
console's Flows area; the process's `DialogWording` then takes the published texts (see
`clinicline.flows.live`), and the next reply uses them. A published text is checked when it is
saved to keep exactly the default's words in braces; one that does not fit (a file changed
under it) is ignored in favour of the default, so an action never fails on its wording.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

WORDING_FILE = Path(__file__).with_name("wording.yaml")
# The names the Flows area shows the dialogs' replies under, beside the call-flow prompts.
PREFIX = "dialog."


class WordingError(ValueError):
    """The wording file is malformed, or a reply is asked for that it does not hold."""


@dataclass(frozen=True)
class Reply:
    name: str
    text: str
    used: str

    @property
    def fields(self) -> frozenset[str]:
        return fields_of(self.text)


def fields_of(text: str) -> frozenset[str]:
    """The words in braces of a text; WordingError when the braces are not well formed."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise WordingError(f"braces that do not pair up in {text!r}") from exc
    names = {name for _, name, spec, conv in parsed if name is not None}
    for _, name, spec, conv in parsed:
        if name is not None and (not name.isidentifier() or spec or conv):
            raise WordingError(f"{{{name}}} is not a plain word in braces in {text!r}")
    return frozenset(names)


def fixed_of(texts: Iterable[str]) -> list[str]:
    """The texts that need nothing filled in, once each, in a stable order."""
    return sorted({t for t in texts if "{" not in t})


def load_replies(path: Path = WORDING_FILE) -> dict[str, Reply]:
    """Every reply of the file, by name, in the file's order."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    replies: dict[str, Reply] = {}
    for name, body in (data.get("replies") or {}).items():
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise WordingError(f"{path}: reply {name!r} needs a text")
        text = " ".join(body["text"].split())
        reply = Reply(str(name), text, str(body.get("used") or ""))
        fields_of(text)  # malformed braces fail at load, not on a call
        replies[reply.name] = reply
    if not replies:
        raise WordingError(f"{path}: no replies")
    return replies


def load_samples(path: Path = WORDING_FILE) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in (data.get("samples") or {}).items()}


class DialogWording:
    """The replies in use in this process: the file's, or the published ones."""

    def __init__(self, replies: Mapping[str, Reply], samples: Mapping[str, str]) -> None:
        self.replies = dict(replies)
        self.samples = dict(samples)
        self._texts = {name: reply.text for name, reply in self.replies.items()}
        missing = {f for r in self.replies.values() for f in r.fields} - set(self.samples)
        if missing:
            raise WordingError(f"no sample words for {sorted(missing)}")

    @classmethod
    def from_file(cls, path: Path = WORDING_FILE) -> DialogWording:
        return cls(load_replies(path), load_samples(path))

    def say(self, reply: str, /, **words: object) -> str:
        """The reply named REPLY with its words in braces filled in."""
        try:
            text = self._texts[reply]
        except KeyError:
            raise WordingError(f"no reply named {reply!r}") from None
        return text.format(**{k: str(v) for k, v in words.items()})

    def defaults(self) -> dict[str, str]:
        """The file's texts under their Flows names (`dialog.<name>`)."""
        return {PREFIX + name: reply.text for name, reply in self.replies.items()}

    def texts(self) -> dict[str, str]:
        """The texts in use now, by reply name."""
        return dict(self._texts)

    def use(self, published: Mapping[str, str]) -> list[str]:
        """Take the published texts (Flows names); a text whose words in braces differ from
        the default's stays the default. Returns the names kept at their default for that."""
        texts: dict[str, str] = {}
        refused: list[str] = []
        for name, reply in self.replies.items():
            text = published.get(PREFIX + name, reply.text)
            try:
                fits = fields_of(text) == reply.fields
            except WordingError:
                fits = False
            if not fits:
                refused.append(name)
                text = reply.text
            texts[name] = text
        self._texts = texts
        if refused:
            log.warning("dialog replies kept at their default (braces differ): %s", refused)
        return refused

    def fixed_texts(self) -> list[str]:
        """The texts in use that need nothing filled in: rendered ahead of calls."""
        return fixed_of(self._texts.values())

    def with_samples(self, text: str) -> str:
        """TEXT with sample words in its braces, for hearing it in the console."""
        return text.format(**{f: self.samples.get(f, f) for f in fields_of(text)})
