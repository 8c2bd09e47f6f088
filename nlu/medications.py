"""Match a spoken medication name against the caller's medication list.

Callers say brands ("Zestril") or generics, ASR mangles rare drug names ("lisinipril",
"a tor va statin"), so windows of the utterance are compared with each candidate's generic
name and its brands, by spelling and by Metaphone code. The list is the caller's own and
short: a name heard worse than the threshold still names the one medication it is clearly
closest to ("the imprecastatin" for atorvastatin beside amlodipine). Callers also say what a
medicine is for ("my cholesterol pill") or its form ("my inhaler"): that names it when one
medication on the list fits. Every match but a sure one is confirmed with the caller by the
refill dialog before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import jellyfish
from rapidfuzz import fuzz, process

from nlu.medication_table import BRANDS, USES

_BRAND_TO_GENERIC: dict[str, str] = {b: g for g, brands in BRANDS.items() for b in brands}
_ALL_NAMES = sorted({*BRANDS, *_BRAND_TO_GENERIC})
_FILLER_WORDS = (
    "i my the a an of for on and to please need needs want refill refills refilled renew "
    "prescription script medication medicine meds pill pills tablet tablets capsule capsules "
    "mg milligram milligrams mcg microgram units unit dose daily er xr sr xl dr extended release "
    "inhaler cream my his her some more out ran run running am is it that this called uh um "
    "can get have be"
)
_FILLER = frozenset(_FILLER_WORDS.split())
# Forms callers name a medication by when it is the only one of its kind they take ("my
# inhaler" for "albuterol inhaler 90 mcg"); pills are too common to say which one.
_FORMS = frozenset(
    [
        "inhaler",
        "cream",
        "ointment",
        "patch",
        "drops",
        "spray",
        "injection",
        "pen",
        "insulin",
        "gel",
        "nebulizer",
    ]
)
# A match by form or use alone is sure enough to name the medication, not to skip asking "is
# that it?".
FORM_SCORE = 0.8
USE_SCORE = 0.8
_MAX_WINDOW = 4
THRESHOLD = 0.72
# Below THRESHOLD, the best candidate still counts when it scores this much and leads every
# other candidate by MARGIN, on words of at least NEAR_LETTERS letters.
NEAR = 0.6
MARGIN = 0.2
NEAR_LETTERS = 6


@dataclass(frozen=True, slots=True)
class MedicationMatch:
    """The candidate the caller meant, how sure, and how it was found."""

    candidate: str
    score: float
    via: str  # "exact" | "brand" | "fuzzy" | "phonetic" | "near" | "use" | "form"


def generic_name(name: str) -> str | None:
    """The generic for a brand or generic name as written on a list ("Lipitor 20 mg")."""
    key = _known(_drug_words(name))
    if key in BRANDS:
        return key
    return _BRAND_TO_GENERIC.get(key)


def named_drug(text: str) -> str | None:
    """A drug the words name, as the table spells it ("metformin", "glucophage"), whether or
    not it is on anyone's list; None when they name none the table knows. A long word spelled
    close to one counts ("methformin", as whisper wrote espeak-ng's metformin on a call)."""
    words = _words(text)
    for size in (3, 2, 1):
        for start in range(len(words) - size + 1):
            said = " ".join(words[start : start + size])
            if said in BRANDS or said in _BRAND_TO_GENERIC:
                return said
    for word in words:
        if len(word) >= NEAR_LETTERS and word not in _FILLER:
            close = process.extractOne(word, _ALL_NAMES, scorer=fuzz.ratio, score_cutoff=85)
            if close is not None:
                return str(close[0])
    return None


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower().replace("-", " ").replace("/", " "))


def _drug_words(name: str) -> str:
    """The drug part of a list entry: words before the strength, without dosage forms."""
    head = re.split(r"\d", name.lower(), maxsplit=1)[0]
    return " ".join(w for w in _words(head) if w not in _FILLER)


def _known(drug: str) -> str:
    """The longest leading words of a list entry that the table knows ("albuterol hfa")."""
    words = drug.split()
    for size in range(len(words), 0, -1):
        head = " ".join(words[:size])
        if head in BRANDS or head in _BRAND_TO_GENERIC:
            return head
    return drug


def _drug_and_generic(candidate: str) -> tuple[str, str]:
    """A list entry's drug words as written ("lipitor") and the generic they name."""
    drug = _known(_drug_words(candidate))
    return drug, _BRAND_TO_GENERIC.get(drug, drug)


def _keys(candidate: str) -> list[tuple[str, str]]:
    """(name, kind) pairs a caller could say for a candidate: generic, then brands."""
    drug, generic = _drug_and_generic(candidate)
    keys = [(drug, "generic")]
    if generic != drug:
        keys.append((generic, "generic"))
    keys += [(brand, "brand") for brand in BRANDS.get(generic, ())]
    return [(k, kind) for k, kind in keys if k]


def _windows(words: list[str]) -> list[str]:
    out = []
    for size in range(1, _MAX_WINDOW + 1):
        for start in range(len(words) - size + 1):
            out.append("".join(words[start : start + size]))
    return out


def _similarity(said: str, key: str) -> tuple[float, str]:
    key = key.replace(" ", "")
    if said == key:
        return 1.0, "exact"
    spelled = fuzz.ratio(said, key) / 100.0
    code_said, code_key = jellyfish.metaphone(said), jellyfish.metaphone(key)
    sound = fuzz.ratio(code_said, code_key) / 100.0 if code_said and code_key else 0.0
    blended = 0.5 * spelled + 0.5 * sound
    return (spelled, "fuzzy") if spelled >= blended else (blended, "phonetic")


def match_medication(spoken: str, candidates: Sequence[str]) -> MedicationMatch | None:
    """The candidate the caller named, or None when nothing is close enough.

    Candidates are entries of the caller's medication list ("Lisinopril 10 mg tablet").
    """
    words = [w for w in _words(spoken) if w not in _FILLER]
    if not words or not candidates:
        return None
    windows = _windows(words)
    best: MedicationMatch | None = None
    best_of: dict[str, float] = {}  # each candidate's best score on words long enough to judge
    for candidate in candidates:
        for key, kind in _keys(candidate):
            for said in windows:
                score, how = _similarity(said, key)
                if kind == "brand":
                    how = "brand" if how == "exact" else how
                if best is None or score > best.score:
                    best = MedicationMatch(candidate, round(score, 3), how)
                if len(said) >= NEAR_LETTERS:
                    best_of[candidate] = max(best_of.get(candidate, 0.0), score)
    if best is not None and best.score >= THRESHOLD:
        return best
    return _clear_leader(best_of) or _by_use(spoken, candidates) or _by_form(spoken, candidates)


def _clear_leader(best_of: dict[str, float]) -> MedicationMatch | None:
    """The candidate far closer to the words than any other, though not close enough alone."""
    ranked = sorted(best_of.items(), key=lambda kv: kv[1], reverse=True)
    if not ranked or ranked[0][1] < NEAR:
        return None
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if ranked[0][1] - runner_up < MARGIN:
        return None
    return MedicationMatch(ranked[0][0], round(ranked[0][1], 3), "near")


def _by_use(spoken: str, candidates: Sequence[str]) -> MedicationMatch | None:
    """The one candidate for what the caller said the medicine is for ("my cholesterol
    pill"), or None when she named no use, or when two of her medications have it."""
    said = f" {' '.join(_words(spoken))} "
    generics = {g for use, gs in USES.items() if f" {use} " in said for g in gs}
    if not generics:
        return None
    having = [c for c in candidates if _drug_and_generic(c)[1] in generics]
    return MedicationMatch(having[0], USE_SCORE, "use") if len(having) == 1 else None


def _by_form(spoken: str, candidates: Sequence[str]) -> MedicationMatch | None:
    """The one candidate of the form the caller named ("my inhaler"), or None when she named
    no form, or when two of her medications have it."""
    named = _FORMS.intersection(_words(spoken))
    if not named:
        return None
    having = [c for c in candidates if named & set(_words(c))]
    return MedicationMatch(having[0], FORM_SCORE, "form") if len(having) == 1 else None
