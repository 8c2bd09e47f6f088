"""`clinicline bench --turn-taking`: when a caller's turn ends, and how soon the bot answers.

1. Pauses mid-sentence (off-line). Sentences a caller may stop in the middle of, split in two:
   most at words a sentence does not end on ("I need to move my | appointment"), some after a
   finished clause ("I need a refill | of my metformin"), dates of birth and names given in
   two goes. Each first part is spoken by Piper and three voices the project never tuned on,
   passed through a telephone channel and decoded by the server's recogniser, as the server has
   it when the pause begins. For pauses of 300 to 800 ms: does the turn end inside the pause
   (the caller is cut off)? Judged by the turn-taking of before (500 ms whatever the words)
   and of now (`voice.session.turn_end`).
2. How soon a finished turn ends (off-line, same clips and whole sentences): the pause after the
   last word until the turn is over, before and now.
3. Through real calls (unless `--no-calls`): the scripted patient calls against the
   demo clinic with real Rasa, the calling phone's end of speech to the first bot audio, with
   the settings of before, of now, and of now with the early decode (environment overrides of
   one server each).

Output: OUT/turns.md and OUT/turns.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voice.asr.base import AnswerKind
from voice.asr.whisper import WhisperConfig, WhisperRecognizer
from voice.audio.wav import telephone_channel
from voice.session.call_session import SessionConfig
from voice.session.turn_end import TurnEndConfig, sounds_unfinished
from voice.tts.external import EspeakSynthesizer, FliteSynthesizer
from voice.tts.piper import PiperSynthesizer

VAD_MS = 250  # the utterance detector's pause: recognition started here before
# Recognition starts at this pause now: the early pause when the server's default has one.
EARLY_MS = SessionConfig().vad.early_pause_ms or VAD_MS
BEFORE_MS = 500  # the turn-end pause before, whatever the words
PAUSES_MS = (300, 450, 500, 600, 800)


@dataclass(frozen=True)
class Split:
    first: str
    rest: str
    answer: AnswerKind | None = None
    hangs: bool = True  # the first part stops where a sentence does not end


SPLITS = (
    Split("I need to move my", "appointment to Thursday"),
    Split("I'm calling about the", "results of my blood test"),
    Split("Can I get a refill of my", "blood pressure medicine"),
    Split("My son has a fever and", "a rash on his chest"),
    Split("I would like to speak to", "a nurse please"),
    Split("The pharmacy told me that my", "prescription ran out"),
    Split("I have a question about", "my last bill"),
    Split("She has been feeling dizzy since", "this morning"),
    Split("Could you send it to", "the pharmacy on Main Street"),
    Split("It's, um", "about my husband's appointment"),
    Split("March fourth", "nineteen seventy two", answer="date"),
    Split("the fourteenth of September", "two thousand and one", answer="date"),
    Split("Maria", "Lopez", answer="name"),
    Split("my name is", "Ingrid Zhao", answer="name"),
    Split("I need to move my appointment", "to next Thursday afternoon", hangs=False),
    Split("I'm calling about my results", "from last week", hangs=False),
    Split("My daughter has a fever", "and she won't eat", hangs=False),
    Split("I need a refill", "of my metformin", hangs=False),
)
WHOLE = (
    "I need to move my appointment to next Thursday afternoon.",
    "Yes, that's right.",
    "No.",
    "Can I speak to a nurse please?",
    "March fourth, nineteen seventy two.",
    "Maria Lopez.",
)


def _voices() -> dict[str, Any]:
    return {
        "piper": PiperSynthesizer(threads=1),
        "flite slt": FliteSynthesizer("slt"),
        "espeak en-us": EspeakSynthesizer("en-us"),
        "espeak en-gb": EspeakSynthesizer("en-gb"),
    }


def _speak(voice: Any, text: str) -> np.ndarray:
    return telephone_channel(np.concatenate(list(voice.synthesize(text))))


def _turn_end_ms(finished_ms: int, unfinished_ms: int | None, text: str, decode_ms: float,
                 answer: AnswerKind | None, decode_from_ms: int = EARLY_MS) -> float:
    """Pause after the last word until the turn is over: the rule's pause, or the words'
    arrival (recognition starts at `decode_from_ms`) when that is later."""
    hangs = unfinished_ms is not None and sounds_unfinished(text, answer)
    wait = unfinished_ms if hangs and unfinished_ms is not None else finished_ms
    return max(float(wait), decode_from_ms + decode_ms)


def measure(turn: TurnEndConfig) -> dict[str, Any]:
    """Sections 1 and 2, off-line."""
    now = WhisperRecognizer(WhisperConfig(cpu_threads=1))
    before = WhisperRecognizer(WhisperConfig(cpu_threads=1, window_seconds=30))
    rows: list[dict[str, Any]] = []
    for voice_name, voice in _voices().items():
        for split in SPLITS:
            pcm = _speak(voice, split.first)
            heard = {}
            for label, recognizer in (("before", before), ("now", now)):
                t = recognizer.new_stream(answer=split.answer)
                t.accept(pcm)
                result = t.finish()
                heard[label] = (result.text, result.decode_seconds * 1000)
            text, decode_ms = heard["now"]
            end_now = _turn_end_ms(turn.finished_ms, turn.unfinished_ms, text, decode_ms,
                                   split.answer)  # fmt: skip
            end_before = _turn_end_ms(BEFORE_MS, None, *heard["before"], split.answer, VAD_MS)
            rows.append({
                "voice": voice_name, "said": split.first, "answer": split.answer,
                "hangs": split.hangs, "heard": text, "judged_unfinished":
                sounds_unfinished(text, split.answer), "decode_ms": round(decode_ms, 1),
                "decode_ms_before": round(heard["before"][1], 1),
                "end_ms": round(end_now, 1), "end_ms_before": round(end_before, 1),
            })  # fmt: skip
    whole: list[dict[str, Any]] = []
    for voice_name, voice in _voices().items():
        for sentence in WHOLE:
            pcm = _speak(voice, sentence)
            b, n = before.transcribe(pcm), now.transcribe(pcm)
            n_ms, b_ms = n.decode_seconds * 1000, b.decode_seconds * 1000
            whole.append({
                "voice": voice_name, "said": sentence, "heard": n.text,
                "decode_ms": round(n_ms, 1), "decode_ms_before": round(b_ms, 1),
                "end_ms": round(_turn_end_ms(turn.finished_ms, turn.unfinished_ms, n.text,
                                             n_ms, None), 1),
                "end_ms_before": round(
                    _turn_end_ms(BEFORE_MS, None, b.text, b_ms, None, VAD_MS), 1
                ),
            })  # fmt: skip
    rule = {"finished_ms": turn.finished_ms, "unfinished_ms": turn.unfinished_ms,
            "window_seconds": now.config.window_seconds}  # fmt: skip
    return {"splits": rows, "whole": whole, "turn": rule}


def cut_offs(rows: list[dict[str, Any]], key: str, pause: int, hangs: bool) -> tuple[int, int]:
    """(callers cut off, callers) for pauses of `pause` ms at the kind of split asked for."""
    chosen = [r for r in rows if r["hangs"] is hangs]
    return sum(1 for r in chosen if r[key] <= pause), len(chosen)


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else 0.0


async def through_calls(repeats: int) -> dict[str, Any]:
    """Section 3: the scripted calls with the settings of before and now."""
    from clinicline.bench import bench_clinic

    calls_dir = Path(__file__).resolve().parents[2] / "shared" / "eval" / "calls"
    scripts = [calls_dir / name for name in ("refill.yaml", "schedule.yaml")]
    scripts = [s for s in scripts if s.exists()]
    settings = {
        "before": {"CLINICLINE_TURN_END_MS": str(BEFORE_MS),
                   "CLINICLINE_TURN_END_UNFINISHED_MS": str(BEFORE_MS),
                   "CLINICLINE_ASR_WINDOW_SECONDS": "30"},
        # Recognition from the early pause (100 ms), turns over at 500 ms of quiet (the pause
        # that spares callers who pause mid-sentence when the words come in that soon).
        "early_decode": {"CLINICLINE_EARLY_DECODE_MS": "100", "CLINICLINE_TURN_END_MS": "500"},
        "now": {},
    }  # fmt: skip
    return {label: await bench_clinic(scripts, repeats, env=env) for label, env in settings.items()}


def markdown(results: dict[str, Any]) -> str:
    rows, whole = results["splits"], results["whole"]
    turn = results["turn"]
    lines = [
        "# When a caller's turn ends",
        "",
        f"Run {results['date']} on {results['machine']}, code {results['code']}. Off-line "
        "figures use one thread per decode; medians, not limits.",
        "",
        f"Before: the turn ended {BEFORE_MS} ms after the last word whatever the words "
        "(recognition from 250 ms, whisper's own 30 s window). Now: "
        f"{turn['finished_ms']} ms when the words are finished, {turn['unfinished_ms']} ms "
        "when they hang (`voice/session/turn_end.py`), whisper's window "
        f"{turn['window_seconds']:g} s, recognition from {EARLY_MS} ms; either way not "
        "before the words are in.",
        "",
        "## Callers cut off by a pause mid-sentence",
        "",
        f"{len(SPLITS)} split sentences x {len({r['voice'] for r in rows})} voices "
        "(Piper, flite slt, espeak-ng en-us and en-gb), first parts decoded as the server "
        "would; a caller is cut off when the turn ends inside her pause.",
        "",
        "| pause | stopped on a hanging word: before | now | after a finished clause: before "
        "| now |",
        "|---|---|---|---|---|",
    ]
    for pause in PAUSES_MS:
        cells = []
        for hangs in (True, False):
            for key in ("end_ms_before", "end_ms"):
                cut, n = cut_offs(rows, key, pause, hangs)
                cells.append(f"{cut}/{n}")
        lines.append(f"| {pause} ms | " + " | ".join(cells) + " |")
    totals = {key: sum(cut_offs(rows, key, pause, True)[0] for pause in PAUSES_MS)
              for key in ("end_ms_before", "end_ms")}  # fmt: skip
    hanging = [r for r in rows if r["hangs"]]
    lines += [
        "",
        f"Over the {len(PAUSES_MS)} pause lengths, callers stopped on a hanging word were cut off "
        f"{totals['end_ms_before']}/{len(PAUSES_MS) * len(hanging)} times before and "
        f"{totals['end_ms']}/{len(PAUSES_MS) * len(hanging)} now.",
    ]
    judged = sum(1 for r in hanging if r["judged_unfinished"])
    finished = [r for r in rows if not r["hangs"]]
    wrongly = sum(1 for r in finished if r["judged_unfinished"])
    lines += [
        "",
        f"The rule judged {judged}/{len(hanging)} hanging first parts unfinished from what the "
        f"recogniser wrote, and {wrongly}/{len(finished)} finished clauses unfinished (those "
        "wait longer: a slower answer, never a cut-off).",
        "",
        "## How soon a finished turn ends (off-line)",
        "",
        "| | decode, median | turn over after the last word, median | p90 |",
        "|---|---|---|---|",
    ]
    for label, decode, end in (("before", "decode_ms_before", "end_ms_before"),
                               ("now", "decode_ms", "end_ms")):  # fmt: skip
        ends = sorted(r[end] for r in whole)
        p90 = ends[min(len(ends) - 1, int(0.9 * len(ends)))] if ends else 0
        lines.append(f"| {label} | {_median([r[decode] for r in whole])} ms "
                     f"| {_median(ends)} ms | {p90} ms |")  # fmt: skip
    lines += ["", f"{len(whole)} whole answers ({len(WHOLE)} sentences x the same voices)."]
    calls = results.get("calls")
    if calls:
        lines += [
            "",
            "## Through real calls (scripted patient calls, demo clinic, real Rasa)",
            "",
            "The calling phone's end of speech to the first bot audio packet; 'heard' counts "
            "the caller's lines the call's record holds (a lost line makes a turn look slow "
            "or fast for the wrong reason); word errors compare the phone's lines with the "
            "record's when every line was heard (numbers written as digits count as errors: "
            "compare the columns, not with other tables). 'Early decode': recognition from the "
            "early pause (100 ms of quiet) and turns over at 500 ms (`early_decode_ms`, "
            "`turn_end_ms`).",
            "",
            "| script | before: heard, median, p95, WER | now | early decode |",
            "|---|---|---|---|",
        ]
        for script in calls.get("now", {}):
            cells = []
            for label in ("before", "now", "early_decode"):
                r = calls.get(label, {}).get(script, {})
                cells.append(f"{r.get('caller_turns_heard', 0)}/{r.get('caller_turns_said', 0)}, "
                             f"{r.get('median_ms')} ms, {r.get('p95_ms')} ms, "
                             f"{r.get('wer_pct')} %")  # fmt: skip
            lines.append(f"| {script} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_bench_turns(args: argparse.Namespace) -> int:
    from clinicline.bench import write_report

    results = measure(TurnEndConfig())
    if not args.no_calls:
        results["calls"] = asyncio.run(through_calls(repeats=3))
    return write_report(args.out, "turns", results, markdown)
