"""G.711 in numpy must match audioop bit for bit (audioop disappears in Python 3.13)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from voice.audio.codec import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

EVERY_SAMPLE = np.arange(-32768, 32768, dtype=np.int16)
EVERY_CODE = bytes(range(256))


def test_ulaw_encoding_matches_audioop_for_every_int16_value() -> None:
    assert ulaw_encode(EVERY_SAMPLE) == audioop.lin2ulaw(EVERY_SAMPLE.tobytes(), 2)


def test_alaw_encoding_matches_audioop_for_every_int16_value() -> None:
    assert alaw_encode(EVERY_SAMPLE) == audioop.lin2alaw(EVERY_SAMPLE.tobytes(), 2)


def test_ulaw_decoding_matches_audioop_for_every_code() -> None:
    assert ulaw_decode(EVERY_CODE).tobytes() == audioop.ulaw2lin(EVERY_CODE, 2)


def test_alaw_decoding_matches_audioop_for_every_code() -> None:
    assert alaw_decode(EVERY_CODE).tobytes() == audioop.alaw2lin(EVERY_CODE, 2)


def test_a_round_trip_keeps_a_tone_within_g711_quantisation_error() -> None:
    t = np.arange(160) / 8000
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        back = decode(encode(tone))
        assert back.dtype == np.int16
        # Logarithmic companding: error grows with amplitude, about 3 % of it at most.
        assert np.max(np.abs(back.astype(int) - tone)) <= 0.035 * 8000


def test_encoding_refuses_float_audio_instead_of_garbling_it() -> None:
    with pytest.raises(TypeError):
        ulaw_encode(np.zeros(160, dtype=np.float32))
