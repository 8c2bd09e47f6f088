"""Load the speech models once per process: recogniser, voice, and the rendered prompts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clinicline.callflow.prompts import clinic_prompts
from clinicline.config import Config
from clinicline.health import Health, State
from dialogs.replies import fixed_replies
from voice.asr.select import describe_recognizer, make_recognizer
from voice.asr.whisper import WhisperConfig
from voice.tts.base import Synthesizer
from voice.tts.cache import PromptCache
from voice.tts.phrases import PhraseSynthesizer
from voice.tts.piper import PiperSynthesizer
from voice.worker import SpeechPlant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedSpeech:
    """The clinic's prompts and the dialogs' fixed replies, on disk and in memory."""

    prompts: PromptCache
    phrases: PhraseSynthesizer
    prompt_count: int
    piece_count: int


def render_speech(synthesizer: Synthesizer, data_dir: Path, clinic_name: str) -> RenderedSpeech:
    """Render the prompts and the fixed reply pieces into `data_dir` (only what is not there
    yet is synthesised). Blocking: Piper works for minutes on a fresh data dir."""
    prompts = PromptCache(synthesizer, data_dir / "prompts")
    rendered = prompts.render(clinic_prompts(clinic_name))
    # The dialogs' fixed replies come from the same disk cache: no synthesis on those turns.
    phrases = PhraseSynthesizer(synthesizer, prompts)
    known = phrases.learn(fixed_replies())
    return RenderedSpeech(prompts, phrases, rendered, known)


async def load_speech(
    config: Config, health: Health, vocabulary: Sequence[str] = ()
) -> SpeechPlant:
    """Recogniser, synthesiser and prompt cache; the prompts are on disk before calls come."""
    synthesizer = await asyncio.to_thread(PiperSynthesizer, threads=config.tts_threads)
    speech = await asyncio.to_thread(
        render_speech, synthesizer, config.data_dir, config.clinic_name
    )
    health.set(
        "tts",
        State.UP,
        f"piper joe, {speech.prompt_count} prompts and {speech.piece_count} reply pieces rendered",
    )
    recognizer = await asyncio.to_thread(
        make_recognizer,
        config.asr_engine,
        config.vosk_model_dir,
        vocabulary,
        whisper=WhisperConfig(
            cpu_threads=config.asr_threads,
            window_seconds=config.asr_window_seconds,
            beam_size=config.asr_beams,
        ),
    )
    description = describe_recognizer(recognizer)
    log.info("speech recognition: %s", description)
    print(f"speech recognition: {description}", flush=True)
    health.set("asr", State.UP, description, engine=recognizer.name)
    return SpeechPlant(recognizer=recognizer, synthesizer=speech.phrases, prompts=speech.prompts)
