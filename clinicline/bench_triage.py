"""`clinicline bench --triage-speech`: red flags spoken through real calls, caught or not.

The emergent lines of the shared dev set and of the held-out set are spoken by the simulated
patient phone in three voices (Piper, flite, espeak-ng) over real SIP calls to a real
`clinicline serve --dialog triage-probe`, which records what triage makes of every
transcript the recogniser produces (partials included, when the engine streams) without
acting on it. Many lines ride on one call. Each line counts as caught when a transcript
heard for it is flagged. Results accumulate in docs/bench/triage_speech.json so the run can
be done in chunks (`--budget-minutes`) under the shared CPU lock.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clinicline.bench import phone_call_log
from clinicline.triage_probe import PROBE_LOG_ENV
from nlu.triage import Level, TriageEngine
from nlu.triage.evaluate import read_set

VOICES = ("piper", "flite", "espeak")
_ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "shared dev set": _ROOT.parent / "shared" / "eval" / "triage.tsv",
    "held-out set": _ROOT / "tests" / "nlu" / "triage_heldout11.tsv",
}


def emergent_lines(heldout_every: int = 1) -> list[tuple[str, str]]:
    """(set name, text) of the emergent lines of the sets that exist here: all of the shared
    dev set's, and every n-th of the held-out set's (a sample across its categories)."""
    lines = []
    for name, path in SETS.items():
        if not path.exists():
            continue
        emergent = [case.text for case in read_set(path) if case.label == "emergent"]
        step = heldout_every if name == "held-out set" else 1
        lines += [(name, text) for text in emergent[::step]]
    return lines


def _words(text: str) -> set[str]:
    return {w.strip(".,!?;:'\"").lower() for w in text.split()} - {""}


def _overlap(heard: str, line: str) -> float:
    words = _words(heard)
    return len(words & _words(line)) / max(len(words), 1)


def align(lines: list[str], heard: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Give each transcript (partial or final) to the line it was heard for.

    A monotone alignment that maximises the words shared between transcripts and their lines:
    a line may be split into several transcripts or lost altogether, and a garbled transcript
    stays with the line before it rather than pulling the rest out of step.
    """
    if not lines or not heard:
        return [[] for _ in lines]
    skip = 1e-3  # a small cost per line passed over, so ties keep transcripts in step
    scores = [[_overlap(e["text"], line) for line in lines] for e in heard]
    best = [[0.0] * len(lines) for _ in heard]
    back = [[0] * len(lines) for _ in heard]
    for j in range(len(lines)):
        best[0][j] = scores[0][j] - skip * j
    for k in range(1, len(heard)):
        for j in range(len(lines)):
            options = [best[k - 1][p] - skip * (j - p) for p in range(j + 1)]
            prev = options.index(max(options))
            back[k][j] = prev
            best[k][j] = scores[k][j] + options[prev]
    j = max(range(len(lines)), key=lambda p: best[-1][p])
    assigned: list[list[dict[str, Any]]] = [[] for _ in lines]
    for k in range(len(heard) - 1, -1, -1):
        assigned[j].insert(0, heard[k])
        j = back[k][j]
    return assigned


def _chunks(todo: list[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    for start in range(0, len(todo), size):
        yield todo[start : start + size]


def _read_probe(path: Path, call_id: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in entries if e["call_id"] == call_id]


def _line_record(set_name: str, heard: list[dict[str, Any]]) -> dict[str, Any]:
    """What the recogniser produced for one line, and triage's verdicts at the time."""
    return {
        "set": set_name,
        "transcripts": [{"text": e["text"], "final": e["final"]} for e in heard],
        "at_run": {
            "lexicon": [e["lexicon"] for e in heard],
            "together": [e["together"] for e in heard],
        },
    }


def score_line(engine: TriageEngine, record: dict[str, Any]) -> dict[str, bool]:
    """Triage of the recorded transcripts with this engine (the code the server runs):
    partials get the lexicon alone, finals the lexicon and then the net."""
    lexicon = [engine.assess(t["text"]).level for t in record["transcripts"]]
    together = [
        engine.assess_final(t["text"]) if t["final"] else engine.assess(t["text"])
        for t in record["transcripts"]
    ]
    return {
        "heard": any(t["final"] for t in record["transcripts"]),
        "lexicon_emergent": any(level is Level.EMERGENT for level in lexicon),
        "lexicon_urgent": any(level is not Level.NONE for level in lexicon),
        "together_urgent": any(r.level is not Level.NONE for r in together),
        # Nothing flagged, but the call asks the red-flag screening question first.
        "urgent_or_asked": any(r.level is not Level.NONE or r.screen for r in together),
    }


async def run_triage_speech(args: argparse.Namespace) -> int:
    from clinicline.harness import start_server

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    store = out / "triage_speech.json"
    results: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {}
    voices = [v for v in str(args.voices).split(",") if v]
    lines = emergent_lines(args.heldout_every)
    engine = TriageEngine.default()
    assert engine.net is not None and engine.net.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.jsonl"
        server = start_server(
            Path(tmp), data_dir=Path("var/bench-data").resolve(), dialog="triage-probe",
            env={PROBE_LOG_ENV: str(probe)},
        )  # fmt: skip
        try:
            server.wait_ready()
            deadline = time.monotonic() + 60 * args.budget_minutes
            # Voices take turns chunk by chunk, so a run cut short covers every voice alike.
            for chunk in _chunks(lines, args.lines_per_call):
                for voice in voices:
                    done = results.setdefault(voice, {})
                    todo = [(s, t) for s, t in chunk if t not in done]
                    if not todo or time.monotonic() > deadline:
                        continue
                    log = await phone_call_log(
                        server.uri, server.db_url, [t for _, t in todo], voice, server.env
                    )
                    heard = _read_probe(probe, log.get("call_id", ""))
                    results.setdefault("_calls", []).append(
                        {"voice": voice, "lines": [t for _, t in todo], "heard": heard}
                    )
                    # The phone ends each call with "goodbye": its own slot, dropped.
                    spoken = [t for _, t in todo] + ["goodbye"]
                    for (set_name, text), got in zip(todo, align(spoken, heard)[:-1], strict=True):
                        done[text] = _line_record(set_name, got)
                    store.write_text(json.dumps(results, indent=1))
        finally:
            server.stop()
    report = speech_markdown(engine, results, lines)
    (out / "triage_speech.md").write_text(report)
    print(report)
    return 0


def speech_markdown(
    engine: TriageEngine, results: dict[str, Any], lines: list[tuple[str, str]]
) -> str:
    from voice.asr.wer import word_error_rate

    out = [
        "# Triage on speech",
        "",
        "Emergent lines spoken by the simulated phone over real SIP calls to `clinicline serve "
        "--dialog triage-probe` (whisper tiny.en); a line is caught when a transcript heard "
        "for it is flagged. `clinicline bench --triage-speech` (in chunks, under the CPU lock). "
        "The recogniser's transcripts are kept, and triage is applied to them with the current "
        "lexicon and net (deterministic: the code the server runs on each transcript). "
        "'or asked': nothing flagged, but the call asks the red-flag screening question "
        "(symptom words, or words the net finds close to a red flag). Missed lines are listed "
        "for the shared set only: the held-out set stays unread.",
        "",
        "| voice | set | lines spoken | heard | lexicon: emergent | lexicon: >= urgent "
        "| lexicon + net: >= urgent | >= urgent or asked | on the written text: >= urgent "
        "| WER |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    missed: list[str] = []
    for voice, done in results.items():
        if voice.startswith("_"):
            continue
        for set_name in dict.fromkeys(s for s, _ in lines):
            texts = [t for s, t in lines if s == set_name and t in done]
            if not texts:
                continue
            scores = {t: score_line(engine, done[t]) for t in texts}
            n = len(texts)

            def pct(key: str, scores: dict[str, dict[str, bool]] = scores, n: int = n) -> str:
                k = sum(1 for v in scores.values() if v[key])
                return f"{k}/{n} ({100 * k / n:.1f} %)"

            written = sum(1 for t in texts if engine.assess_final(t).level is not Level.NONE)
            heard = {t: " ".join(x["text"] for x in done[t]["transcripts"] if x["final"])
                     for t in texts}
            wer = word_error_rate([(t, heard[t]) for t in texts])
            out.append(
                f"| {voice} | {set_name} | {n} | {pct('heard')} | {pct('lexicon_emergent')} "
                f"| {pct('lexicon_urgent')} | {pct('together_urgent')} "
                f"| {pct('urgent_or_asked')} | {written}/{n} | {wer.rate:.1%} |"
            )
            if set_name != "held-out set":
                missed += [f"| {voice} | {t} | {heard[t] or '(nothing)'} |"
                           for t in texts if not scores[t]["together_urgent"]]
    partials = sum(
        1 for voice, done in results.items() if not voice.startswith("_")
        for r in done.values() for t in r["transcripts"] if not t["final"]
    )  # fmt: skip
    out += [
        "",
        f"Partial transcripts screened: {partials} (whisper decodes whole utterances; partials "
        "come only from a streaming engine such as Vosk, for which no English model ships here).",
        "",
        "## Lines of the shared set missed on speech (not even urgent)",
        "",
        "| voice | said | heard |",
        "|---|---|---|",
        *missed,
    ]
    return "\n".join(out) + "\n"
