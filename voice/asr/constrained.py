"""Recognition held to what can be said: a date of birth as Whisper writes one, or one of a few
phrases (a yes or a no).

Asked for a date of birth, a caller says a date, and the words around it are few ("it's",
"I was born on"). A free decode lets the model's sense of ordinary English win over the audio:
espeak-ng's "July nineteenth, nineteen ninety" came out "You ride hunting, hunting" and "the
seventeenth of May" "May family be excited". Held to the dates Whisper can write, the same
audio is scored only between dates, so a poor phone line still gives the likeliest one.

`WrittenDates` is the grammar: a handful of forms ("March 4, 2000", "the 4th of March 2000",
"3/4/2000", "4 March 2000", "March the 4th, '00"), each a row of slots, and each slot a trie
over the model's own token ids (`encode` is the model's tokenizer, so a word is exactly the
tokens the model would write). `search` is a beam search over the model's next-token
log-probabilities that only takes tokens the grammar allows, and ends a hypothesis with the
end-of-text token only where a form is complete — so a date cut short ("March 4") pays for
the audio it leaves unexplained. `WrittenPhrases` holds a short list instead ("Yes", "Nope",
"That's not right"), for the answer to a yes-or-no question.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from nlu.dates import MONTH_NAMES, ordinal_words

# Words a caller says before the date when asked for it (the model writes them as it hears them).
_LEAD_INS = (
    "", " It's", " It is", " I was born on", " My date of birth is", " Born on", " That's",
    " Yes, it's", " Yeah, it's", " Sure, it's", " OK, it's", " So it's",
)  # fmt: skip
OLDEST_AGE = 120  # years: the grammar's earliest birth year is this many years ago


def _ordinal_suffix(day: int) -> str:
    return "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


class _Trie:
    """Token ids of a slot's alternatives; `end` where one of them is complete."""

    __slots__ = ("children", "end")

    def __init__(self) -> None:
        self.children: dict[int, _Trie] = {}
        self.end = False

    def depth(self) -> int:
        """Tokens in the longest alternative."""
        return 1 + max(child.depth() for child in self.children.values()) if self.children else 0


def _trie(encode: Callable[[str], list[int]], texts: Sequence[str]) -> _Trie:
    root = _Trie()
    for text in texts:
        node = root
        for token in encode(text) if text else []:
            node = node.children.setdefault(token, _Trie())
        node.end = True
    return root


_COMPLETE = _Trie()  # where every form ends


@dataclass(frozen=True, slots=True)
class _At:
    """A place in the grammar: which form, which of its slots, how far into that slot."""

    form: int
    slot: int
    node: _Trie  # compared by identity: one node per position in a trie


States = frozenset[_At]


class SlotGrammar:
    """Forms, each a row of slots, each slot a trie of token ids: what may be written."""

    forms: tuple[tuple[_Trie, ...], ...]

    def start(self) -> States:
        return self._reach(_At(form, 0, self.forms[form][0]) for form in range(len(self.forms)))

    def longest(self) -> int:
        """Tokens in the longest text the grammar allows (a search may need that many steps)."""
        return max(sum(slot.depth() for slot in form) for form in self.forms)

    def complete(self, states: States) -> bool:
        return any(at.slot == len(self.forms[at.form]) for at in states)

    def next_tokens(self, states: States) -> dict[int, States]:
        """Each token the grammar allows next, and where it leads."""
        found: dict[int, list[_At]] = {}
        for at in states:
            if at.slot < len(self.forms[at.form]):
                for token, child in at.node.children.items():
                    found.setdefault(token, []).append(_At(at.form, at.slot, child))
        return {token: self._reach(places) for token, places in found.items()}

    def _reach(self, places: Iterable[_At]) -> States:
        """The places, and every later slot reached through slots that may end here (an
        optional lead-in, comma or full stop)."""
        out: set[_At] = set()
        stack = list(places)
        while stack:
            at = stack.pop()
            if at in out:
                continue
            out.add(at)
            form = self.forms[at.form]
            if at.slot < len(form) and at.node.end:
                nxt = at.slot + 1
                stack.append(_At(at.form, nxt, form[nxt] if nxt < len(form) else _COMPLETE))
        return frozenset(out)


class WrittenPhrases(SlotGrammar):
    """One of a few phrases ("Yes.", "No, that's wrong."), with its punctuation."""

    def __init__(self, encode: Callable[[str], list[int]], phrases: Sequence[str]) -> None:
        said = [f" {p.strip()}" for p in phrases]
        self.forms = ((_trie(encode, said), _trie(encode, ["", ".", "!", "?"])),)


class WrittenDates(SlotGrammar):
    """The dates of birth of the last `OLDEST_AGE` years, in the ways Whisper writes dates."""

    def __init__(self, encode: Callable[[str], list[int]], this_year: int) -> None:
        def t(texts: Sequence[str]) -> _Trie:
            return _trie(encode, texts)

        first_year = this_year - OLDEST_AGE
        years = [f" {y}" for y in range(first_year, this_year + 1)]
        short_years = [f" '{y:02d}" for y in range(100)] + [f" {y:02d}" for y in range(100)]
        months = [f" {m}" for m in MONTH_NAMES]
        days = [f" {d}" for d in range(1, 32)] + [f" {d}{_ordinal_suffix(d)}" for d in range(1, 32)]
        ordinals = [f" {d}{_ordinal_suffix(d)}" for d in range(1, 32)]
        ordinals += [f" {ordinal_words(d, joiner='-')}" for d in range(1, 32)]
        numeric_months = [f" {m}" for m in range(1, 13)] + [f" {m:02d}" for m in range(1, 10)]
        numeric_days = [f"{d}" for d in range(1, 32)] + [f"{d:02d}" for d in range(1, 10)]
        numeric_years = [f"{y}" for y in range(first_year, this_year + 1)]
        numeric_years += [f"{y:02d}" for y in range(100)]
        lead, any_year = t(_LEAD_INS), t(years + short_years)
        comma, end, month = t(["", ","]), t(["", "."]), t(months)
        separator = t(["/", "-"])
        self.forms: tuple[tuple[_Trie, ...], ...] = (
            (lead, month, t(days), comma, any_year, end),  # March 4, 2000
            (lead, t([" the", " The"]), t(ordinals), t([" of"]), month, comma, any_year, end),
            (lead, month, t([" the"]), t(ordinals), comma, any_year, end),  # March the 4th, 2000
            (lead, t(days), month, comma, t(years), end),  # 4 March 2000
            (lead, t(numeric_months), separator, t(numeric_days), separator,
             t(numeric_years), end),  # 3/4/2000
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Hypothesis:
    tokens: tuple[int, ...]
    logprob: float  # summed over the tokens and the end of text

    @property
    def average(self) -> float:
        return self.logprob / (len(self.tokens) + 1)


NextLogprobs = Callable[[list[list[int]]], list[np.ndarray | None]]


def search(
    next_logprobs: NextLogprobs,
    grammar: SlotGrammar,
    end_token: int,
    *,
    beam: int = 5,
    max_tokens: int | None = None,
) -> list[Hypothesis]:
    """Complete hypotheses the grammar allows, best first. `next_logprobs` gives, for each
    token prefix, the model's log-probabilities over its vocabulary for the next token (None:
    the prefix goes no further).

    Stops once the best complete hypothesis scores above every live one (scores only fall as
    tokens are added), or after `max_tokens` steps (by default the grammar's longest text: a
    fixed cap of 16 lost every surname of more than eight letters spelled "V-E-N-K-...")."""
    steps = grammar.longest() + 1 if max_tokens is None else max_tokens
    live: list[tuple[list[int], float, States]] = [([], 0.0, grammar.start())]
    done: list[Hypothesis] = []
    for _ in range(steps):
        if not live:
            break
        grown: list[tuple[list[int], float, States]] = []
        for (tokens, score, states), logprobs in zip(
            live, next_logprobs([tokens for tokens, _, _ in live]), strict=True
        ):
            if logprobs is None:
                continue
            if grammar.complete(states):
                done.append(Hypothesis(tuple(tokens), score + float(logprobs[end_token])))
            for token, after in grammar.next_tokens(states).items():
                grown.append(([*tokens, token], score + float(logprobs[token]), after))
        grown.sort(key=lambda h: -h[1])
        live = grown[:beam]
        best_done = max((h.logprob for h in done), default=-np.inf)
        if live and best_done >= live[0][1]:
            break
    return sorted(done, key=lambda h: -h.logprob)
