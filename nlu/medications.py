"""Match a spoken medication name against the caller's medication list.

Callers say brands ("Zestril") or generics, ASR mangles rare drug names ("lisinipril",
"a tor va statin"), so windows of the utterance are compared with each candidate's generic
name and its brands, by spelling and by Metaphone code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import jellyfish
from rapidfuzz import fuzz

from nlu.medication_table import BRANDS

_BRAND_TO_GENERIC: dict[str, str] = {b: g for g, brands in BRANDS.items() for b in brands}
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
# A match by form alone is sure enough to name the medication, not to skip asking "is that it?".
FORM_SCORE = 0.8
_MAX_WINDOW = 4
THRESHOLD = 0.72


@dataclass(frozen=True, slots=True)
class MedicationMatch:
    """The candidate the caller meant, how sure, and how it was found."""

    candidate: str
    score: float
    via: str  # "exact" | "brand" | "fuzzy" | "phonetic" | "form"


def generic_name(name: str) -> str | None:
    """The generic for a brand or generic name as written on a list ("Lipitor 20 mg")."""
    key = _known(_drug_words(name))
    if key in BRANDS:
        return key
    return _BRAND_TO_GENERIC.get(key)


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


def _keys(candidate: str) -> list[tuple[str, str]]:
    """(name, kind) pairs a caller could say for a candidate: generic, then brands."""
    drug = _known(_drug_words(candidate))
    generic = _BRAND_TO_GENERIC.get(drug, drug)
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
    for candidate in candidates:
        for key, kind in _keys(candidate):
            for said in windows:
                score, how = _similarity(said, key)
                if kind == "brand":
                    how = "brand" if how == "exact" else how
                if best is None or score > best.score:
                    best = MedicationMatch(candidate, round(score, 3), how)
    if best is not None and best.score >= THRESHOLD:
        return best
    return _by_form(spoken, candidates)


def _by_form(spoken: str, candidates: Sequence[str]) -> MedicationMatch | None:
    """The one candidate of the form the caller named ("my inhaler"), or None when she named
    no form, or when two of her medications have it."""
    named = _FORMS.intersection(_words(spoken))
    if not named:
        return None
    having = [c for c in candidates if named & set(_words(c))]
    return MedicationMatch(having[0], FORM_SCORE, "form") if len(having) == 1 else None
