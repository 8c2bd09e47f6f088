"""A test phone's lines are rendered once, then read back: the same audio, no engine loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voice.tts.select import RememberedVoice, make_voice


def test_a_line_said_before_is_read_back_without_loading_the_engine(tmp_path: Path) -> None:
    first = RememberedVoice("espeak", tmp_path)
    said = np.concatenate(list(first.synthesize("I would like to book an appointment")))
    assert len(said) > 8000 and len(list(tmp_path.glob("espeak-*.wav"))) == 1

    again = make_voice("espeak", tmp_path)
    assert isinstance(again, RememberedVoice)
    heard = np.concatenate(list(again.synthesize("I would like to book an appointment")))
    assert np.array_equal(heard, said)
    assert not again.engine_loaded  # read from the file

    other = np.concatenate(list(again.synthesize("Can I speak to a nurse")))
    assert again.engine_loaded and not np.array_equal(other[: len(said)], said)
    assert len(list(tmp_path.glob("espeak-*.wav"))) == 2
