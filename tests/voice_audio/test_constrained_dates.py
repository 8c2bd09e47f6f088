"""The grammar of written dates and the search held to it, on a tokenizer of single characters
(the real model's tokens are exercised in test_date_hearing.py)."""

from __future__ import annotations

import math

import numpy as np

from voice.asr.constrained import WrittenDates, WrittenPhrases, search

END = 256  # the end-of-text token of the character tokenizer


def encode(text: str) -> list[int]:
    return [ord(c) for c in text]


def accepts(grammar: WrittenDates, text: str) -> bool:
    states = grammar.start()
    for token in encode(text):
        after = grammar.next_tokens(states).get(token)
        if after is None:
            return False
        states = after
    return grammar.complete(states)


def test_the_ways_a_date_is_written_are_in_the_grammar_and_other_words_are_not() -> None:
    grammar = WrittenDates(encode, 2026)
    for text in (
        " March 4, 2000", " March 4th, 2000.", " It's March 4 2000", " The 4th of March 2000",
        " the fourth of March, 1958", " I was born on the twenty-first of June 1969",
        " March the 4th, '00", " 4 March 2000", " 3/4/2000", " 12-01-35", " November 20th 58",
    ):  # fmt: skip
        assert accepts(grammar, text), text
    for text in (
        " March 32, 2000", " March 4", " Marchy 4, 2000", " March 4, 1899", " March 4, 2027",
        " 13/4/2000", " I need a refill", "",
    ):  # fmt: skip
        assert not accepts(grammar, text), text


def scorer(target: str, miss: float = math.log(1e-4)) -> object:
    """A model that hears `target`: likely on its next character, unlikely on anything else."""
    wanted = encode(target)

    def next_logprobs(prefixes: list[list[int]]) -> list[np.ndarray]:
        out = []
        for prefix in prefixes:
            row = np.full(END + 1, miss)
            at = len(prefix)
            if prefix == wanted[:at]:
                row[wanted[at] if at < len(wanted) else END] = math.log(0.9)
            out.append(row)
        return out

    return next_logprobs


def test_the_search_finds_the_date_the_model_hears_and_ends_it_where_the_audio_ends() -> None:
    grammar = WrittenDates(encode, 2026)
    found = search(scorer(" July 19, 1990."), grammar, END, max_tokens=40)  # type: ignore[arg-type]
    assert bytes(found[0].tokens).decode() == " July 19, 1990."
    assert math.exp(found[0].average) > 0.8
    # A date cut short ("July 19", a complete form only with a year) is never the answer.
    assert all(len(h.tokens) > len(" July 19") for h in found)


def test_words_that_are_no_date_still_come_out_as_a_date_but_an_unlikely_one() -> None:
    """The grammar holds only dates, so what the caller said instead scores low: the caller of
    the search decides by the confidence."""
    grammar = WrittenDates(encode, 2026)
    found = search(scorer(" I don't know it"), grammar, END, max_tokens=40)  # type: ignore[arg-type]
    assert found and math.exp(found[0].average) < 0.01


def test_the_search_runs_as_long_as_the_longest_text_the_grammar_allows() -> None:
    """A surname spelled out is long in tokens ("V-E-N-K-A-T-A-R-A-M-A-N." is 25 here); with
    no cap given, the search reaches its end instead of stopping at a fixed 16."""
    spelled = "V-E-N-K-A-T-A-R-A-M-A-N"
    grammar = WrittenPhrases(encode, [spelled, "H-O-L-L-O-W-A-Y"])
    assert grammar.longest() == len(f" {spelled}.")
    found = search(scorer(f" {spelled}."), grammar, END)  # type: ignore[arg-type]
    assert found and bytes(found[0].tokens).decode() == f" {spelled}."
    assert not search(scorer(f" {spelled}."), grammar, END, max_tokens=16)  # type: ignore[arg-type]
