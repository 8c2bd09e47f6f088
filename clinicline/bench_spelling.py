"""`clinicline bench --spelling`: surnames spelled letter by letter, heard as a call hears them.

A caller whose name matched nobody is asked to spell her surname. Each surname of a sample from
the demo clinic's pool (everyday and hard, 2 to 17 letters) is spelled by voices the recogniser
was never tuned on, passed through a telephone channel, and heard the two ways the product hears
it (development: 16 surnames, "V, E, N, K, …" and "It's spelled V E N K …", four voices;
held-out: the pool's other surnames, "That's V, E, N, …" and "V E N …, that's it.", three
other voices):

- free: the turn's own decode with the spelling prompt; its letters (`nlu.spelling.letters_of`);
- held: the same audio held to the spellings of the surnames of the patients born on her date
  (hers and two others) and two decoys' (`NameRecheck.spelled`: used from `SPELLING_FLOOR`,
  never when it comes out as a decoy).

Verified = the identity action's rule: the free letters, then the held ones, name exactly one
surname among the candidates (`matching_surname`). **Wrong** counts a spelling matched to
another patient's surname. The impostor rows spell a surname that is *not* among the candidates:
any match there would verify a caller as someone else. Output: OUT/spelling.md and .json.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from clinicline.bench_dates import Voice, _voices
from clinicline.bench_names import _spoken
from clinicline.callflow.name_recheck import (
    SPELLING_AGREEMENT,
    SPELLING_FLOOR,
    SPELLING_FLOOR_UNSEEN,
    hear_spelled,
    held_spelling_usable,
)
from integrations.seed import demo_clinic
from nlu.spelling import letters_of, matching_surname, surname_letters
from voice.asr.base import PhraseListener, SpeechRecognizer, hear_again

SURNAMES = 16
OTHERS = 2  # patients sharing the date of birth, besides the caller


def sample_surnames(count: int, seed: int = 5) -> list[str]:
    pool = sorted(set(demo_clinic.LAST_NAMES), key=str.lower)
    return random.Random(seed).sample(pool, min(count, len(pool)))


def held_out_surnames() -> list[str]:
    """The pool's surnames the development set did not use."""
    used = set(sample_surnames(SURNAMES))
    return [s for s in sorted(set(demo_clinic.LAST_NAMES), key=str.lower) if s not in used]


def ways_to_spell(surname: str) -> list[str]:
    letters = list(surname_letters(surname))
    return [", ".join(letters) + ".", "It's spelled " + " ".join(letters) + "."]


def held_out_ways(surname: str) -> list[str]:
    letters = list(surname_letters(surname))
    return ["That's " + ", ".join(letters) + ".", " ".join(letters) + ", that's it."]


DEVELOPMENT_VOICES = ("espeak en-us", "espeak en-gb", "flite slt", "flite awb")
HELD_OUT_VOICES = ("flite kal16", "espeak en-029", "piper")


def _held(
    recognizer: PhraseListener, pcm: np.ndarray, candidates: list[str], free_text: str
) -> dict[str, Any]:
    """`NameRecheck.spelled`'s hearing: the letters it heard, its confidence, whether it
    passes them on (`held_spelling_usable`), and the decode's milliseconds."""
    started = time.perf_counter()
    letters, confidence = hear_spelled(recognizer, pcm, candidates)
    ms = (time.perf_counter() - started) * 1000
    usable = letters is not None and held_spelling_usable(free_text, letters, confidence)
    return {
        "held_heard": letters or "", "held_confidence": round(confidence, 3),
        "held": letters if usable and letters else "", "held_ms": round(ms, 1),
    }  # fmt: skip


def _verdict(spellings: list[str], candidates: list[str], own: str | None) -> str:
    """The identity action's outcome: "verified" (her surname), "wrong" (another's), "none"."""
    for letters in dict.fromkeys(s for s in spellings if s):
        found = matching_surname(letters, candidates)
        if found is not None:
            return "verified" if found == own else "wrong"
    return "none"


def measure(
    recognizer: SpeechRecognizer,
    surnames: list[str],
    voices: dict[str, Voice],
    ways: Callable[[str], list[str]],
) -> list[dict[str, Any]]:
    if not isinstance(recognizer, PhraseListener):
        raise SystemExit("the spelling bench needs whisper (held hearings)")
    rows: list[dict[str, Any]] = []
    for voice_name, voice in voices.items():
        for i, surname in enumerate(surnames):
            others = [surnames[(i + k * 5) % len(surnames)] for k in range(1, OTHERS + 1)]
            stranger = surnames[(i + 3) % len(surnames)]  # spelled, but nobody born that day
            for way, said in enumerate(ways(surname)):
                pcm = _spoken(voice, said)
                free_text = hear_again(recognizer, pcm, answer="spelling")
                free = letters_of(free_text) or ""
                held = _held(recognizer, pcm, [surname, *others], free_text)
                rows.append({
                    "voice": voice_name, "surname": surname, "way": way, "said": said,
                    "free_text": free_text, "free": free, **held,
                    "free_alone": _verdict([free], [surname, *others], surname),
                    "verdict": _verdict([free, held["held"]], [surname, *others], surname),
                })  # fmt: skip
            if stranger in others:
                continue
            for said in ways(stranger):
                pcm = _spoken(voice, said)
                free_text = hear_again(recognizer, pcm, answer="spelling")
                free = letters_of(free_text) or ""
                held = _held(recognizer, pcm, [surname, *others], free_text)
                rows.append({
                    "voice": voice_name, "surname": stranger, "way": "impostor",
                    "said": said, "candidates": [surname, *others], "free_text": free_text,
                    "free": free, **held,
                    "verdict": _verdict([free, held["held"]], [surname, *others], None),
                })  # fmt: skip
    return rows


def _table(rows: list[dict[str, Any]]) -> list[str]:
    voices = list(dict.fromkeys(r["voice"] for r in rows))
    lines = [
        "| voice | spellings | verified, free letters alone | verified, free then held "
        "| matched to another patient | held hearing, median | impostor spellings "
        "| impostors matched |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for voice in [*voices, "all"]:
        mine = [r for r in rows if voice in ("all", r["voice"])]
        spelled = [r for r in mine if r["way"] != "impostor"]
        impostors = [r for r in mine if r["way"] == "impostor"]
        n = len(spelled)
        alone = sum(r["free_alone"] == "verified" for r in spelled)
        verified = sum(r["verdict"] == "verified" for r in spelled)
        lines.append(
            f"| {voice} | {n} | {alone} ({100 * alone / n:.0f} %) "
            f"| {verified} ({100 * verified / n:.0f} %) "
            f"| {sum(r['verdict'] == 'wrong' for r in spelled)} "
            f"| {statistics.median(r['held_ms'] for r in spelled):.0f} ms "
            f"| {len(impostors)} | {sum(r['verdict'] != 'none' for r in impostors)} |"
        )
    return lines


def _details(title: str, rows: list[dict[str, Any]]) -> list[str]:
    missed = [r for r in rows if r["way"] != "impostor" and r["verdict"] != "verified"]
    lines = ["", f"{title}: spellings not verified ({len(missed)}):", ""]
    lines += [
        f"- {r['voice']}: {r['surname']} (way {r['way']}) → free \"{r['free']}\", "
        f"held \"{r['held_heard']}\" ({r['held_confidence']:.2f}, "
        f"{'used' if r['held'] else 'not used'})"
        for r in missed
    ]
    fooled = [r for r in rows if r["way"] == "impostor" and r["held_heard"]]
    lines += ["", f"{title}: impostor spellings the held hearing made into a candidate's "
              f"({len(fooled)}):", ""]  # fmt: skip
    lines += [
        f"- {r['voice']}: {r['surname']} → free \"{r['free']}\", held \"{r['held_heard']}\" "
        f"({r['held_confidence']:.2f}, {'used' if r['held'] else 'not used'})"
        for r in fooled
    ]
    return lines


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Surnames spelled",
        "",
        f"Run {results['date']} on {results['machine']} (`clinicline bench --spelling`, "
        f"{results['code']}). Surnames from the demo clinic's pool are spelled by voices the "
        "recogniser was never tuned on, through a telephone channel. Candidates: her surname "
        f"and {OTHERS} others (the patients born on her date). A held hearing's letters are "
        "used when they differ from the free hearing's letters in at most "
        f"{results['agreement']:.0%} of them (and confidence ≥ {results['floor']}), or, when "
        f"the free hearing wrote no letters, from confidence {results['floor_unseen']}. "
        "Verified by the free letters alone, and by the free then the held letters (what the "
        "product does). Impostors spell, the same ways, a surname that is not among the "
        "candidates: a match would verify the wrong person.",
        "",
        f"## Development: {len(results['development']['surnames'])} surnames, spelled "
        "\"V, E, N, …\" and \"It's spelled V E N …\"",
        "",
        "The rule for using a held hearing (agreement, the floor without free letters) was set "
        "on this set.",
        "",
        *_table(results["development"]["rows"]),
        "",
        f"## Held-out: the pool's other {len(results['held_out']['surnames'])} surnames, "
        "spelled \"That's V, E, N, …\" and \"V E N …, that's it.\", other voices",
        "",
        *_table(results["held_out"]["rows"]),
        *_details("Held-out", results["held_out"]["rows"]),
        *_details("Development", results["development"]["rows"]),
    ]
    return "\n".join(lines) + "\n"


def run_bench_spelling(args: argparse.Namespace, recognizer: SpeechRecognizer) -> int:
    from clinicline.bench import write_report

    development, held_out = sample_surnames(SURNAMES), held_out_surnames()
    results = {
        "development": {
            "surnames": development,
            "rows": measure(recognizer, development, _voices(DEVELOPMENT_VOICES), ways_to_spell),
        },
        "held_out": {
            "surnames": held_out,
            "rows": measure(recognizer, held_out, _voices(HELD_OUT_VOICES), held_out_ways),
        },
        "floor": SPELLING_FLOOR, "agreement": SPELLING_AGREEMENT,
        "floor_unseen": SPELLING_FLOOR_UNSEEN,
    }  # fmt: skip
    return write_report(args.out, "spelling", results, markdown)
