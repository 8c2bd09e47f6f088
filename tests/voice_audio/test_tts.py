"""Synthesis: sentence splitting, Piper's early first sentence, other voices, prompt cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clinicline.callflow.prompts import clinic_prompts
from voice.audio.wav import read_wav
from voice.tts.base import MAX_SENTENCE_CHARS, Synthesizer, split_sentences
from voice.tts.cache import PromptCache, UnknownPrompt
from voice.tts.external import EspeakSynthesizer, FliteSynthesizer
from voice.tts.piper import PiperSynthesizer

DEFAULT_PROMPTS = clinic_prompts("Test Clinic")


def test_sentences_split_at_stops_but_not_after_titles_or_times() -> None:
    text = "Your visit is with Dr. Okafor at 9 a.m. Tuesday. Does that work? Say yes or no!"
    assert split_sentences(text) == [
        "Your visit is with Dr. Okafor at 9 a.m. Tuesday.",
        "Does that work?",
        "Say yes or no!",
    ]


def test_a_very_long_sentence_is_cut_at_clause_boundaries() -> None:
    clause = "you can also reach the front desk from the main menu at any time"
    parts = split_sentences(", ".join([clause] * 6) + ".")
    assert len(parts) > 1
    assert all(len(p) <= MAX_SENTENCE_CHARS for p in parts)
    assert " ".join(parts).replace(",", "") == (", ".join([clause] * 6) + ".").replace(",", "")


def test_piper_yields_the_first_sentence_before_rendering_the_rest(
    piper: PiperSynthesizer,
) -> None:
    text = "Thanks for waiting. I found two openings next week. The first is Monday at ten."
    before = piper.sentences_rendered
    audio = piper.synthesize(text)
    first = next(audio)
    assert piper.sentences_rendered - before == 1
    rest = list(audio)
    assert piper.sentences_rendered - before == 3
    assert len(rest) == 2
    assert first.dtype == np.int16 and 0.5 < len(first) / 8000 < 3.0


def test_piper_speaks_at_telephone_rate(piper: PiperSynthesizer) -> None:
    assert isinstance(piper, Synthesizer)
    (audio,) = list(piper.synthesize("Hello."))
    assert piper.sample_rate == 8000
    assert np.abs(audio).max() > 3000  # audible, not silence


@pytest.mark.parametrize("voice", ["espeak", "flite"])
def test_command_line_voices_share_the_interface(
    voice: str, request: pytest.FixtureRequest
) -> None:
    synthesizer = request.getfixturevalue(voice)
    chunks = list(synthesizer.synthesize("First sentence. Second one."))
    assert len(chunks) == 2
    assert all(c.dtype == np.int16 and len(c) > 2000 for c in chunks)


def test_command_line_voices_name_their_engine_and_voice() -> None:
    assert EspeakSynthesizer("en-gb").voice_id != EspeakSynthesizer("en-us").voice_id
    assert FliteSynthesizer("kal").voice_id == "flite:kal"


def test_text_starting_with_a_dash_is_spoken_not_parsed_as_an_option(
    espeak: EspeakSynthesizer,
) -> None:
    assert len(list(espeak.synthesize("-v is not an option here."))) == 1


def test_clinic_prompts_lead_the_emergency_message_with_911() -> None:
    assert DEFAULT_PROMPTS["emergency"].startswith(
        "If this is a medical emergency, hang up and dial 911"
    )
    assert {"greeting", "reprompt", "goodbye", "hold", "transfer", "emergency", "shutdown",
            "keypad_menu"} <= set(DEFAULT_PROMPTS)  # fmt: skip


def test_prompt_cache_renders_once_and_a_restart_reuses_the_files(
    espeak: EspeakSynthesizer, tmp_path: Path
) -> None:
    first = PromptCache(espeak, tmp_path)
    assert first.render(DEFAULT_PROMPTS) == len(DEFAULT_PROMPTS)
    assert (first.synthesized, first.reused) == (len(DEFAULT_PROMPTS), 0)

    restarted = PromptCache(espeak, tmp_path)
    restarted.render(DEFAULT_PROMPTS)
    assert (restarted.synthesized, restarted.reused) == (0, len(DEFAULT_PROMPTS))
    assert np.array_equal(restarted.audio("emergency"), first.audio("emergency"))
    assert np.array_equal(read_wav(restarted.path("emergency")), first.audio("emergency"))
    assert restarted.text("goodbye") == DEFAULT_PROMPTS["goodbye"]


def test_changed_wording_or_another_voice_renders_anew(
    espeak: EspeakSynthesizer, flite: FliteSynthesizer, tmp_path: Path
) -> None:
    PromptCache(espeak, tmp_path).render({"hold": "Please hold."})
    reworded = PromptCache(espeak, tmp_path)
    reworded.render({"hold": "Please hold the line."})
    other_voice = PromptCache(flite, tmp_path)
    other_voice.render({"hold": "Please hold."})
    assert reworded.synthesized == 1 and other_voice.synthesized == 1
    assert len(list(tmp_path.glob("hold-*.wav"))) == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_asking_for_an_unrendered_prompt_names_the_ones_that_exist(
    espeak: EspeakSynthesizer, tmp_path: Path
) -> None:
    cache = PromptCache(espeak, tmp_path)
    cache.render({"goodbye": "Goodbye."})
    with pytest.raises(UnknownPrompt, match="goodbye"):
        cache.audio("greting")
