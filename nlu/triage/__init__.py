"""Red-flag triage: deterministic rules that decide whether a caller needs a human now."""

from nlu.triage.engine import TriageEngine
from nlu.triage.errors import LexiconError
from nlu.triage.model import Flag, Level, TriageResult

__all__ = ["Flag", "LexiconError", "Level", "TriageEngine", "TriageResult"]
