"""The semantic safety net: catches callers who describe a red flag in words no rule knows.

Each final utterance is compared (cosine of sentence embeddings) with a bank of red-flag
descriptions per category and with benign counter-descriptions (`net_bank.yaml`, data a
supervisor can read): the bank's own sentences and the labelled example files it lists
(`examples/`, thousands of callers' sentences written by different people). It fires when the
closest red-flag description is close enough and beats the closest benign one by the bank's
margin, unless the utterance says the trouble is over
("fine now"). When the caller plays it down ("a bit", "sometimes", "for years", "still
playing", a refill or a result) and says nothing bad or sudden ("barely", "right now"), the red
flag must win by a wider margin: mild and long-standing complaints are what the dialog's
screening question is for, not a nurse at once. It only ever raises `none` to `urgent` (the
nurse, now): deciding `emergent` stays with the deterministic lexicon. Embeddings do not
understand negation, so the engine keeps the net silent wherever the lexicon suppressed a match
on purpose.

If the model cannot load, triage goes on lexicon-only and says so once in the log.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nlu.triage.embedder import (
    SHARED,
    Embedder,
    ModelFiles,
    default_cache_dir,
    embed_cached,
    packaged_model_files,
)
from nlu.triage.errors import LexiconError
from nlu.triage.lexicon import read_triage_file
from nlu.triage.model import NetMatch
from nlu.triage.text import normalise

log = logging.getLogger(__name__)

DEFAULT_BANK = Path(__file__).with_name("net_bank.yaml")

# A farewell does not open a request: a caller's first "Bye," is a misheard "Hi,". Left in, it
# moves the sentence's embedding towards the bank's goodbye notes. On a `make run` call flite's
# "Hi, I need to reschedule my appointment" came out "Bye, I need to …", the net put it next to
# "calling to cancel my appointment because I won't be around anymore, I've made my decision",
# and she was given the crisis line and put through to a nurse. Greetings and fillers ("hi",
# "um") stay: taken out, they changed 20 of the example sets' net verdicts, for the worse.
_OPENING_FAREWELL = re.compile(r"^(?:bye\b[\s,.!?-]*)+(?=\w)", re.IGNORECASE)


def without_opening_farewell(text: str) -> str:
    """The words after an opening "Bye," ("Bye, I need a refill" -> "I need a refill")."""
    return _OPENING_FAREWELL.sub("", text.strip(), count=1)


_BANK_KEYS = {
    "version", "margin", "min_score", "answer_min_score", "min_words", "silent_when", "categories",
    "benign", "mild_when", "mild_margin", "mild_exempt", "severe_when", "examples", "answers",
    "screen_min_score", "screen_margin",
}
_RED_LABELS = {"emergent", "urgent", "escalate"}
_BENIGN_LABELS = {"none", "tricky"}
HAND_WRITTEN = "net_bank.yaml"  # the origin of the bank's own sentences
_NEVER = "(?!x)x"


@dataclass(frozen=True, slots=True)
class NetBank:
    """Red-flag descriptions by category, benign counter-descriptions, and the margin."""

    source: str
    margin: float
    min_score: float
    min_words: int
    silent_when: re.Pattern[str]
    descriptions: tuple[tuple[str, str], ...]  # (category, description)
    benign: tuple[str, ...]
    mild_when: re.Pattern[str] = re.compile(_NEVER)
    mild_margin: float = 0.0  # the extra margin a played-down utterance needs
    answer_min_score: float = 0.0  # the floor on answers to "your name?" and "date of birth?"
    mild_exempt: frozenset[str] = frozenset()  # categories never played down (self-harm)
    severe_when: re.Pattern[str] = re.compile(_NEVER)  # words that undo a playing-down
    # Where each description and benign sentence comes from: HAND_WRITTEN, or the name of the
    # example file (calibration leaves one file out at a time).
    description_origins: tuple[str, ...] = ()
    benign_origins: tuple[str, ...] = ()
    # Files of answers to the bot's own questions (dates of birth, names): ordinary lines that
    # stand for every caller's answer, so calibration keeps them in the bank (see calibrate).
    answer_files: tuple[str, ...] = ()
    # Closer to a red flag than this (and not further from it than the ordinary by more than
    # `screen_margin`), an utterance that does not fire is asked the screening question.
    screen_min_score: float = 1.0
    screen_margin: float = 1.0


@dataclass(frozen=True, slots=True)
class NetVerdict:
    """The net's judgement of one final utterance: the closest red-flag description, whether
    it raises the call to urgent, and whether it is only close enough to ask about."""

    match: NetMatch
    fires: bool
    near: bool


@dataclass(frozen=True, slots=True)
class NetScore:
    """The net's view of one utterance, whether or not it fires."""

    category: str
    description: str
    score: float  # cosine with the closest red-flag description
    benign: str
    benign_score: float  # cosine with the closest benign description
    mild: bool = False  # the caller plays it down, and the category may be played down

    @property
    def margin(self) -> float:
        return self.score - self.benign_score


def _strings(value: Any, where: str, source: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise LexiconError(source, f"{where} must be a non-empty list of sentences")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise LexiconError(source, f"{where} must hold only non-empty strings")
    return [" ".join(v.split()) for v in value]


def parse_bank(data: Any, source: str) -> NetBank:
    """Validate parsed YAML; raises LexiconError naming the file, category and reason."""
    if not isinstance(data, dict) or set(data) - _BANK_KEYS:
        raise LexiconError(source, f"the bank must be a mapping with keys {sorted(_BANK_KEYS)}")
    margin = data.get("margin")
    if not isinstance(margin, int | float) or not -1.0 < float(margin) < 1.0:
        raise LexiconError(source, "'margin' must be a number between -1 and 1")
    min_score = data.get("min_score", 0.0)
    if not isinstance(min_score, int | float) or not 0.0 <= float(min_score) < 1.0:
        raise LexiconError(source, "'min_score' must be a number between 0 and 1")
    min_words = data.get("min_words", 3)
    if not isinstance(min_words, int) or min_words < 1:
        raise LexiconError(source, "'min_words' must be a positive whole number")
    answer_min_score = data.get("answer_min_score", min_score)
    if not isinstance(answer_min_score, int | float) or not min_score <= answer_min_score < 1:
        raise LexiconError(source, "'answer_min_score' must be a number from min_score to 1")
    screen_min_score = data.get("screen_min_score", 1.0)
    if not isinstance(screen_min_score, int | float) or not 0 <= screen_min_score <= 1:
        raise LexiconError(source, "'screen_min_score' must be a number between 0 and 1")
    screen_margin = data.get("screen_margin", 1.0)
    if not isinstance(screen_margin, int | float) or not -1 < screen_margin <= 1:
        raise LexiconError(source, "'screen_margin' must be a number between -1 and 1")
    categories = data.get("categories")
    if not isinstance(categories, dict) or not categories:
        raise LexiconError(source, "'categories' must map category names to descriptions")
    descriptions: list[tuple[str, str]] = []
    for name, lines in categories.items():
        if not isinstance(name, str) or not name.strip():
            raise LexiconError(source, "category names must be non-empty strings")
        descriptions += [(name, line) for line in _strings(lines, f"category {name!r}", source)]
    benign = _strings(data.get("benign"), "'benign'", source)
    texts = [line for _, line in descriptions]
    duplicates = sorted({t for t in texts + benign if (texts + benign).count(t) > 1})
    if duplicates:
        raise LexiconError(source, f"sentences listed twice: {duplicates[:3]}")
    red_origins = [HAND_WRITTEN] * len(descriptions)
    benign_origins = [HAND_WRITTEN] * len(benign)
    examples = data.get("examples") or []
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        raise LexiconError(source, "'examples' must be a list of file names")
    answers = data.get("answers") or []
    if not isinstance(answers, list) or not all(isinstance(e, str) for e in answers):
        raise LexiconError(source, "'answers' must be a list of file names")
    # A sentence already in the bank or in an earlier file is kept once; one labelled a red
    # flag in one place and ordinary in another is an error, as within one file.
    red_seen, benign_seen = set(texts), set(benign)
    for name in [*examples, *answers]:
        red, ordinary = _read_examples(Path(source).parent / name, source)
        if red and name in answers:
            raise LexiconError(source, f"{name}: answers are ordinary lines, not red flags")
        for category, text in red:
            if text in benign_seen:
                raise LexiconError(source, f"{name}: a red flag elsewhere ordinary: {text!r}")
            if text not in red_seen:
                red_seen.add(text)
                descriptions.append((category, text))
                red_origins.append(name)
        for text in ordinary:
            if text in red_seen:
                raise LexiconError(source, f"{name}: ordinary, elsewhere a red flag: {text!r}")
            if text not in benign_seen:
                benign_seen.add(text)
                benign.append(text)
                benign_origins.append(name)
    silent_when = _word_regex(data.get("silent_when"), "silent_when", source)
    mild_when = _word_regex(data.get("mild_when"), "mild_when", source)
    severe_when = _word_regex(data.get("severe_when"), "severe_when", source)
    mild_margin = data.get("mild_margin", 0.0)
    if not isinstance(mild_margin, int | float) or not 0.0 <= float(mild_margin) <= 2.0:
        raise LexiconError(source, "'mild_margin' must be a number between 0 and 2")
    exempt = data.get("mild_exempt") or []
    if not isinstance(exempt, list) or not set(exempt) <= {c for c, _ in descriptions}:
        raise LexiconError(source, "'mild_exempt' must list categories of the bank")
    return NetBank(
        source, float(margin), float(min_score), min_words, silent_when, tuple(descriptions),
        tuple(benign), mild_when, float(mild_margin), float(answer_min_score), frozenset(exempt),
        severe_when, tuple(red_origins), tuple(benign_origins), tuple(answers),
        float(screen_min_score), float(screen_margin),
    )  # fmt: skip


def _read_examples(path: Path, source: str) -> tuple[list[tuple[str, str]], list[str]]:
    """A labelled set's red-flag lines (category, text) and ordinary lines.

    Lines are `label<TAB>category<TAB>text`; a red-flag line's category must be a snake_case
    name (it is spoken to the nurse). A text labelled both ways is an error: the net would
    compare callers with a sentence that means two things.
    """
    if not path.is_file():
        raise LexiconError(source, f"example file {path.name!r} is missing")
    red: dict[str, str] = {}
    ordinary: set[str] = set()
    order: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split("\t")]
        if len(parts) != 3 or parts[0] not in _RED_LABELS | _BENIGN_LABELS or not parts[2]:
            raise LexiconError(source, f"{path.name} line {number}: want label, category, text")
        label, category, text = parts[0], parts[1], " ".join(parts[2].split())
        if label in _RED_LABELS and not re.fullmatch(r"[a-z]+(?:_[a-z]+)*", category):
            raise LexiconError(source, f"{path.name} line {number}: category {category!r}")
        if (label in _RED_LABELS and text in ordinary) or (label in _BENIGN_LABELS and text in red):
            raise LexiconError(source, f"{path.name} line {number}: labelled both ways: {text!r}")
        if text not in red and text not in ordinary:
            order.append(text)
        if label in _RED_LABELS:
            red.setdefault(text, category)
        else:
            ordinary.add(text)
    return [(red[t], t) for t in order if t in red], [t for t in order if t in ordinary]


def _word_regex(value: Any, key: str, source: str) -> re.Pattern[str]:
    """A list of regexes over the canonical transcript, matched on whole words."""
    patterns = value or []
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
        raise LexiconError(source, f"'{key}' must be a list of regexes")
    try:
        return re.compile("|".join(rf"(?<!\S)(?:{p})(?!\S)" for p in patterns) or _NEVER)
    except re.error as exc:
        raise LexiconError(source, f"'{key}' does not compile: {exc}") from exc


def load_bank(path: str | Path) -> NetBank:
    return parse_bank(read_triage_file(path), str(path))


class _Provenance:
    """Which bank rows came from which file and hold which sentence, to leave some out."""

    def __init__(self, bank: NetBank) -> None:
        self._red = _rows_by(bank.description_origins, [d for _, d in bank.descriptions])
        self._benign = _rows_by(bank.benign_origins, list(bank.benign))
        # A sentence's row in the red rows followed by the benign ones (its first, if twice).
        sentences = [d for _, d in bank.descriptions] + list(bank.benign)
        self.row_of_sentence: dict[str, int] = {}
        for row, sentence in enumerate(sentences):
            self.row_of_sentence.setdefault(sentence, row)

    def red_rows(self, origin: str, sentence: str) -> list[int]:
        return self._red[0].get(origin, []) + self._red[1].get(sentence, [])

    def benign_rows(self, origin: str, sentence: str) -> list[int]:
        return self._benign[0].get(origin, []) + self._benign[1].get(sentence, [])


def _rows_by(
    origins: Sequence[str], sentences: Sequence[str]
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    by_origin: dict[str, list[int]] = {}
    by_sentence: dict[str, list[int]] = {}
    for row, (origin, sentence) in enumerate(zip(origins, sentences, strict=True)):
        by_origin.setdefault(origin, []).append(row)
        by_sentence.setdefault(sentence, []).append(row)
    return by_origin, by_sentence


class SafetyNet:
    """Scores utterances against a bank; the embedding model loads on first use, once.

    `model_files` defaults to the packaged model; a loader may be given (tests use it to
    count loads or to simulate a missing model).
    """

    def __init__(
        self,
        bank: NetBank,
        *,
        model_files: ModelFiles | None = None,
        loader: Callable[[ModelFiles], Embedder] = SHARED.get,
        cache_dir: Path | None = None,
    ) -> None:
        self.bank = bank
        self._cache_dir = cache_dir
        self._files = model_files
        self._loader = loader
        self._lock = threading.Lock()
        self._ready = False
        self._embedder: Embedder | None = None
        self._red: np.ndarray | None = None
        self._rows_provenance: _Provenance | None = None
        self._benign: np.ndarray | None = None

    @property
    def available(self) -> bool:
        """Loads the model if need be; False (with one warning) when it cannot load."""
        return self._load() is not None

    def warm_up(self) -> bool:
        """Load the model and embed the bank now (call at start-up, off the event loop)."""
        return self.available

    def match(self, text: str, *, answering: bool = False) -> NetMatch | None:
        """The description this utterance is a red flag like, or None when the net is silent.

        `answering`: the caller was asked for her name, date of birth or a medication's name.
        A recogniser that mishears a name writes a run of ordinary words ("I'm always going to
        remain"), which can sit near some description by chance; such answers need
        `answer_min_score`.
        """
        verdict = self.verdict(text, answering=answering)
        return verdict.match if verdict is not None and verdict.fires else None

    def verdict(self, text: str, *, answering: bool = False) -> NetVerdict | None:
        """Whether the utterance is a red flag (`fires`), or only close to one (`near`: the
        dialog asks the screening question); None when unscorable or the net is unavailable.
        Answers to the name and date-of-birth questions are never `near`: ordinary words a
        recogniser made of a name land there by chance (see `match`)."""
        scored = self.score(text)
        if scored is None:
            return None
        floor = self.bank.answer_min_score if answering else None
        fires = self.fires(scored, min_score=floor)
        near = not fires and not answering and self.near(scored)
        return NetVerdict(
            NetMatch(scored.category, scored.description, round(scored.score, 4)), fires, near
        )

    def near(
        self, scored: NetScore, min_score: float | None = None, margin: float | None = None
    ) -> bool:
        """Close to a red flag by the screening thresholds (the bank's unless given), whether
        or not it fires."""
        min_score = self.bank.screen_min_score if min_score is None else min_score
        margin = self.bank.screen_margin if margin is None else margin
        return scored.score >= min_score and scored.margin >= margin

    def fires(self, scored: NetScore, margin: float | None = None,
              min_score: float | None = None, mild_margin: float | None = None) -> bool:
        """Close enough to a red flag, and closer to it than to anything ordinary.

        A played-down utterance must beat the ordinary by `mild_margin` more.
        """
        margin = self.bank.margin if margin is None else margin
        min_score = self.bank.min_score if min_score is None else min_score
        if scored.mild:
            margin += self.bank.mild_margin if mild_margin is None else mild_margin
        return scored.score >= min_score and scored.margin >= margin

    def score(self, text: str) -> NetScore | None:
        """The closest red-flag and benign descriptions; None when unscorable or unavailable.
        A sentence the bank holds is not embedded again: its vector is the bank's."""
        return self._score(text, leave_out=None)

    def score_held_out(self, text: str, origin: str) -> NetScore | None:
        """`score` as if the bank had none of `origin`'s sentences, nor this text itself
        (`origin` "": only the text itself is left out).

        Calibration asks this of every line of an example file, one file at a time: how the
        net would judge a caller's sentence that nobody had added to the bank.
        """
        return self._score(text, leave_out=origin)

    def score_held_out_all(self, texts: list[str], origin: str) -> list[NetScore | None]:
        """`score_held_out` of each text, at the speed a calibration over thousands of lines
        needs: a text that is a bank sentence (every example line is) takes the vector the
        bank already has, the others are embedded together, and the scores come from one
        product of matrices."""
        embedder = self._load()
        out: list[NetScore | None] = [None] * len(texts)
        if embedder is None or self._red is None or self._benign is None:
            return out
        said, canonical = zip(*(self._heard(text) for text in texts), strict=True)
        scorable = [i for i, c in enumerate(canonical) if c is not None]
        if not scorable:
            return out
        vectors = self._vectors([said[i] for i in scorable], embedder)
        red_scores, benign_scores = vectors @ self._red.T, vectors @ self._benign.T
        for row, i in enumerate(scorable):
            out[i] = self._judge(
                texts[i], str(canonical[i]), red_scores[row], benign_scores[row], origin
            )
        return out

    def _vectors(self, texts: list[str], embedder: Embedder) -> np.ndarray:
        """A row per text: the bank's own for a sentence it holds, the others embedded."""
        held = [self._bank_vector(text) for text in texts]
        missing = list(dict.fromkeys(t for t, v in zip(texts, held, strict=True) if v is None))
        fresh = dict(zip(missing, embedder.embed(missing), strict=True)) if missing else {}
        rows = [fresh[t] if v is None else v for t, v in zip(texts, held, strict=True)]
        return np.vstack(rows)

    def _bank_vector(self, text: str) -> np.ndarray | None:
        assert self._red is not None and self._benign is not None
        row = self._provenance().row_of_sentence.get(text)
        if row is None:
            return None
        return self._red[row] if row < len(self._red) else self._benign[row - len(self._red)]

    def _heard(self, text: str) -> tuple[str, str | None]:
        """What is scored of `text` (`without_opening_farewell`), and its normalised form, or
        None when the net stays silent on it (too short, or words such as "it's over" that say
        the red flag is past)."""
        said = without_opening_farewell(text)
        if len(said.split()) < self.bank.min_words:
            return said, None
        canonical = normalise(said).text
        return said, None if self.bank.silent_when.search(canonical) else canonical

    def _score(self, text: str, leave_out: str | None) -> NetScore | None:
        said, canonical = self._heard(text)
        if canonical is None:
            return None
        embedder = self._load()
        if embedder is None or self._red is None or self._benign is None:
            return None
        vector = self._vectors([said], embedder)[0]
        return self._judge(text, canonical, self._red @ vector, self._benign @ vector, leave_out)

    def _judge(
        self, text: str, canonical: str, red: np.ndarray, benign: np.ndarray,
        leave_out: str | None,
    ) -> NetScore:
        """The verdict from the text's similarity to every red and benign bank sentence;
        `leave_out`: as if the bank had none of that file's sentences, nor the text itself."""
        bank = self.bank
        if leave_out is not None:
            rows = self._provenance()
            red, benign = red.copy(), benign.copy()
            red[rows.red_rows(leave_out, text)] = -1.0
            benign[rows.benign_rows(leave_out, text)] = -1.0
        best, worst = int(np.argmax(red)), int(np.argmax(benign))
        category, description = bank.descriptions[best]
        mild = (
            category not in bank.mild_exempt
            and bank.mild_when.search(canonical) is not None
            and bank.severe_when.search(canonical) is None
        )
        return NetScore(
            category, description, float(red[best]), bank.benign[worst],
            float(benign[worst]), mild,
        )  # fmt: skip

    def _provenance(self) -> _Provenance:
        if self._rows_provenance is None:
            self._rows_provenance = _Provenance(self.bank)
        return self._rows_provenance

    def _load(self) -> Embedder | None:
        if self._ready:
            return self._embedder
        with self._lock:
            if not self._ready:
                try:
                    files = self._files or packaged_model_files()
                    embedder = self._loader(files)
                    cache = self._cache_dir or default_cache_dir()
                    texts = [d for _, d in self.bank.descriptions] + list(self.bank.benign)
                    rows = embed_cached(embedder, texts, cache)
                    self._red = rows[: len(self.bank.descriptions)]
                    self._benign = rows[len(self.bank.descriptions):]
                    self._embedder = embedder
                except Exception as exc:  # any failure: the lexicon still works alone
                    log.warning("triage safety net unavailable, lexicon only: %s", exc)
                    self._embedder = None
                self._ready = True
        return self._embedder
