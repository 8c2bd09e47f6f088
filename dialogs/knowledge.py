"""The clinic's own answers (hours, location, telehealth, visit prep), read from knowledge.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_FILE = Path(__file__).resolve().parent / "knowledge.yaml"


class KnowledgeError(ValueError):
    """The knowledge file is malformed; the message says where."""


@dataclass(frozen=True)
class Topic:
    name: str
    words: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class Knowledge:
    topics: tuple[Topic, ...]
    fallback: str

    @classmethod
    def load(cls, path: Path = DEFAULT_FILE) -> Knowledge:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        topics = []
        for name, body in (data.get("topics") or {}).items():
            if not isinstance(body, dict) or not body.get("answer") or not body.get("words"):
                raise KnowledgeError(f"{path}: topic {name!r} needs 'words' and 'answer'")
            words = tuple(str(w).lower() for w in body["words"])
            topics.append(Topic(str(name), words, str(body["answer"])))
        if not topics:
            raise KnowledgeError(f"{path}: no topics")
        return cls(tuple(topics), str(data.get("fallback") or ""))

    def answer(self, question: str) -> tuple[str | None, str]:
        """(topic, answer) for the topic whose words the question mentions most; (None,
        fallback) when it mentions none. A phrase counts by its words: "without an appointment"
        says more about the question than "today" does."""
        text = " " + " ".join(re.findall(r"[a-z]+", question.lower())) + " "
        scored = [
            (sum(len(w.split()) for w in t.words if f" {w} " in text), t) for t in self.topics
        ]
        score, best = max(scored, key=lambda pair: pair[0])
        if score == 0:
            return None, self.fallback
        return best.name, best.answer
