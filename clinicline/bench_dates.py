"""`clinicline bench --dates`: dates of birth said in words, heard as a call hears them.

Each date is spoken by a synthetic voice, passed through a telephone channel (band limit +
G.711) and heard by the server's recogniser as the answer to "and the date of birth?" is: a
first hearing (free decode, no clinic vocabulary); when that gives no date (or one over 100
years ago), a second hearing. Two second hearings are compared on the same audio:

- **free**: decoded again with a few dates written out in the prompt (the product's second
  hearing before, and still the one of recognisers that cannot be held to dates);
- **held to dates**: the likeliest date of the grammar of written dates
  (`voice.asr.constrained`), kept at `MIN_DATE_CONFIDENCE` (the product's second hearing now,
  `clinicline/callflow/date_recheck.py`).

Two sets: **development** (the names bench's 10 birthdays in its 6 spoken forms, four voices:
what the choices of the held-to-dates hearing were looked at on) and **held-out** (20 other
birthdays in 5 other spoken forms, five other voices, run once to report). Answers that hold
no date ("I don't know it", a name, a symptom) measure how often a second hearing makes a date
out of words that are none. Understood = `nlu.dates.parse_dob` gives the date said.

Then answers to a yes-or-no question ("Is that right?"), heard freely and, as a call now hears
them, held to the yes and no answers of `nlu.confirm` (`ConfirmRecheck`): right, the opposite
answer, and other replies turned into an answer, on a development set (the answers the
threshold was chosen on) and a held-out one (other phrasings, other voices).
Output: OUT/dates.md and OUT/dates.json.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from clinicline.bench_names import (
    BIRTHDAYS,
    SPOKEN_WAYS,
    _number,
    _ordinal,
    _spoken,
    _year,
    ways_to_say,
)
from clinicline.callflow.confirm_recheck import ConfirmRecheck
from clinicline.callflow.date_recheck import EXAMPLES, DateRecheck
from nlu.confirm import yes_no
from nlu.dates import MONTH_NAMES, parse_dob
from voice.asr.base import SpeechRecognizer, hear_again
from voice.tts.select import Voice

NOT_DATES_DEVELOPMENT = (
    "I don't know it off the top of my head", "hang on let me check", "sorry, what did you say?",
    "I'd rather not say", "can I just talk to someone", "my chest really hurts",
    "it's on my card somewhere", "no", "yes", "um", "I'm not sure", "what do you need that for?",
    "Mary Smith", "I'm calling for my mother", "it's the same as my husband's",
    "just a moment please", "I need a refill of my lisinopril", "my appointment is on Tuesday",
    "room twelve", "I was born in Ohio",
)  # fmt: skip
NOT_DATES_HELD_OUT = (
    "give me a second to find it", "why do you need to know", "I can't remember right now",
    "Robert Johnson", "it's for my son actually", "what was the question", "okay",
    "I've got a terrible headache", "can you say that again", "I'm on my lunch break",
    "let me ask my wife", "the number on my insurance card", "nope", "I already told you",
    "I just want to book a checkup",
)  # fmt: skip


YES_NO_DEVELOPMENT = (
    ("yes", True), ("yeah", True), ("yep", True), ("that's right", True), ("correct", True),
    ("yes it is", True), ("uh huh", True), ("yes that's correct", True), ("sure", True),
    ("no", False), ("nope", False), ("that's wrong", False), ("no it's not", False),
    ("not quite", False), ("no that's not right", False), ("incorrect", False),
    ("what did you say", None), ("hold on a second", None),
    ("March fourth nineteen seventy two", None), ("can you repeat that", None),
    ("my chest hurts", None), ("Maria Lopez", None),
)  # fmt: skip
YES_NO_HELD_OUT = (
    ("yes ma'am", True), ("yep that's it", True), ("absolutely", True), ("that is correct", True),
    ("mm hmm", True), ("right", True), ("yeah that's me", True), ("of course", True),
    ("no no", False), ("nope that's not it", False), ("negative", False), ("no sir", False),
    ("wrong", False), ("not at all", False), ("no that's wrong", False), ("nah", False),
    ("sorry?", None), ("who is this", None), ("my daughter handles that", None),
    ("it's April second", None), ("I feel dizzy", None),
)  # fmt: skip


def held_out_ways(born: date) -> list[str]:
    """Five ways of saying a date of birth that the development set does not use."""
    month, day = MONTH_NAMES[born.month - 1], _ordinal(born.day)
    short = born.year % 100
    two_digit = f"oh {_number(short)}" if short < 10 else _number(short)
    return [
        f"my date of birth is {month} {day}, {_year(born.year, False)}",
        f"{day} {month} {_year(born.year, True)}",
        f"{_number(born.month)} {_number(born.day)} {two_digit}",
        f"{month} {_number(born.day)} {_year(born.year, False)}",
        f"um, it's the {day} of {month}, {_year(born.year, True)}",
    ]


def held_out_birthdays(count: int = 20, seed: int = 2026) -> list[date]:
    """Birthdays from 1931 to 2023, none of the development set's or the prompt's."""
    rng = random.Random(seed)
    taken = {*BIRTHDAYS, *(parse_dob(e, date(2026, 1, 1)) for e in EXAMPLES)}
    found: list[date] = []
    while len(found) < count:
        born = date(1931, 1, 1) + timedelta(days=rng.randrange(93 * 365))
        if born not in taken and born not in found:
            found.append(born)
    return found


def _voices(names: Sequence[str]) -> dict[str, Voice]:
    from voice.tts.external import EspeakSynthesizer, FliteSynthesizer

    voices: dict[str, Voice] = {}
    for name in names:
        engine, _, variant = name.partition(" ")
        if engine == "espeak":
            voices[name] = EspeakSynthesizer(variant)
        elif engine == "flite":
            voices[name] = FliteSynthesizer(variant)
        else:
            from voice.tts.piper import PiperSynthesizer

            voices[name] = PiperSynthesizer()
    return voices


DEVELOPMENT_VOICES = ("espeak en-us", "espeak en-gb", "flite slt", "flite awb")
HELD_OUT_VOICES = ("flite rms", "flite kal16", "espeak en-gb-scotland", "espeak en-029", "piper")
YES_NO_DEVELOPMENT_VOICES = (*DEVELOPMENT_VOICES, "flite rms")
YES_NO_HELD_OUT_VOICES = ("flite kal16", "espeak en-gb-scotland", "espeak en-029", "piper")


def measure_answers(
    recognizer: SpeechRecognizer,
    voices: dict[str, Voice],
    said: Sequence[tuple[str, bool | None]],
) -> list[dict[str, Any]]:
    """Each reply heard freely, then as a call hears it (`ConfirmRecheck`)."""
    recheck = ConfirmRecheck(recognizer)
    rows: list[dict[str, Any]] = []
    for voice_name, voice in voices.items():
        for words, meant in said:
            pcm = _spoken(voice, words)
            first = hear_again(recognizer, pcm)
            started = time.perf_counter()
            # On a call an empty hearing is no turn at all: nothing is heard again.
            again = asyncio.run(recheck.heard_again(first, pcm)) if first else None
            ms = (time.perf_counter() - started) * 1000
            free, final = yes_no(first), yes_no(again) if again is not None else yes_no(first)
            rows.append({
                "voice": voice_name, "said": words, "meant": meant, "first": first,
                "again": again, "free": free, "final": final, "ms": round(ms, 1),
            })  # fmt: skip
    return rows


def _free_again(recognizer: SpeechRecognizer, pcm: Any, first: date | None, today: date) -> str:
    """The free second hearing, with the rules it had in the product."""
    text = hear_again(recognizer, pcm, hints=EXAMPLES, answer="date")
    born = parse_dob(text, today)
    examples = {parse_dob(e, today) for e in EXAMPLES}
    return "" if born is None or born in examples or born == first else text


def measure(
    recognizer: SpeechRecognizer,
    voices: dict[str, Voice],
    said: list[tuple[str, date | None]],
    today: date,
) -> list[dict[str, Any]]:
    recheck = DateRecheck(recognizer, today=lambda: today)
    rows: list[dict[str, Any]] = []
    for voice_name, voice in voices.items():
        for words, born in said:
            pcm = _spoken(voice, words)
            first = hear_again(recognizer, pcm, answer="date")
            first_date = parse_dob(first, today)
            started = time.perf_counter()
            # On a call an empty hearing is no turn at all: nothing is heard again.
            held = asyncio.run(recheck.heard_again(first, pcm)) if first else None
            held_ms = (time.perf_counter() - started) * 1000
            asked_again = bool(first) and (first_date is None or recheck.unlikely(first_date))
            free = _free_again(recognizer, pcm, first_date, today) if asked_again else ""
            final_held = parse_dob(held or first, today)
            final_free = parse_dob(free or first, today)
            rows.append({
                "voice": voice_name, "said": words, "born": born.isoformat() if born else None,
                "first": first, "held": held, "free": free or None,
                "first_ok": first_date == born if born else first_date is None,
                "free_ok": final_free == born if born else final_free is None,
                "held_ok": final_held == born if born else final_held is None,
                "free_wrong": bool(free) and final_free != born,
                "held_wrong": held is not None and final_held != born,
                "second_hearing": asked_again,
                "held_ms": round(held_ms, 1) if asked_again else None,
            })  # fmt: skip
    return rows


def run(recognizer: SpeechRecognizer, today: date) -> dict[str, Any]:
    development = [(ways_to_say(b)[w], b) for b in BIRTHDAYS for w in SPOKEN_WAYS]
    held_out = [(way, b) for b in held_out_birthdays() for way in held_out_ways(b)]
    return {
        "answers_development": measure_answers(
            recognizer, _voices(YES_NO_DEVELOPMENT_VOICES), YES_NO_DEVELOPMENT
        ),
        "answers_held_out": measure_answers(
            recognizer, _voices(YES_NO_HELD_OUT_VOICES), YES_NO_HELD_OUT
        ),
        "today": today.isoformat(),
        "development": measure(
            recognizer, _voices(DEVELOPMENT_VOICES),
            development + [(w, None) for w in NOT_DATES_DEVELOPMENT], today,
        ),
        "held_out": measure(
            recognizer, _voices(HELD_OUT_VOICES),
            held_out + [(w, None) for w in NOT_DATES_HELD_OUT], today,
        ),
    }  # fmt: skip


Rows = list[dict[str, Any]]


def _per_voice(header: list[str], rows: Rows, cells: Callable[[Rows], list[str]]) -> list[str]:
    """A markdown table with a row per voice and one for all voices: `cells` of its rows."""
    lines = ["| voice | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for voice in [*dict.fromkeys(r["voice"] for r in rows), "all"]:
        some = [r for r in rows if voice in ("all", r["voice"])]
        lines.append(f"| {voice} | " + " | ".join(cells(some)) + " |")
    return lines


def _table(rows: list[dict[str, Any]]) -> list[str]:
    def cells(some: list[dict[str, Any]]) -> list[str]:
        dates = [r for r in some if r["born"]]
        none = [r for r in some if not r["born"]]
        n = len(dates)
        times = [r["held_ms"] for r in some if r["held_ms"] is not None]
        return [
            str(n),
            *(_share(_count(dates, key), n) for key in ("first_ok", "free_ok", "held_ok")),
            f"{_count(dates, 'free_wrong')} / {_count(dates, 'held_wrong')}",
            str(len(none)),
            f"{len(none) - _count(none, 'free_ok')} / {len(none) - _count(none, 'held_ok')}",
            f"{statistics.median(times):.0f} ms" if times else "–",
        ]

    header = [
        "dates said", "understood at the first hearing", "+ free second hearing",
        "+ held to dates", "wrong dates: free / held", "answers with no date",
        "made a date: free / held", "second hearing held to dates, median",
    ]  # fmt: skip
    return _per_voice(header, rows, cells)


def _tally(answers: list[dict[str, Any]], key: str, *, opposite: bool = False) -> int:
    """Answers heard as the one meant (or, `opposite`, as the other one)."""
    return sum(r[key] is not None and (r[key] != r["meant"]) == opposite for r in answers)


def _answers_table(rows: list[dict[str, Any]]) -> list[str]:
    def cells(some: list[dict[str, Any]]) -> list[str]:
        answers = [r for r in some if r["meant"] is not None]
        other = [r for r in some if r["meant"] is None]
        median = statistics.median(r["ms"] for r in some) if some else 0
        return [
            str(len(answers)),
            f"{_tally(answers, 'free')} / {_tally(answers, 'final')}",
            f"{_tally(answers, 'free', opposite=True)} / "
            f"{_tally(answers, 'final', opposite=True)}",
            str(len(other)),
            f"{sum(r['free'] is not None for r in other)} / "
            f"{sum(r['final'] is not None for r in other)}",
            f"{median:.0f} ms",
        ]

    header = [
        "answers", "right: free / as a call hears it",
        "the opposite: free / as a call hears it", "other replies",
        "turned into an answer: free / as a call hears it", "heard again, median",
    ]  # fmt: skip
    return _per_voice(header, rows, cells)


def _count(rows: list[dict[str, Any]], key: str) -> int:
    return sum(bool(r[key]) for r in rows)


def _share(k: int, n: int) -> str:
    return f"{k} ({100 * k / n:.0f} %)" if n else "0"


def _misses(rows: list[dict[str, Any]]) -> list[str]:
    return [
        f"- {r['voice']}: \"{r['said']}\" → \"{r['first']}\" → \"{r['held'] or ''}\""
        for r in rows
        if r["born"] and not r["held_ok"]
    ]


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Dates of birth heard as a call hears them",
        "",
        f"Run {results['date']} on {results['machine']} (`clinicline bench --dates`, "
        f"{results['code']}), today {results['today']}. Each answer is spoken by a synthetic "
        "voice, passed through a telephone channel and heard as the answer to \"and the date of "
        "birth?\" is on a call. When the first hearing gives no date (or one over 100 years "
        "ago) it is heard again, freely with dates in the prompt (before) or held to the dates "
        "Whisper can write (now); understood = `parse_dob` gives the date said. Every date heard "
        "is read back to the caller (\"I have … Is that right?\"), so a wrong one costs a turn.",
        "",
        "## Held-out: 20 other birthdays, 5 other ways of saying them, 5 other voices",
        "",
        *_table(results["held_out"]),
        "",
        "## Development: the names bench's 10 birthdays in 6 spoken forms, 4 voices",
        "",
        "The held-to-dates hearing's choices (window, prompt, beam, confidence floor) were "
        "looked at on this set.",
        "",
        *_table(results["development"]),
        "",
        "## Held-out dates still not understood",
        "",
        *_misses(results["held_out"]),
        "",
        "## Yes or no",
        "",
        "The answer to a yes-or-no question (a read-back, a confirmation), heard freely and as a "
        "call now hears it: held to the yes and no answers of `nlu.confirm` and taken from "
        "confidence 0.1 when it says otherwise (`clinicline/callflow/confirm_recheck.py`; "
        "answers over 3 s are left as heard). Other replies (a question, a corrected date, a "
        "symptom) must stay what they are.",
        "",
        "Held-out: other phrasings, four other voices.",
        "",
        *_answers_table(results["answers_held_out"]),
        "",
        "Development: the phrasings and voices the threshold was chosen on.",
        "",
        *_answers_table(results["answers_development"]),
    ]
    return "\n".join(lines) + "\n"


def run_bench_dates(
    args: argparse.Namespace,
    recognizer: SpeechRecognizer,
    today: Callable[[], date] = date.today,
) -> int:
    from clinicline.bench import write_report

    return write_report(args.out, "dates", run(recognizer, today()), markdown)
