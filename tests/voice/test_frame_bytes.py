"""A frame's bytes read in one copy are the bytes SWIG's own (slow) iteration gives."""

from __future__ import annotations

import os

import pjsua2 as pj
import pytest

from voice.sip.media import FRAME_BYTES, frame_bytes


@pytest.mark.parametrize("length", [0, 1, 159, FRAME_BYTES, 2 * FRAME_BYTES])
def test_a_frame_read_in_one_copy_matches_swigs_iteration(length: int) -> None:
    frame = pj.MediaFrame()
    frame.buf = pj.ByteVector(os.urandom(length))
    frame.size = length
    assert frame_bytes(frame.buf, frame.size) == bytes(frame.buf)


def test_a_size_beyond_the_buffer_gives_what_the_buffer_holds() -> None:
    buf = pj.ByteVector(b"\x01\x02\x03")
    assert frame_bytes(buf, FRAME_BYTES) == b"\x01\x02\x03"
