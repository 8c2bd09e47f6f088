"""Whisper over a simulated phone line: accuracy on three voices, silence, noise, threads."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from voice.asr.base import RecognitionStream, SpeechRecognizer
from voice.asr.wer import word_error_rate
from voice.asr.whisper import (
    WhisperConfig,
    WhisperRecognizer,
    build_prompt,
    capital_i,
    trim_repetition,
)
from voice.audio.frames import silence
from voice.audio.wav import read_wav, telephone_channel

Render = Callable[[object, str], np.ndarray]

# Everyday requests a clinic hears, written for these tests (not taken from any eval set).
SENTENCES = (
    "I need to move my appointment to next Thursday afternoon.",
    "Could you send a refill of my lisinopril to the pharmacy?",
    "My son has had a cough and a fever for two days.",
    "I have a question about a charge on my last bill.",
    "Is the office open on Saturday morning?",
    "I am calling about the results of my blood test.",
    "Please cancel my visit with Doctor Patel on Monday.",
    "I ran out of my metformin yesterday.",
)


def transcribe(recognizer: SpeechRecognizer, audio: np.ndarray) -> str:
    stream: RecognitionStream = recognizer.new_stream()
    for start in range(0, len(audio), 160):
        assert stream.accept(audio[start : start + 160]) is None  # whisper does not stream
    return stream.finish().text


def wer_for(voice: object, whisper: WhisperRecognizer, phone_speech: Render) -> float:
    pairs = [(s, transcribe(whisper, phone_speech(voice, s))) for s in SENTENCES]
    return word_error_rate(pairs).rate


def test_whisper_understands_piper_over_the_phone(
    whisper: WhisperRecognizer, piper: object, phone_speech: Render
) -> None:
    assert wer_for(piper, whisper, phone_speech) <= 0.10


def test_whisper_understands_flite_over_the_phone(
    whisper: WhisperRecognizer, flite: object, phone_speech: Render
) -> None:
    assert wer_for(flite, whisper, phone_speech) <= 0.20


def test_whisper_mostly_understands_robotic_espeak_over_the_phone(
    whisper: WhisperRecognizer, espeak: object, phone_speech: Render
) -> None:
    # espeak-ng's formant voice is far from anything tiny.en was trained on (measured 43-48 %
    # on these sentences); this bound guards against regressions, it is not a quality target.
    assert wer_for(espeak, whisper, phone_speech) <= 0.55


def test_three_seconds_of_silence_transcribe_to_nothing(whisper: WhisperRecognizer) -> None:
    result = whisper.transcribe(silence(3.0))
    assert result.text == ""
    assert result.audio_seconds == pytest.approx(3.0)


@pytest.mark.parametrize("amplitude", [200, 2000, 8000])
def test_white_noise_transcribes_to_nothing(whisper: WhisperRecognizer, amplitude: int) -> None:
    rng = np.random.default_rng(amplitude)
    noise = np.clip(rng.standard_normal(24000) * amplitude, -32768, 32767).astype(np.int16)
    assert whisper.transcribe(telephone_channel(noise)).text == ""


def test_a_transcript_reports_audio_length_decode_time_and_confidence(
    whisper: WhisperRecognizer, piper: object, phone_speech: Render
) -> None:
    audio = phone_speech(piper, "I would like to book an appointment.")
    result = whisper.transcribe(audio)
    assert "appointment" in result.text.lower()
    assert result.audio_seconds == pytest.approx(len(audio) / 8000)
    assert result.decode_seconds > 0
    assert 0.5 < result.confidence <= 1.0


def test_a_beam_that_ends_after_three_words_is_heard_again_patiently(
    whisper: WhisperRecognizer,
) -> None:
    """One of Piper's renderings (its noise varies them) that the first beam cut short: "I would
    like" (-1.2), so dropped, failed CI66's test above. Heard again, all of it."""
    audio = read_wav(Path(__file__).parent / "recordings" / "piper-appointment-early-end.wav")
    assert "to book an appointment" in whisper.transcribe(audio).text.lower()


def test_concurrent_calls_share_one_model_and_get_their_own_words(
    whisper: WhisperRecognizer, piper: object, phone_speech: Render
) -> None:
    texts = ["I need a refill.", "Can I speak to a nurse?", "I want to cancel my appointment."]
    audios = [phone_speech(piper, t) for t in texts]
    one_by_one = [whisper.transcribe(a).text for a in audios]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda a: whisper.transcribe(a).text, audios))
    assert together == one_by_one
    assert "nurse" in together[1].lower() and "cancel" in together[2].lower()


def test_a_decode_cancelled_while_it_waits_for_the_model_never_runs(
    whisper: WhisperRecognizer, piper: object, phone_speech: Render
) -> None:
    audio = phone_speech(piper, "I need a refill.")
    wanted, dropped = whisper.new_stream(), whisper.new_stream()
    wanted.accept(audio)
    dropped.accept(audio)
    with ThreadPoolExecutor(max_workers=2) as pool:
        with whisper._slots:  # another call's decode holds the shared model
            results = [pool.submit(wanted.finish), pool.submit(dropped.finish)]
            dropped.cancel()  # its caller went on speaking
        wanted_text, dropped_text = (r.result().text for r in results)
    # The wanted decode ran (its words, however well heard: CI40 wrote "I need the result.",
    # CI44 "I made a refill."), the dropped one never did.
    wanted_words = set(re.findall(r"[a-z]+", wanted_text.lower()))
    assert wanted_words & {"need", "refill"} and dropped_text == ""


def test_a_decode_cancelled_while_the_model_encodes_it_writes_nothing(
    whisper: WhisperRecognizer, piper: object, phone_speech: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its caller went on speaking once the decode had the model: the encoder cannot be stopped,
    but the words are not generated, so the slot goes to the next decode sooner."""
    audio = phone_speech(piper, "I need a refill.")
    stream = whisper.new_stream()
    stream.accept(audio)
    encode = whisper._encode

    def encode_then_cancel(pcm: np.ndarray, window_seconds: float) -> object:
        encoded = encode(pcm, window_seconds)
        stream.cancel()
        return encoded

    monkeypatch.setattr(whisper, "_encode", encode_then_cancel)
    assert stream.finish().text == ""
    monkeypatch.undo()
    assert "refill" in whisper.transcribe(audio).text.lower()


def test_an_utterance_longer_than_a_short_window_is_heard_to_its_end(
    piper: object, phone_speech: Render
) -> None:
    whisper = WhisperRecognizer(WhisperConfig(window_seconds=15))
    pause = silence(5.5)  # few words (the decode stops at 80 tokens), much time
    parts = [phone_speech(piper, SENTENCES[0]), pause, phone_speech(piper, SENTENCES[4]), pause]
    audio = np.concatenate([*parts, phone_speech(piper, "And my last question is parking.")])
    assert len(audio) / 8000 > whisper.config.window_seconds + 2
    assert "parking" in whisper.transcribe(audio).text.lower()


def test_hints_come_before_clinic_vocabulary_and_the_prompt_stays_short() -> None:
    prompt = build_prompt(
        "Clinic call.", ["aspirin"] * 3 + [f"drug{i}" for i in range(500)], hints=["Doctor Okafor"]
    )
    assert prompt is not None
    assert prompt.startswith("Clinic call. Doctor Okafor, aspirin, drug0")
    assert prompt.count("aspirin") == 1
    assert len(prompt) <= 600


def test_an_open_questions_hints_are_written_after_the_clinic_words_and_kept_first() -> None:
    vocabulary = ["aspirin", *(f"drug{i}" for i in range(500))]
    prompt = build_prompt("Clinic call.", vocabulary, hints=["sertraline"], hints_last=True)
    assert prompt is not None and len(prompt) <= 600
    assert prompt.startswith("Clinic call. aspirin, drug0") and prompt.endswith(", sertraline.")
    short = build_prompt("Clinic call.", ["aspirin"], hints=["Aspirin", "sertraline"],
                         hints_last=True)  # fmt: skip
    assert short == "Clinic call. Aspirin, sertraline."


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("l need a refill of my metformin, please.", "I need a refill of my metformin, please."),
        ("l'm calling about my test results.", "I'm calling about my test results."),
        ("Yes, l think so, l'd like that.", "Yes, I think so, I'd like that."),
        ("l, o, p, e, z.", "l, o, p, e, z."),  # letters spelled
        ("Apple, l.", "Apple, l."),
        ("I'll call back.", "I'll call back."),
    ],
)
def test_a_lower_case_l_for_i_is_read_as_i(written: str, read: str) -> None:
    assert capital_i(written) == read


def test_no_context_and_no_vocabulary_means_no_prompt() -> None:
    assert build_prompt("", []) is None


def test_a_decoding_loop_is_collapsed_to_one_repetition() -> None:
    looped = "my prescription for pre-pre-pre-pre-pre-pre-pre-pre-pre-"
    assert trim_repetition(looped) == "my prescription for pre-"
    assert trim_repetition("no no no") == "no no no"  # a caller may well say that


def test_a_callers_own_medication_as_a_hint_gets_it_spelled_right(
    whisper: WhisperRecognizer, piper: object, phone_speech: Render
) -> None:
    drugs = ("sertraline", "montelukast", "empagliflozin", "rivaroxaban")  # not in the clinic list
    unhinted, hinted = [], []
    for drug in drugs:
        audio = phone_speech(piper, f"I need more of my {drug}, please.")
        unhinted.append(drug in whisper.transcribe(audio).text.lower())
        hinted.append(drug in whisper.transcribe(audio, hints=[drug]).text.lower())
    # Piper samples its voice's noise on every synthesis, so each run hears other audio: over
    # 8 syntheses of the four, 31 of 32 hinted decodes spelled the drug ("empagliflozin" once
    # came out "impactive floss and"; CI40 met it too), and 0 of 32 unhinted ones did.
    assert sum(hinted) >= 3, dict(zip(drugs, hinted, strict=True))
    # Without the hint the model rarely spells them (a CI run once wrote "montelukast").
    assert sum(unhinted) <= 1, dict(zip(drugs, unhinted, strict=True))


def test_a_short_answer_the_word_list_pulled_below_the_floor_is_heard_again_without_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """flite's awb saying "Yes" to "Is there anything else?", with the demo clinic's words in
    the prompt and a verified caller's own medication after them: the decode with the list
    falls below the confidence floor (an empty turn: "Sorry, I didn't hear anything"); heard
    again with the clinic sentence alone, it is "Yes.". (The list once had her medications
    first and her name: then "amlodipine, atorvastatin, James Carter" did it; now, among 40
    short answers in 4 voices with 8 lists, this is the one that falls below.)"""
    from clinicline.bench_names import demo_vocabulary
    from voice.tts.external import FliteSynthesizer

    # Its score with the list sits within 0.025 of the shipped floor (-1.0): CI61 heard it
    # below, CI62 and this machine on 2026-12-06 just above (-0.98). The floor here is set
    # between the two decodes' scores measured then: -0.98 with the list, -0.81 without it.
    whisper = WhisperRecognizer(WhisperConfig(min_avg_logprob=-0.9), vocabulary=demo_vocabulary())
    said = np.concatenate(list(FliteSynthesizer("awb").synthesize("yes")))
    pad = np.zeros(1600, dtype=np.int16)
    audio = np.concatenate([pad, telephone_channel(said), pad])
    with caplog.at_level("INFO", logger="voice.asr.whisper"):
        heard = whisper.transcribe(audio, hints=["sertraline"])
    assert "heard again without the word list (words)" in caplog.text
    assert heard.text == "Yes.", heard
