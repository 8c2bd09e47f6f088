"""The turn-taking bench's arithmetic: when a turn ends, and who counts as cut off."""

from __future__ import annotations

from clinicline.bench_turns import BEFORE_MS, EARLY_MS, VAD_MS, _turn_end_ms, cut_offs


def test_a_turn_ends_at_the_rules_pause_or_when_the_words_are_in_if_later() -> None:
    assert _turn_end_ms(350, 900, "I need a refill.", 80.0, None) == 350
    # Now recognition starts at the early pause; it started at the detector's end before.
    assert _turn_end_ms(350, 900, "I need a refill.", 300.0, None) == EARLY_MS + 300
    assert _turn_end_ms(350, 900, "I need a refill.", 200.0, None, VAD_MS) == VAD_MS + 200
    assert _turn_end_ms(350, 900, "I need to move my", 80.0, None) == 900
    # Before: one pause whatever the words.
    assert _turn_end_ms(BEFORE_MS, None, "I need to move my", 80.0, None) == BEFORE_MS


def test_a_caller_is_cut_off_when_the_turn_ends_inside_her_pause() -> None:
    rows = [
        {"hangs": True, "end_ms": 900.0, "end_ms_before": 500.0},
        {"hangs": True, "end_ms": 350.0, "end_ms_before": 500.0},
        {"hangs": False, "end_ms": 350.0, "end_ms_before": 500.0},
    ]
    assert cut_offs(rows, "end_ms", 600, hangs=True) == (1, 2)
    assert cut_offs(rows, "end_ms_before", 600, hangs=True) == (2, 2)
    assert cut_offs(rows, "end_ms", 300, hangs=True) == (0, 2)
    assert cut_offs(rows, "end_ms", 350, hangs=False) == (1, 1)
