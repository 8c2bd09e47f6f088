"""The insurance the EHR has on file for a patient (FHIR `Coverage`), as an agent's screen
shows it: who pays, which plan, the member ID's last four, and until when.

Read live when an agent opens the verified patient's panel, never mirrored into the local
store and never said to the caller: a billing agent sees it before she says hello. Only
coverage in force is shown (status active, its period not over); a resource the EHR writes
oddly gives what can be read of it, never an error for the whole panel.
"""

from __future__ import annotations

from datetime import date
from typing import Any

# The plan's name is in `Coverage.class` under this type (terminology.hl7.org coverage-class).
_PLAN_CLASS = "plan"


def _text(concept: Any) -> str | None:
    """A CodeableConcept or Reference as words: its text or display, else its first coding's."""
    if not isinstance(concept, dict):
        return None
    if concept.get("text") or concept.get("display"):
        return str(concept.get("text") or concept.get("display"))
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return str(coding.get("display") or coding.get("code"))
    return None


def _plan(resource: dict[str, Any]) -> str | None:
    for entry in resource.get("class") or []:
        if not isinstance(entry, dict):
            continue
        codes = [c.get("code") for c in (entry.get("type") or {}).get("coding") or []
                 if isinstance(c, dict)]  # fmt: skip
        if _PLAN_CLASS in codes:
            return str(entry.get("name") or entry.get("value") or "") or None
    return None


def _last_four(member_id: Any) -> str | None:
    digits = str(member_id or "").strip()
    return digits[-4:] if len(digits) >= 4 else None


def in_force(resource: dict[str, Any], today: date) -> bool:
    if resource.get("status") != "active":
        return False
    ends = str((resource.get("period") or {}).get("end") or "")[:10]
    try:
        return not ends or date.fromisoformat(ends) >= today
    except ValueError:
        return True  # an end the EHR wrote oddly: shown, the agent can ask


def summary(resource: dict[str, Any]) -> dict[str, str | None]:
    """One coverage as the panel shows it (the member ID masked to its last four)."""
    payors = resource.get("payor") or []
    return {
        "payer": _text(payors[0]) if payors else None,
        "plan": _plan(resource) or _text(resource.get("type")),
        "member_id_last4": _last_four(resource.get("subscriberId")),
        "until": str((resource.get("period") or {}).get("end") or "")[:10] or None,
    }
