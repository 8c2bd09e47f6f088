"""Answering-machine detection (AMD): is the callee of an outbound call a person or a voicemail?

A 200 OK looks the same for both, so the decision comes from the first seconds of audio the
callee sends. The rule is the classic one (what PBX "AMD" applications do), with thresholds
chosen on a development set of synthetic greetings (`clinicline bench --amd`):

- a person says a short greeting ("Hello?", "Yeah, hi", "Hello, this is Maria") and then
  falls silent, waiting for us: a short greeting followed by a pause is HUMAN;
- a machine talks on in one long greeting of several phrases ("Hi, you've reached... I can't
  take your call... leave a message after the tone"): a greeting longer than a person's, or
  with more phrases than a person's, is MACHINE, and so is a beep;
- nothing but line noise for the first seconds is SILENCE (dead air): the caller decides.

Voiced/unvoiced decisions are those of `voice.audio.vad.UtteranceDetector` (webrtcvad behind
energy, noise-floor and flatness guards), so line noise is not a greeting. Beeps are found
by a narrow-band tone test of each frame. Once the verdict is MACHINE, `MessageCue` says when
the message may start: after the beep, or after the greeting fell silent without one.

Limits (see `tests/voice_audio/test_amd.py` and docs/bench/amd.md): a person who talks on
for more than `max_greeting_ms` without a 1 s pause is taken for a machine; a voicemail whose
greeting is short and pauses for `after_greeting_silence_ms` before its beep (or has no beep)
is taken for a person — `LateBeep` then hears the beep, once the bot has begun, and the call
can still leave its message; a beep that is a chord, a sweep, shorter than ~120 ms or outside
350-2100 Hz is not heard as one (the cue then falls back to the silence after it); music
instead of a spoken greeting was not measured. The thresholds were chosen on synthetic
voices, whose phrases follow each other with shorter pauses than recorded people's.

Everything here is synchronous numpy on 20 ms frames (8 kHz int16 mono); feed it chunks of
any length from the call's media task. One detector per call leg; not thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from voice.audio.frames import FRAME_MS, FRAME_SAMPLES, AudioFrame
from voice.audio.vad import SpeechEnded, SpeechStarted, UtteranceDetector, VadConfig, frame_dbfs

# Reasons given with a verdict (AmdResult.reason).
REASON_BEEP = "beep"
REASON_LONG_GREETING = "long greeting"
REASON_MANY_SEGMENTS = "many phrases"
REASON_SHORT_GREETING = "short greeting then silence"
REASON_NO_SPEECH = "no speech"
REASON_TIME_UP = "analysis time up"
REASON_LATE_BEEP = "beep after a person was assumed"

# What MessageCue.feed returns once the message may start.
CUE_BEEP = "beep"
CUE_SILENCE = "silence"
CUE_TIMEOUT = "timeout"

_HZ_PER_BIN = 8000 / FRAME_SAMPLES  # 50 Hz: one 160-sample frame
_BAND = slice(6, 69)  # 300-3400 Hz, what survives a phone line
_WINDOW = np.hanning(FRAME_SAMPLES)
_LOBE = 2  # a Hann window spreads a pure tone over the peak bin and two either side


class Verdict(StrEnum):
    """Who answered."""

    HUMAN = "human"
    MACHINE = "machine"
    SILENCE = "silence"


@dataclass(frozen=True, slots=True)
class ToneConfig:
    """What a voicemail beep is: one steady narrow-band tone, long enough not to be a vowel.

    A pure tone through G.711 keeps ~99 % of its in-band power in the 5 bins of its window
    lobe; voiced speech spreads it over several harmonics and formants, and its pitch moves,
    so a held run of such frames at one frequency is a tone generator, not a voice.
    """

    min_hz: float = 350.0
    max_hz: float = 2100.0
    # A beep is >= ~150 ms; its first and last frames are partial and fail the purity test,
    # so 6 pure frames in a row suffice. Synthetic voices' vowels give runs of 3 at most.
    min_beep_ms: int = 120
    min_purity: float = 0.98  # share of in-band power within the peak's window lobe
    min_dbfs: float = -45.0  # quieter "tones" are hum or codec idle patterns, not a beep


@dataclass(frozen=True, slots=True)
class AmdConfig:
    """Thresholds of the decision, chosen on the development set of `clinicline bench --amd`.

    Times are of call audio (ms since the first frame fed), not wall clock.
    """

    # No speech at all this long after the answer: dead air (SILENCE). Pickup delays of up to
    # 1.5 s are common before a greeting starts; a person who answers and says nothing for
    # 3 s is better served by the dialog ("Hello?") than by a voicemail message.
    initial_silence_ms: int = 3000
    # A greeting (first voiced frame to last, short pauses included) longer than this is a
    # machine's. Slow-spoken greetings of people ("Good morning, this is Anne Schmidt
    # speaking") reach 3.1 s in the development set, so the limit sits above them: calling a
    # person a machine is the costly error, and a short voicemail still gives itself away by
    # its beep or by the pauses between its phrases. Lower limits cost people (2000 ms: 15 of
    # 85 development people called machines) and gain nothing on voicemails.
    max_greeting_ms: int = 3500
    # A pause this long after a short greeting means a person waiting for us: HUMAN. The
    # pauses between a machine's phrases and before its beep are shorter. 800 ms called 6
    # development voicemails people; each 200 ms more delays every HUMAN verdict by as much.
    after_greeting_silence_ms: int = 1000
    # Voiced runs separated by a pause of at least this much count as separate phrases.
    segment_gap_ms: int = 300
    # More phrases than this in the greeting is a machine (people say one to three; the
    # development set never needed this rule, it guards recorded greetings with many pauses).
    max_segments: int = 5
    # Give up after this much audio (room for the longest initial silence plus the longest
    # human greeting): speech heard means HUMAN (taking a voicemail for a person costs less
    # than playing a voicemail message to a patient), none means SILENCE.
    total_analysis_ms: int = 8000
    # Frame-level voicing: the call VAD's guards; hangover and tail are set from the above.
    vad: VadConfig = field(default_factory=VadConfig)
    tone: ToneConfig = field(default_factory=ToneConfig)


@dataclass(frozen=True, slots=True)
class AmdResult:
    """The verdict and the evidence for it (all times in ms of call audio)."""

    verdict: Verdict
    reason: str
    decided_ms: int  # end of the frame on which the verdict was reached
    initial_silence_ms: int  # before the first voiced frame (all of it when none came)
    greeting_ms: int  # first voiced frame to the last one heard
    segments: int  # voiced phrases heard


class _ToneTracker:
    """Finds beeps: runs of pure-tone frames at one frequency that have ended."""

    def __init__(self, config: ToneConfig) -> None:
        self.config = config
        self._min_frames = max(1, -(-config.min_beep_ms // FRAME_MS))
        self._run = 0
        self._bin = 0

    @property
    def sounding(self) -> bool:
        """A tone has been sounding for a few frames (perhaps the start of a beep)."""
        return self._run >= 3

    def push(self, pcm: np.ndarray) -> bool:
        """Feed one frame; True when it ended a beep (the beep's last frame was the one before)."""
        peak = self._tone_bin(pcm)
        if peak is not None and self._run and abs(peak - self._bin) <= 1:
            self._run += 1
            return False
        ended = self._run >= self._min_frames
        self._run, self._bin = (1, peak) if peak is not None else (0, 0)
        return ended

    def _tone_bin(self, pcm: np.ndarray) -> int | None:
        cfg = self.config
        if frame_dbfs(pcm) < cfg.min_dbfs:
            return None
        power = np.abs(np.fft.rfft(pcm.astype(np.float64) * _WINDOW))[_BAND] ** 2
        total = float(power.sum())
        if total <= 0.0:
            return None
        peak = int(np.argmax(power))
        lobe = float(power[max(peak - _LOBE, 0) : peak + _LOBE + 1].sum())
        peak_bin = peak + (_BAND.start or 0)
        if not cfg.min_hz <= peak_bin * _HZ_PER_BIN <= cfg.max_hz:
            return None
        return peak_bin if lobe / total >= cfg.min_purity else None


class _Listener:
    """The incoming audio of one call leg: frame clock, voiced phrases and beeps.

    Shared by the detector and the message cue that continues after it, so that a phrase or a
    beep under way when the verdict came is not cut in two.
    """

    def __init__(self, segment_gap_ms: int, vad: VadConfig, tone: ToneConfig) -> None:
        # tail 0: a phrase ends at its last voiced frame; no forced cut of a long greeting.
        config = replace(vad, hangover_ms=segment_gap_ms, tail_ms=0, max_utterance_s=3600.0)
        self._vad = UtteranceDetector(config)
        self._tone = _ToneTracker(tone)
        self._pending = np.zeros(0, dtype=np.int16)
        self.frames = 0
        self.segments = 0
        self.first_start_ms: int | None = None
        self.last_end_ms: int | None = None
        self.beep_ended = False  # the frame just taken ended a beep

    @property
    def now_ms(self) -> int:
        """End of the last frame taken."""
        return self.frames * FRAME_MS

    @property
    def in_speech(self) -> bool:
        return self._vad.in_speech

    @property
    def heard_speech(self) -> bool:
        return self.first_start_ms is not None

    def add(self, pcm: np.ndarray) -> None:
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"expected mono int16 audio, got {pcm.shape} {pcm.dtype}")
        self._pending = np.concatenate([self._pending, pcm])

    def take_frame(self) -> bool:
        """Analyse the next whole frame of what was added; False when none is left."""
        if len(self._pending) < FRAME_SAMPLES:
            return False
        chunk = self._pending[:FRAME_SAMPLES].copy()
        self._pending = self._pending[FRAME_SAMPLES:]
        frame = AudioFrame(chunk, self.frames * FRAME_MS / 1000)
        self.frames += 1
        for event in self._vad.push(frame):
            if isinstance(event, SpeechStarted):
                self.segments += 1
                if self.first_start_ms is None:
                    self.first_start_ms = round(event.timestamp * 1000)
            elif isinstance(event, SpeechEnded):
                self.last_end_ms = round(event.end * 1000)
        self.beep_ended = self._tone.push(chunk)
        return True

    @property
    def tone_sounding(self) -> bool:
        return self._tone.sounding

    def greeting_ms(self) -> int:
        """First voiced frame to the last one known (now, while a phrase is still open)."""
        if self.first_start_ms is None:
            return 0
        end = self.now_ms if self.in_speech else (self.last_end_ms or self.now_ms)
        return max(end - self.first_start_ms, 0)

    def quiet_ms(self) -> int:
        """Since the last voiced frame (0 during a phrase)."""
        if self.in_speech or self.last_end_ms is None:
            return 0
        return self.now_ms - self.last_end_ms


class AnsweringMachineDetector:
    """Decides HUMAN, MACHINE or SILENCE from the callee's first seconds of audio.

    Feed it everything the callee sends from the answer on; `feed` returns None until the
    verdict is clear, then the same `AmdResult` for ever after. Audio fed after the verdict
    is ignored (nothing piles up on a long call); the rest of the chunk that brought the
    verdict is kept for a `MessageCue` made right then with ``detector=``, which is fed from
    the next chunk on.
    """

    def __init__(self, config: AmdConfig | None = None) -> None:
        self.config = config or AmdConfig()
        cfg = self.config
        self._listener = _Listener(cfg.segment_gap_ms, cfg.vad, cfg.tone)
        self._result: AmdResult | None = None

    @property
    def result(self) -> AmdResult | None:
        return self._result

    def feed(self, pcm: np.ndarray) -> AmdResult | None:
        """Feed call audio (8 kHz mono int16, any length); the verdict once there is one."""
        if self._result is not None:
            return self._result
        self._listener.add(pcm)
        while self._result is None and self._listener.take_frame():
            self._result = self._decide()
        return self._result

    def _decide(self) -> AmdResult | None:
        cfg, heard = self.config, self._listener
        now = heard.now_ms
        if heard.beep_ended:
            return self._verdict(Verdict.MACHINE, REASON_BEEP)
        if not heard.heard_speech:
            if now >= min(cfg.initial_silence_ms, cfg.total_analysis_ms):
                return self._verdict(Verdict.SILENCE, REASON_NO_SPEECH)
            return None
        if heard.segments > cfg.max_segments:
            return self._verdict(Verdict.MACHINE, REASON_MANY_SEGMENTS)
        # While a phrase is open its last voiced frame is at most segment_gap_ms old, so the
        # greeting is surely too long only once it is too long without that margin.
        margin = cfg.segment_gap_ms if heard.in_speech else 0
        if heard.greeting_ms() - margin > cfg.max_greeting_ms:
            return self._verdict(Verdict.MACHINE, REASON_LONG_GREETING)
        # A beep soon after a short greeting is a machine's: wait for it to end.
        if heard.quiet_ms() >= cfg.after_greeting_silence_ms and not heard.tone_sounding:
            return self._verdict(Verdict.HUMAN, REASON_SHORT_GREETING)
        if now >= cfg.total_analysis_ms:
            return self._verdict(Verdict.HUMAN, REASON_TIME_UP)
        return None

    def _verdict(self, verdict: Verdict, reason: str) -> AmdResult:
        heard = self._listener
        start = heard.first_start_ms
        return AmdResult(
            verdict=verdict,
            reason=reason,
            decided_ms=heard.now_ms,
            initial_silence_ms=heard.now_ms if start is None else start,
            greeting_ms=heard.greeting_ms(),
            segments=heard.segments,
        )


@dataclass(frozen=True, slots=True)
class CueConfig:
    """When a voicemail message may start."""

    # Quiet after the greeting with no beep: the machine is recording (or hung up; the
    # message then goes nowhere, which costs nothing). Longer than any pause in a greeting.
    quiet_after_speech_ms: int = 2000
    # Neither beep nor quiet by then: speak anyway (an endless greeting, music, a tone).
    timeout_ms: int = 30000
    segment_gap_ms: int = 300
    vad: VadConfig = field(default_factory=VadConfig)
    tone: ToneConfig = field(default_factory=ToneConfig)


class LateBeep:
    """After a HUMAN verdict: the beep of a voicemail box taken for a person.

    A box whose greeting is short and pauses before its tone ("Hi, it's Sam." ... beep) looks
    like a person waiting for us, and the bot begins its opening. Its beep, heard within
    `window_ms` of the verdict, gives it away (the callee's audio only: the bot's own voice is
    on the other direction). `feed` returns True once, when a beep has ended; after the window
    it listens no more.
    """

    def __init__(self, window_ms: int = 20_000, tone: ToneConfig | None = None) -> None:
        self.window_ms = window_ms
        self._tone = _ToneTracker(tone or ToneConfig())
        self._pending = np.zeros(0, dtype=np.int16)
        self.heard_ms = 0  # audio analysed since the verdict
        self.beep_at_ms: int | None = None  # when the beep ended, once it has

    @property
    def listening(self) -> bool:
        return self.beep_at_ms is None and self.heard_ms < self.window_ms

    def feed(self, pcm: np.ndarray) -> bool:
        """Feed the callee's audio (8 kHz mono int16, any length): True when it ended a beep."""
        if not self.listening:
            return False
        self._pending = np.concatenate([self._pending, pcm])
        while len(self._pending) >= FRAME_SAMPLES and self.listening:
            frame, self._pending = self._pending[:FRAME_SAMPLES], self._pending[FRAME_SAMPLES:]
            self.heard_ms += FRAME_MS
            if self._tone.push(frame):
                self.beep_at_ms = self.heard_ms
                return True
        return False


class MessageCue:
    """Once the verdict is MACHINE: says when the voicemail message may start.

    Made with ``detector=`` it continues that detector's stream (its clock, the phrase or beep
    under way, and any audio fed after the verdict); a detector that decided on a beep cues
    at once, the beep being over. Without it, it listens from its first frame. `feed`
    returns None until "beep" (a beep ended), "silence" (speech was heard, then
    `quiet_after_speech_ms` of quiet without a beep) or "timeout"; then the same cue.
    """

    def __init__(
        self,
        config: CueConfig | None = None,
        *,
        detector: AnsweringMachineDetector | None = None,
    ) -> None:
        self.config = config or CueConfig()
        cfg = self.config
        self._cue: str | None = None
        self.fired_ms: int | None = None  # stream time of the cue (the detector's clock)
        if detector is not None:
            self._listener = detector._listener
            result = detector.result
            if result is not None and result.reason == REASON_BEEP:
                self._fire(CUE_BEEP)
        else:
            self._listener = _Listener(cfg.segment_gap_ms, cfg.vad, cfg.tone)
        self._started_ms = self._listener.now_ms

    def feed(self, pcm: np.ndarray) -> str | None:
        """Feed call audio (8 kHz mono int16, any length); the cue once there is one."""
        self._listener.add(pcm)
        while self._cue is None and self._listener.take_frame():
            self._check()
        return self._cue

    def _check(self) -> None:
        cfg, heard = self.config, self._listener
        if heard.beep_ended:
            self._fire(CUE_BEEP)
        elif (
            heard.heard_speech
            and heard.last_end_ms is not None
            and heard.quiet_ms() >= cfg.quiet_after_speech_ms
        ):
            self._fire(CUE_SILENCE)
        elif heard.now_ms - self._started_ms >= cfg.timeout_ms:
            self._fire(CUE_TIMEOUT)

    def _fire(self, cue: str) -> None:
        self._cue = cue
        self.fired_ms = self._listener.now_ms
