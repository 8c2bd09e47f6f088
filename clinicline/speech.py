"""Load the speech models once per process: recogniser, voice, and the rendered prompts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from clinicline.callflow.prompts import clinic_prompts
from clinicline.config import Config
from clinicline.health import Health, State
from dialogs.replies import fixed_replies
from voice.asr.select import describe_recognizer, make_recognizer
from voice.asr.whisper import WhisperConfig
from voice.tts.cache import PromptCache
from voice.tts.phrases import PhraseSynthesizer
from voice.tts.piper import PiperSynthesizer
from voice.worker import SpeechPlant

log = logging.getLogger(__name__)


async def load_speech(
    config: Config, health: Health, vocabulary: Sequence[str] = ()
) -> SpeechPlant:
    """Recogniser, synthesiser and prompt cache; the prompts are on disk before calls come."""
    synthesizer = await asyncio.to_thread(PiperSynthesizer, threads=config.tts_threads)
    prompts = PromptCache(synthesizer, config.data_dir / "prompts")
    rendered = await asyncio.to_thread(prompts.render, clinic_prompts(config.clinic_name))
    # The dialogs' fixed replies come from the same disk cache: no synthesis on those turns.
    phrases = PhraseSynthesizer(synthesizer, prompts)
    known = await asyncio.to_thread(phrases.learn, fixed_replies())
    health.set(
        "tts", State.UP, f"piper joe, {rendered} prompts and {known} reply pieces rendered"
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
    return SpeechPlant(recognizer=recognizer, synthesizer=phrases, prompts=prompts)
