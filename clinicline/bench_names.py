"""`clinicline bench --names`: hard names heard once and again, and dates of birth said in words.

Each name of a sample from the demo clinic's pools (everyday names mixed with names speech
recognisers find hard) is spoken by voices the recogniser was never tuned on, passed through a
telephone channel (band limit + G.711), and decoded by the server's recogniser (with the demo
clinic's providers and medications as its vocabulary) three ways:

- first hearing: no hints, as when the caller's number is not on file;
- second hearing: the names of the patients "born that day" as the only hints (her own and two
  others), as `clinicline.callflow.name_recheck` does;
- impostor: the same audio, hinted with two *other* patients' names only: what a caller who
  knows a date of birth but says another name would get;
- decoy: the same audio hinted with two decoy names (`name_recheck.decoys_for`); a hearing
  that comes out as a decoy shows the recogniser repeating its prompt, and the product then
  does not use the second hearing ("after the decoy check").

A hearing matches when `nlu.names.name_score` reaches the verification threshold. (Dates of birth:
`clinicline bench --dates`.) Output: OUT/names.md and OUT/names.json.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np

from clinicline.callflow.name_recheck import decoys_for, repeats_prompt
from integrations.seed import demo_clinic
from integrations.services.identity import NAME_MATCH
from nlu.dates import MONTH_NAMES
from nlu.names import name_score
from voice.asr.base import AnswerKind, SpeechRecognizer, hear_again
from voice.audio.frames import SAMPLE_RATE
from voice.audio.wav import telephone_channel
from voice.tts.external import CommandSynthesizer, EspeakSynthesizer, FliteSynthesizer
from voice.tts.select import Voice

NAMES = 30
OTHERS = 2  # patients sharing the date of birth, besides the caller


def _voices() -> dict[str, CommandSynthesizer]:
    return {
        "espeak en-us": EspeakSynthesizer("en-us"),
        "espeak en-gb": EspeakSynthesizer("en-gb"),
        "flite slt": FliteSynthesizer("slt"),
        "flite awb": FliteSynthesizer("awb"),
    }


def demo_vocabulary(extra: Sequence[str] = ()) -> list[str]:
    """What the server's recogniser expects on every call of the demo clinic: its providers,
    then its medications (as `clinic_vocabulary` builds it from the store)."""
    meds = [m.name.split()[0] for m in demo_clinic.MEDICATION_POOL]
    providers = [display for _name, display, _specialty in demo_clinic.PROVIDERS]
    return list(dict.fromkeys([*extra, *providers, *meds]))


_ORDINALS = (
    "", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "seventeenth", "eighteenth", "nineteenth", "twentieth",
)  # fmt: skip
_SMALL = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy",
         8: "eighty", 9: "ninety"}  # fmt: skip


def _number(n: int) -> str:
    return _SMALL[n] if n < 20 else _TENS[n // 10] + ("" if n % 10 == 0 else f" {_SMALL[n % 10]}")


def _ordinal(n: int) -> str:
    if n <= 20:
        return _ORDINALS[n]
    return "thirtieth" if n == 30 else f"{_TENS[n // 10]} {_ORDINALS[n % 10]}"


def _year(y: int, modern: bool) -> str:
    """1972 as "nineteen seventy two"; 2005 as "two thousand and five" or "twenty oh five"."""
    if y < 2000:
        return f"{_number(y // 100)} {_number(y % 100)}"
    rest = y - 2000
    if modern:
        return "twenty " + (f"oh {_SMALL[rest]}" if rest < 10 else _number(rest))
    return "two thousand" + ("" if rest == 0 else f" and {_number(rest)}")


def ways_to_say(d: date) -> list[str]:
    """Ten ways a caller says a date of birth (the first five and the last are all words)."""
    month = MONTH_NAMES[d.month - 1]
    day, short = _ordinal(d.day), d.year % 100
    two_digit = f"oh {_SMALL[short]}" if short < 10 else _number(short)
    return [
        f"{month} {day} {_year(d.year, False)}",
        f"{month} {d.day}, {d.year}",
        f"the {day} of {month} {_year(d.year, False)}",
        f"{d.day} {month} {d.year}",
        f"{_number(d.month)} {_number(d.day)} {_year(d.year, True)}",
        f"{d.month}/{d.day}/{d.year}",
        f"{month} the {day}, {_year(d.year, True)}",
        f"it's {month} {day} {_year(d.year, False)}",
        f"I was born on {month} {day}, {d.year}",
        f"{month} {day} {two_digit}",
    ]


BIRTHDAYS = (
    date(2000, 3, 4), date(1958, 11, 20), date(2001, 9, 14), date(1990, 7, 19),
    date(1983, 5, 17), date(1935, 12, 1), date(2005, 1, 9), date(1972, 10, 30),
    date(1969, 6, 21), date(2010, 2, 28),
)  # fmt: skip
SPOKEN_WAYS = (0, 2, 4, 6, 7, 9)  # the forms of `ways_to_say` that are words, not digits


def sample_names(count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < count:
        name = f"{rng.choice(demo_clinic.FIRST_NAMES)} {rng.choice(demo_clinic.LAST_NAMES)}"
        if name not in names:
            names.append(name)
    return names


def _spoken(voice: Voice, text: str) -> np.ndarray:
    pcm = np.concatenate(list(voice.synthesize(text)))
    line = telephone_channel(pcm, SAMPLE_RATE)
    # The VAD keeps ~240 ms before the words and ~200 ms after them.
    return np.concatenate(
        [np.zeros(SAMPLE_RATE * 24 // 100, np.int16), line, np.zeros(SAMPLE_RATE // 5, np.int16)]
    )


def _hear(
    recognizer: SpeechRecognizer,
    pcm: np.ndarray,
    hints: list[str],
    answer: AnswerKind | None = "name",
) -> tuple[str, float]:
    """What the recogniser makes of the audio, and the decode's milliseconds."""
    started = time.perf_counter()
    text = hear_again(recognizer, pcm, hints=hints, answer=answer)
    return text, (time.perf_counter() - started) * 1000


def measure(recognizer: SpeechRecognizer, names: list[str]) -> dict[str, Any]:
    from nlu.triage import Level, TriageEngine

    triage = TriageEngine.default()
    rows: list[dict[str, Any]] = []
    for voice_name, voice in _voices().items():
        for i, name in enumerate(names):
            others = [names[(i + k * 7) % len(names)] for k in range(1, OTHERS + 1)]
            pcm = _spoken(voice, f"My name is {name}.")
            first, _ = _hear(recognizer, pcm, [])
            second, ms = _hear(recognizer, pcm, [name, *others])
            impostor, _ = _hear(recognizer, pcm, others)
            decoys = decoys_for([name, *others])
            decoy, _ = _hear(recognizer, pcm, decoys)
            rows.append({
                "voice": voice_name, "name": name, "first": first, "second": second,
                "impostor_hints": others, "impostor": impostor,
                "first_score": name_score(first, name), "second_score": name_score(second, name),
                # The impostor's hearing against the patients she would claim to be.
                "impostor_score": max(name_score(impostor, o) for o in others),
                "second_ms": round(ms, 1),
                "decoy": decoy, "repeats_prompt": repeats_prompt(decoy, decoys),
                # Every transcript is screened on a call: a name heard as words can look like
                # a red flag.
                "first_flagged": triage.assess_final(first).level != Level.NONE if first else False,
                "first_empty": not first,
            })  # fmt: skip
    return {"names": names, "rows": rows, "threshold": NAME_MATCH}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    return {
        "names": n,
        "first": sum(r["first_score"] >= NAME_MATCH for r in rows),
        "second": sum(r["second_score"] >= NAME_MATCH for r in rows),
        "impostor": sum(r["impostor_score"] >= NAME_MATCH for r in rows),
        "second_kept": sum(
            r["second_score"] >= NAME_MATCH and not r["repeats_prompt"] for r in rows
        ),
        "impostor_kept": sum(
            r["impostor_score"] >= NAME_MATCH and not r["repeats_prompt"] for r in rows
        ),
        "first_empty": sum(r["first_empty"] for r in rows),
        "first_flagged": sum(r["first_flagged"] for r in rows),
        "second_ms_median": round(statistics.median(r["second_ms"] for r in rows), 1),
    }


def markdown(results: dict[str, Any]) -> str:
    rows = results["rows"]
    voices = list(dict.fromkeys(r["voice"] for r in rows))
    lines = [
        "# Names heard twice",
        "",
        f"Run {results['date']} on {results['machine']} (`clinicline bench --names`, "
        f"{results['code']}). {len(results['names'])} names from the demo clinic's pools "
        "(everyday and hard names), each said as \"My name is …\" by voices the recogniser was "
        "never tuned on, through a telephone channel (band limit + G.711), decoded by the "
        "server's recogniser. A hearing matches when the name score reaches "
        f"{results['threshold']} (the verification threshold).",
        "",
        "- **first**: no hints (a number not on file);",
        f"- **second**: the caller's name and {OTHERS} other patients' names as hints (the "
        "patients born on the date she gave);",
        f"- **impostor**: the same audio hinted with the {OTHERS} others only (someone who knows "
        "a date of birth and says another name): a match here would verify the wrong person.",
        "",
        "| voice | names | first hearing matches | second hearing matches | impostor matches "
        "| second hearing matches after the decoy check | impostor matches after the decoy check "
        "| second hearing, median decode | first hearing empty | first hearing flagged by triage |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for voice in [*voices, "all"]:
        s = _summary([r for r in rows if voice in ("all", r["voice"])])
        lines.append(
            f"| {voice} | {s['names']} | {s['first']} ({100 * s['first'] / s['names']:.0f} %) "
            f"| {s['second']} ({100 * s['second'] / s['names']:.0f} %) | {s['impostor']} "
            f"| {s['second_kept']} | {s['impostor_kept']} | {s['second_ms_median']} ms "
            f"| {s['first_empty']} | {s['first_flagged']} |"
        )
    lines += [
        "",
        "Dates of birth said in words, heard as a call hears them: [dates.md](dates.md) "
        "(`clinicline bench --dates`).",
    ]
    missed = [r for r in rows if r["second_score"] < NAME_MATCH]
    lines += ["", f"Second hearings that still missed ({len(missed)}):", ""]
    lines += [
        f"- {r['voice']}: {r['name']} → \"{r['second']}\" ({r['second_score']:.2f})"
        for r in missed
    ]
    return "\n".join(lines) + "\n"


def run_bench_names(args: argparse.Namespace, recognizer: SpeechRecognizer) -> int:
    from clinicline.bench import write_report

    results = measure(recognizer, sample_names(NAMES))
    return write_report(args.out, "names", results, markdown)
