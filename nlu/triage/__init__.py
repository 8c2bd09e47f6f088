"""Red-flag triage: deterministic rules first, a semantic safety net behind them, and a symptom
signal for the dialog's screening question."""

from nlu.triage.engine import TriageEngine
from nlu.triage.errors import LexiconError
from nlu.triage.model import Flag, Level, NetMatch, TriageResult
from nlu.triage.net import SafetyNet

__all__ = ["Flag", "LexiconError", "Level", "NetMatch", "SafetyNet", "TriageEngine", "TriageResult"]
