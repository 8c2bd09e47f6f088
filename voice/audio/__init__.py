"""Media primitives of the voice worker: G.711 codecs, 20 ms frames, WAV I/O and VAD."""
