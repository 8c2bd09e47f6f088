"""The word error rate used to judge recognisers."""

from __future__ import annotations

from voice.asr.wer import edit_distance, normalise_words, word_error_rate


def test_identical_sentences_have_no_errors_whatever_the_punctuation_and_case() -> None:
    assert word_error_rate([("Dr. Smith's office, please!", "dr smiths office please")]).rate == 0


def test_each_substitution_insertion_and_deletion_counts_once() -> None:
    assert edit_distance(["a", "b", "c"], ["a", "x", "c"]) == 1
    assert edit_distance(["a", "b"], ["a", "b", "c"]) == 1
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1
    assert edit_distance([], ["a", "b"]) == 2


def test_wer_is_pooled_over_reference_words() -> None:
    score = word_error_rate([("one two three four", "one two three four"), ("five five", "")])
    assert (score.errors, score.reference_words) == (2, 6)
    assert score.rate == 2 / 6


def test_single_digits_and_their_words_are_the_same_word() -> None:
    assert normalise_words("press 1 for 2 days") == ["press", "one", "for", "two", "days"]


def test_a_wrong_drug_name_still_counts_as_an_error() -> None:
    assert word_error_rate([("refill atorvastatin", "refill past data")]).errors == 2
