"""The dialer: places the calls of running campaigns from a voice worker, within the rules.

Every worker process runs one. Each tick it may claim one due target from the store
(`integrations.services.campaigns.claim_next`: windows, do-not-call, pace, retries are decided
there, for every process alike) — but only while the worker has room: at most
`outbound_slots` campaign calls at once, and never the last slots, which stay for inbound
callers and for a transfer's consult leg. Inbound calls are never refused for a campaign.

A call's end is always written: the attempt's result (busy, no answer, dead air, a person,
a voicemail box) and, once the target is over, its outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from clinicline.outbound.conversation import (
    ClinicLine,
    Outreach,
    OutreachConversation,
    VoicemailConversation,
)
from integrations.ehr.desk import AppointmentDesk
from integrations.ehr.sync import EhrSync
from integrations.services.campaigns import CallBack, Dial, claim_next, settle_attempt
from integrations.store import Database
from voice.audio.amd import AmdResult, Verdict
from voice.session.actions import CallInfo
from voice.session.conversation import CallRecorder, Conversation
from voice.worker import OutboundCall, VoiceWorker

log = logging.getLogger(__name__)

_BUSY = {486, 600, 603}
_NO_ANSWER = {408, 480, 487}


@dataclass(frozen=True)
class DialerSettings:
    trunk: str  # a SIP URI template with {number}: "sip:{number}@gateway.example"
    line: ClinicLine
    clinic_zone: ZoneInfo
    slots: int = 1  # campaign calls at once on this worker
    ring_timeout: float = 25.0
    every: float = 1.0


def attempt_result(call: OutboundCall, outcome: str | None) -> str:
    """One dial's result from how the call went (see `campaigns.RETRYABLE`)."""
    if not call.answered:
        if call.status in _BUSY:
            return "busy"
        if call.status in _NO_ANSWER:
            return "no_answer"
        return "failed"
    if call.amd is None or call.amd.verdict is Verdict.SILENCE:
        return "dead_air"
    if outcome == "voicemail_left":
        return "voicemail"
    return "answered" if outcome is not None else "hung_up"


class Dialer:
    def __init__(
        self,
        *,
        db: Database,
        worker: VoiceWorker,
        settings: DialerSettings,
        conversation_kwargs: Callable[[CallInfo], dict[str, Any]],
        recorder: CallRecorder,
        ehr: EhrSync | None = None,
    ) -> None:
        self.db, self.worker, self.settings = db, worker, settings
        self.conversation_kwargs = conversation_kwargs
        self.recorder = recorder
        self.desk = AppointmentDesk(db, ehr)
        self._calls: set[asyncio.Task[str | None]] = set()

    def room(self) -> bool:
        """True while one more campaign call leaves a slot for an inbound caller and the
        consult-leg reserve."""
        return len(self._calls) < self.settings.slots and self.worker.room_to_call_out

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.tick()
                except Exception:  # the store may be down: campaigns wait, calls go on
                    log.exception("dialer tick failed")
                await asyncio.sleep(self.settings.every)
        finally:
            for task in self._calls:
                task.cancel()
            if self._calls:
                await asyncio.gather(*self._calls, return_exceptions=True)

    async def tick(self, now: datetime | None = None) -> Dial | None:
        """Claim and start one call if there is room and something is due."""
        if not self.room():
            return None
        async with self.db.session() as s:
            dial = await claim_next(
                s,
                now=now or datetime.now(UTC),
                clinic_zone=self.settings.clinic_zone,
                worker=self.worker.name,
            )
        if dial is not None:
            task = asyncio.create_task(self.call(dial), name=f"campaign-{dial.attempt_id}")
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
        return dial

    async def call(self, dial: Dial) -> str | None:
        """Place one campaign call and write how it ended; returns the target's outcome."""
        outreach = Outreach(
            kind=dial.kind,
            patient_id=dial.patient_id,
            appointment_id=dial.appointment_id,
            number=dial.number,
            first_name=dial.first_name,
            voicemail_first_name=dial.voicemail_first_name,
        )
        log.info(
            "campaign call", extra={"campaign_id": dial.campaign_id, "attempt": dial.attempt_id}
        )

        def choose(info: CallInfo, amd: AmdResult) -> Conversation | None:
            if amd.verdict is Verdict.SILENCE:
                return None
            kwargs = self.conversation_kwargs(info)
            line = self.settings.line
            if amd.verdict is Verdict.MACHINE:
                return VoicemailConversation(outreach=outreach, line=line, **kwargs)
            return OutreachConversation(outreach=outreach, line=line, desk=self.desk, **kwargs)

        uri = self.settings.trunk.format(number=dial.number)
        try:
            placed = await self.worker.call_out(
                uri, number=dial.number, choose=choose, ring_timeout=self.settings.ring_timeout
            )
        except asyncio.CancelledError:
            await self._settle(dial, "failed", None, None, None)  # the worker is stopping
            raise
        except Exception:
            log.exception("campaign call %s failed", dial.attempt_id)
            placed = OutboundCall(status=500)
        conversation = placed.conversation
        outcome = getattr(conversation, "outcome", None) if conversation is not None else None
        opted_out = bool(getattr(conversation, "opted_out", False))
        result = attempt_result(placed, outcome)
        later = getattr(conversation, "call_later", None)
        call_back = None
        if later is not None and outcome is None and result == "hung_up":
            result = "call_later"
            call_back = CallBack(later.after, later.before, later.tomorrow)
        call_id = placed.call.call_id if placed.call is not None else None
        await self._note_detection(placed)
        return await self._settle(
            dial, result, placed.status, call_id, outcome, opted_out=opted_out, call_back=call_back
        )

    async def _note_detection(self, placed: OutboundCall) -> None:
        """Who answered, on the call's record (through its recorder, which retries); dead air
        and calls nobody answered have no record, their attempt says it."""
        amd = placed.amd
        if amd is None or placed.call is None or placed.conversation is None:
            return
        data: dict[str, object] = {
            "verdict": amd.verdict.value,
            "reason": amd.reason,
            "decided_ms": amd.decided_ms,
            "greeting_ms": amd.greeting_ms,
            "cue": placed.cue,
            "late_beep_ms": placed.late_beep_ms,
        }
        await self.recorder.event(placed.call, "answering_machine_detection", data)

    async def _settle(
        self,
        dial: Dial,
        result: str,
        status: int | None,
        call_id: str | None,
        outcome: str | None,
        *,
        opted_out: bool = False,
        call_back: CallBack | None = None,
    ) -> str | None:
        for attempt in range(5):  # the record of the attempt must not be lost to a blip
            try:
                async with self.db.session() as s:
                    return await settle_attempt(
                        s,
                        dial,
                        result=result,
                        sip_status=status,
                        call_id=call_id,
                        outcome=outcome,
                        clinic_zone=self.settings.clinic_zone,
                        opted_out=opted_out,
                        call_back=call_back,
                    )
            except Exception:
                log.exception("campaign attempt %s not settled yet", dial.attempt_id)
                await asyncio.sleep(0.5 * 2**attempt)
        return None  # its claim lapses and the target is dialled again (`CLAIM_HOLD`)
