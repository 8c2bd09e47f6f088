"""`clinicline bench --when`: answers to "what day and time suit you?", heard as a call hears them.

Each answer is spoken by a synthetic voice, passed through a telephone channel and heard by the
server's recogniser three ways:

- **before**: as every answer was heard until 2026-12-05, with the clinic's drugs and names in
  the prompt;
- **day words**: as the answer to a day question is heard now (`AnswerKind` "when": the
  weekdays and parts of the day in the prompt, `clinicline.callflow.when_recheck.HINTS`);
- **then held**: when that gives no day or time at all, heard again held to the ways of saying
  one (`WhenRecheck`).

Understood = `nlu.dates.parse_when` gives what it gives for the words said. Replies that hold no
day or time ("I don't know", "my chest hurts") measure how often a hearing makes one up. Two
sets: **development** (what the threshold and the phrases were chosen on) and **held-out**
(other phrasings; two voices never used in the choices, three that were). Output: OUT/when.md
and OUT/when.json.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from clinicline.bench_dates import _voices
from clinicline.bench_names import _spoken
from clinicline.callflow.when_recheck import HINTS, WhenRecheck
from nlu.dates import parse_when
from voice.asr.base import SpeechRecognizer, hear_again
from voice.tts.select import Voice

NOW = datetime(2026, 12, 5, 10, 0)  # a Saturday morning: "Tuesday" is next week's
DEVELOPMENT_WHEN = (
    "Tuesday afternoon", "next Monday morning", "Friday at ten", "Thursday", "tomorrow morning",
    "Wednesday after three", "any time next week", "the earliest you have", "Monday or Tuesday",
    "next Thursday at two thirty", "sometime Friday afternoon", "December tenth",
    "how about Wednesday morning", "the week after next", "Tuesday the fifteenth",
)  # fmt: skip
DEVELOPMENT_OTHER = (
    "I don't know", "can I talk to someone", "my chest hurts", "what did you say", "um",
    "never mind", "yes", "no thanks", "I need a refill",
)  # fmt: skip
HELD_OUT_WHEN = (
    "Monday", "Wednesday please", "Friday morning if you can", "next Tuesday at nine",
    "whatever you have soonest", "Thursday after lunch", "tomorrow afternoon",
    "sometime next week in the morning", "Monday at eleven", "any day but Friday",
    "as early as possible", "the fourteenth", "Wednesday around two", "this Friday",
    "early next week", "Tuesday or Wednesday afternoon", "next Friday", "before noon on Monday",
    "Thursday at four thirty", "in two weeks",
)  # fmt: skip
HELD_OUT_OTHER = (
    "hold on let me check my calendar", "sorry, who is this", "my daughter drives me",
    "I've got a terrible headache", "can you say that again", "okay", "I'm not sure yet",
    "what times do you have", "nope", "let me think",
)  # fmt: skip
DEVELOPMENT_VOICES = (
    "flite slt", "flite awb", "flite rms", "flite kal16", "espeak en-us", "espeak en-gb", "piper",
)  # fmt: skip
HELD_OUT_VOICES = ("espeak en-gb-scotland", "espeak en-029", "flite rms", "flite kal16", "piper")


def measure(
    recognizer: SpeechRecognizer,
    voices: dict[str, Voice],
    answers: Sequence[str],
    others: Sequence[str],
) -> list[dict[str, Any]]:
    recheck = WhenRecheck(recognizer, now=lambda: NOW)
    rows: list[dict[str, Any]] = []
    for voice_name, voice in voices.items():
        for words in (*answers, *others):
            pcm = _spoken(voice, words)
            before = hear_again(recognizer, pcm)
            free = hear_again(recognizer, pcm, hints=HINTS, answer="when")
            again = asyncio.run(recheck.heard_again(free, pcm)) if free else None
            meant = parse_when(words, NOW) if words in answers else None
            rows.append({
                "voice": voice_name, "said": words, "when": words in answers,
                "before": before, "free": free, "again": again,
                "ok_before": _same(parse_when(before, NOW), meant),
                "ok_free": _same(parse_when(free, NOW), meant),
                "ok_held": _same(parse_when(again if again is not None else free, NOW), meant),
            })  # fmt: skip
    return rows


def _same(heard: Any, meant: Any) -> bool:
    return bool(heard == meant)


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answers = [r for r in rows if r["when"]]
    others = [r for r in rows if not r["when"]]
    return {
        "answers": len(answers),
        "understood": {k: sum(r[f"ok_{k}"] for r in answers) for k in ("before", "free", "held")},
        "others": len(others),
        "made_up": {k: sum(not r[f"ok_{k}"] for r in others) for k in ("before", "free", "held")},
        "by_voice": {
            v: {
                k: sum(r[f"ok_{k}"] for r in answers if r["voice"] == v)
                for k in ("before", "free", "held")
            }
            for v in dict.fromkeys(r["voice"] for r in answers)
        },  # fmt: skip
    }


def run(recognizer: SpeechRecognizer) -> dict[str, Any]:
    sets: dict[str, Any] = {}
    for name, voice_names, answers, others in (
        ("development", DEVELOPMENT_VOICES, DEVELOPMENT_WHEN, DEVELOPMENT_OTHER),
        ("held-out", HELD_OUT_VOICES, HELD_OUT_WHEN, HELD_OUT_OTHER),
    ):
        rows = measure(recognizer, _voices(voice_names), answers, others)
        sets[name] = {"summary": _summary(rows), "rows": rows}
    return {"sets": sets}


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# A day and time said, heard as a call hears it",
        "",
        f"Run {results['date']} on {results['machine']}, code {results['code']}. "
        "Off-line, telephone channel, the server's recogniser (tiny.en, 3 beams).",
        "",
        "Understood: `parse_when` of what was heard equals `parse_when` of what was said. "
        "Made up: a reply that holds no day or time heard as one.",
        "",
        "| set | answers | before | day words | then held | replies with no day | made up: "
        "before | day words | then held |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, data in results["sets"].items():
        s = data["summary"]
        u, m = s["understood"], s["made_up"]
        lines.append(
            f"| {name} | {s['answers']} | {u['before']} | {u['free']} | {u['held']} | "
            f"{s['others']} | {m['before']} | {m['free']} | {m['held']} |"
        )
    for name, data in results["sets"].items():
        lines += ["", f"## {name}: understood per voice", "", "| voice | before | day words | "
                  "then held |", "|---|---|---|---|"]  # fmt: skip
        for voice, counts in data["summary"]["by_voice"].items():
            lines.append(f"| {voice} | {counts['before']} | {counts['free']} | {counts['held']} |")
        missed = [r for r in data["rows"] if not r["ok_held"]]
        if missed:
            lines += ["", "Still wrong or made up (said → heard, then held):", ""]
            lines += [
                f'- {r["voice"]}: "{r["said"]}" → "{r["free"]}"'
                + (f', held "{r["again"]}"' if r["again"] else "")
                for r in missed
            ]
    return "\n".join(lines) + "\n"


def run_bench_when(args: argparse.Namespace, recognizer: SpeechRecognizer) -> int:
    from clinicline.bench import write_report

    return write_report(args.out, "when", run(recognizer), markdown)
