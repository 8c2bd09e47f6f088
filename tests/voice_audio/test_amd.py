"""Answering-machine detection on synthetic greetings heard through a telephone channel."""

from __future__ import annotations

import numpy as np
import pytest

from voice.audio.amd import (
    CUE_BEEP,
    CUE_SILENCE,
    CUE_TIMEOUT,
    REASON_BEEP,
    REASON_LONG_GREETING,
    REASON_NO_SPEECH,
    REASON_SHORT_GREETING,
    AmdConfig,
    AmdResult,
    AnsweringMachineDetector,
    LateBeep,
    MessageCue,
    Verdict,
)
from voice.audio.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, silence
from voice.audio.wav import telephone_channel
from voice.tts.external import EspeakSynthesizer, FliteSynthesizer

VOICEMAIL = (
    "Hi, you've reached Maria. I can't take your call right now. "
    "Please leave a message after the tone."
)


def said(synthesizer: EspeakSynthesizer | FliteSynthesizer, text: str) -> np.ndarray:
    return np.concatenate(list(synthesizer.synthesize(text)))


def beep(hz: float = 1000.0, seconds: float = 0.5, level: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * hz * t) * level * 32767).astype(np.int16)


def on_the_line(*parts: np.ndarray, noise: float = 40.0, seed: int = 3) -> np.ndarray:
    """The parts one after the other, with low line noise, through the telephone channel."""
    audio = np.concatenate(parts).astype(np.float64)
    audio += np.random.default_rng(seed).standard_normal(len(audio)) * noise
    return telephone_channel(np.clip(np.round(audio), -32768, 32767).astype(np.int16))


def ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE


def detect(audio: np.ndarray, chunk: int = FRAME_SAMPLES) -> tuple[AmdResult, int]:
    """The verdict and how many samples had been fed when it came."""
    detector = AnsweringMachineDetector()
    for at in range(0, len(audio), chunk):
        result = detector.feed(audio[at : at + chunk])
        if result is not None:
            return result, at + chunk
    raise AssertionError("no verdict before the audio ended")


@pytest.fixture(scope="module")
def voicemail_call(flite: FliteSynthesizer) -> tuple[np.ndarray, int]:
    """A voicemail: pickup, long greeting, beep, recording; and where the beep ends (ms)."""
    parts = [silence(0.6), said(flite, VOICEMAIL), silence(0.3), beep(850, 0.5), silence(3.0)]
    beep_end = ms(sum(len(p) for p in parts[:4]))
    return on_the_line(*parts), beep_end


@pytest.mark.parametrize("text", ["Hello?", "Yeah, hi.", "Hello, this is Maria."])
def test_a_short_greeting_then_silence_is_a_person(flite: FliteSynthesizer, text: str) -> None:
    speech = said(flite, text)
    audio = on_the_line(silence(0.7), speech, silence(4.0))
    result, fed = detect(audio)
    assert result.verdict is Verdict.HUMAN
    assert result.reason == REASON_SHORT_GREETING
    # Decided in the silence after the greeting, not before its pause was long enough.
    assert result.decided_ms >= ms(len(silence(0.7))) + AmdConfig().after_greeting_silence_ms
    assert result.decided_ms < ms(len(audio))
    assert result.decided_ms == ms(fed)
    assert 1 <= result.segments <= 2
    assert 0 < result.greeting_ms <= ms(len(speech))


def test_a_person_in_another_voice(espeak: EspeakSynthesizer) -> None:
    audio = on_the_line(silence(1.2), said(espeak, "Hello, who's calling?"), silence(4.0))
    result, _ = detect(audio)
    assert result.verdict is Verdict.HUMAN
    assert result.initial_silence_ms >= 1000


def test_a_long_winded_person_under_the_limit_is_still_a_person(
    espeak: EspeakSynthesizer,
) -> None:
    audio = on_the_line(silence(0.5), said(espeak, "Hello, yes, this is John speaking."),
                        silence(4.0))  # fmt: skip
    result, _ = detect(audio)
    assert result.verdict is Verdict.HUMAN


def test_documented_limit_a_person_who_talks_on_is_taken_for_a_machine(
    flite: FliteSynthesizer,
) -> None:
    """One long sentence is indistinguishable from a voicemail greeting by length alone: a
    person who says more than `max_greeting_ms` of greeting without a pause is MACHINE."""
    text = (
        "Hello, yes, this is John Fitzgerald speaking, who am I talking to and what is this about?"
    )
    speech = said(flite, text)
    assert ms(len(speech)) > AmdConfig().max_greeting_ms + 500  # the premise of the limit
    result, _ = detect(on_the_line(silence(0.5), speech, silence(4.0)))
    assert result.verdict is Verdict.MACHINE
    assert result.reason == REASON_LONG_GREETING


def test_a_long_voicemail_greeting_is_a_machine_and_the_cue_is_the_beep(
    voicemail_call: tuple[np.ndarray, int],
) -> None:
    audio, beep_end = voicemail_call
    detector = AnsweringMachineDetector()
    result = None
    fed = 0
    while result is None:
        result = detector.feed(audio[fed : fed + FRAME_SAMPLES])
        fed += FRAME_SAMPLES
    assert result.verdict is Verdict.MACHINE
    assert result.reason == REASON_LONG_GREETING
    assert result.decided_ms < beep_end  # decided while the greeting was still playing
    assert result.greeting_ms > AmdConfig().max_greeting_ms
    assert detector.feed(silence(0.02)) is result  # the verdict stands

    cue = MessageCue(detector=detector)
    heard = None
    while heard is None and fed < len(audio):
        heard = cue.feed(audio[fed : fed + FRAME_SAMPLES])
        fed += FRAME_SAMPLES
    assert heard == CUE_BEEP
    assert cue.fired_ms is not None
    # The cue comes on the first frame after the beep (frames are 20 ms; the beep's end
    # falls inside one).
    assert beep_end <= cue.fired_ms <= beep_end + 2 * FRAME_MS
    assert cue.feed(silence(0.1)) == CUE_BEEP


def test_a_cue_without_the_detector_also_hears_the_beep(
    voicemail_call: tuple[np.ndarray, int],
) -> None:
    audio, beep_end = voicemail_call
    cue = MessageCue()
    assert cue.feed(audio) == CUE_BEEP
    assert cue.fired_ms is not None
    assert beep_end <= cue.fired_ms <= beep_end + 2 * FRAME_MS


def test_a_short_voicemail_gives_itself_away_by_its_beep(flite: FliteSynthesizer) -> None:
    parts = [silence(0.5), said(flite, "Leave a message."), silence(0.2), beep(440, 0.4)]
    audio = on_the_line(*parts, silence(3.0))
    result, _ = detect(audio)
    assert result.verdict is Verdict.MACHINE
    assert result.reason == REASON_BEEP
    beep_end = ms(sum(len(p) for p in parts))
    assert beep_end <= result.decided_ms <= beep_end + 2 * FRAME_MS
    # The beep is over when the detector decides on it: the cue is at once.
    detector = AnsweringMachineDetector()
    detector.feed(audio)
    assert MessageCue(detector=detector).feed(np.zeros(0, np.int16)) == CUE_BEEP


def test_a_voicemail_without_a_beep_cues_on_the_silence(flite: FliteSynthesizer) -> None:
    greeting = said(flite, VOICEMAIL)
    audio = on_the_line(silence(0.5), greeting, silence(4.0))
    result, fed = detect(audio)
    assert result.verdict is Verdict.MACHINE
    detector = AnsweringMachineDetector()
    assert detector.feed(audio[:fed]) == result
    cue = MessageCue(detector=detector)
    assert cue.feed(audio[fed:]) == CUE_SILENCE
    assert cue.fired_ms is not None
    assert cue.fired_ms >= ms(len(silence(0.5))) + 2000
    assert cue.fired_ms <= ms(len(silence(0.5)) + len(greeting)) + 2000


@pytest.mark.parametrize("noise", [0.0, 40.0])
def test_dead_air_is_silence(noise: float) -> None:
    result, _ = detect(on_the_line(silence(6.0), noise=noise))
    assert result.verdict is Verdict.SILENCE
    assert result.reason == REASON_NO_SPEECH
    assert result.decided_ms == AmdConfig().initial_silence_ms
    assert result.segments == 0


@pytest.mark.parametrize("amplitude", [100.0, 1000.0, 3000.0])
def test_line_noise_alone_is_not_a_person(amplitude: float) -> None:
    result, _ = detect(on_the_line(silence(6.0), noise=amplitude, seed=11))
    assert result.verdict is Verdict.SILENCE


@pytest.mark.parametrize("hz", [440.0, 850.0, 1000.0, 1400.0, 2000.0])
def test_a_beep_is_not_speech(hz: float) -> None:
    result, _ = detect(on_the_line(silence(0.8), beep(hz, 0.3), silence(3.0)))
    assert result.verdict is Verdict.MACHINE
    assert result.reason == REASON_BEEP
    assert MessageCue().feed(on_the_line(silence(0.8), beep(hz, 0.3), silence(1.0))) == CUE_BEEP


def test_a_blip_shorter_than_a_beep_is_no_beep() -> None:
    cue = MessageCue()
    assert cue.feed(on_the_line(silence(0.5), beep(1000.0, 0.06), silence(1.0))) is None


def test_speech_alone_never_cues_a_beep(flite: FliteSynthesizer, espeak: EspeakSynthesizer) -> None:
    for voice in (flite, espeak):
        cue = MessageCue()
        assert cue.feed(on_the_line(said(voice, VOICEMAIL), silence(1.0))) is None


def test_an_endless_tone_times_the_cue_out() -> None:
    cue = MessageCue()
    assert cue.feed(on_the_line(beep(1000.0, 31.0))) == CUE_TIMEOUT
    assert cue.fired_ms == 30000


def test_chunk_length_does_not_change_the_verdict(flite: FliteSynthesizer) -> None:
    audio = on_the_line(silence(0.7), said(flite, "Hello, this is Maria."), silence(4.0))
    results = [detect(audio, chunk)[0] for chunk in (FRAME_SAMPLES, 37, 333, 4000)]
    assert all(r == results[0] for r in results)


def test_audio_must_be_int16_mono() -> None:
    with pytest.raises(ValueError):
        AnsweringMachineDetector().feed(np.zeros(160, dtype=np.float32))


def test_a_short_greeting_that_pauses_before_its_beep_is_taken_for_a_person_then_heard(
    flite: FliteSynthesizer,
) -> None:
    """The documented limit, and what covers it: "Hi, it's Sam." then 1.5 s of quiet is a
    person to the detector; the beep that follows, fed to `LateBeep` after the verdict, is
    heard as it ends."""
    greeting = [silence(0.5), said(flite, "Hi, it's Sam."), silence(1.5)]
    line = on_the_line(*greeting, beep(1000.0, 0.5), silence(2.0))
    result, fed = detect(line)
    assert result.verdict is Verdict.HUMAN
    watch = LateBeep()
    heard = [watch.feed(line[at : at + 160]) for at in range(fed, len(line), 160)]
    assert heard.count(True) == 1
    beep_end = ms(sum(len(p) for p in greeting)) + 500
    assert abs(ms(fed) + watch.beep_at_ms - beep_end) <= 60  # type: ignore[operator]


def test_a_person_talking_after_the_verdict_is_no_late_beep(
    flite: FliteSynthesizer, espeak: EspeakSynthesizer
) -> None:
    for voice in (flite, espeak):
        watch = LateBeep()
        assert not watch.feed(on_the_line(said(voice, VOICEMAIL), silence(1.0)))


def test_a_beep_after_the_window_is_not_listened_for() -> None:
    watch = LateBeep(window_ms=2000)
    assert not watch.feed(on_the_line(silence(2.5), beep(1000.0, 0.5), silence(1.0)))
    assert not watch.listening and watch.beep_at_ms is None
