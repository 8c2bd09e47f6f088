"""A measuring dialog: records what triage makes of each transcript, and never acts on it.

`clinicline serve --dialog triage-probe` with CLINICLINE_TRIAGE_PROBE_LOG=FILE appends one
JSON line per screened transcript (partial or final): the lexicon's verdict and, on finals,
the verdict with the safety net. It answers each turn with one short word so the calling
phone knows it may speak its next line, so one call can carry many utterances. Used by
`clinicline bench --triage-speech`; the transcripts it writes are the benchmark's own
synthetic lines, never a patient's (the mode is not for real calls).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from clinicline.callflow.echo import DiagnosticDialog
from nlu.triage import TriageEngine
from voice.session.actions import Action, CallerTurn, CallInfo, CallOutcome, Hangup, Say
from voice.session.phase import CallPhase

PROBE_LOG_ENV = "CLINICLINE_TRIAGE_PROBE_LOG"


class TriageProbeConversation(DiagnosticDialog):
    def __init__(self, triage: TriageEngine, log_path: Path) -> None:
        self.triage = triage
        self.log_path = log_path
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, triage: TriageEngine) -> TriageProbeConversation:
        path = os.environ.get(PROBE_LOG_ENV)
        if not path:
            raise RuntimeError(f"--dialog triage-probe needs {PROBE_LOG_ENV}=FILE")
        return cls(triage, Path(path))

    async def start(self, call: CallInfo) -> Sequence[Action]:
        return [Say("Ready.")]

    def screen(
        self, call: CallInfo, text: str, final: bool, phase: CallPhase = CallPhase.LISTENING
    ) -> Sequence[Action]:
        lexicon = self.triage.assess(text)
        together = self.triage.assess_final(text) if final else lexicon
        self._write({
            "call_id": call.call_id,
            "final": final,
            "phase": str(phase),
            "text": text,
            "lexicon": str(lexicon.level),
            "together": str(together.level),
            "categories": together.categories,
            "net": together.to_json()["net"],
            "symptom": lexicon.symptom,
        })  # fmt: skip
        return []

    async def respond(self, call: CallInfo, turn: CallerTurn) -> Sequence[Action]:
        if (turn.text or "").strip().lower().rstrip(".!") in {"goodbye", "bye", "good bye"}:
            return [Hangup("caller said goodbye")]
        return [Say("Next.")]

    async def silence(self, call: CallInfo, count: int) -> Sequence[Action]:
        # The phone may take a while to synthesise a long line: only a long silence ends it.
        return [Hangup("silence")] if count >= 10 else []

    async def finish(self, call: CallInfo, outcome: CallOutcome) -> str | None:
        return "info_given"

    def _write(self, entry: dict[str, object]) -> None:
        with self._lock, self.log_path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
