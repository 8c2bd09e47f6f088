"""Speech recognition engines behind one small interface (Whisper, Vosk) and a WER metric."""
