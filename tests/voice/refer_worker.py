"""A test-only voice worker for attended transfer by REFER with Replaces (test_refer.py).

Run as ``python -m tests.voice.refer_worker --sip HOST:PORT --agent URI --db URL``. It is the
product's `VoiceWorker` with the real speech plant and store recorder, but a tiny dialog: each
call hears the hold prompt, then a consult leg rings AGENT, the agent hears a whispered
summary, and the worker calls `VoiceWorker.refer_replaces`. When the REFER fails it bridges
the two legs instead (the fallback) and keeps them until either side leaves.

Each step is printed on stdout as one JSON line (`{"event": ..., "at": <unix time>, ...}`),
so the test can follow the worker without a web app. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence

import numpy as np

from clinicline.callflow.echo import EchoConversation
from clinicline.callflow.recorder import StoreRecorder
from clinicline.config import HostPort, load_config
from clinicline.health import Health
from clinicline.speech import load_speech
from integrations.store import Database
from nlu.triage import TriageEngine
from voice.session.actions import Action, CallInfo, CallOutcome, Hangup, PlayPrompt, Transfer
from voice.session.call_session import CallSession, SessionConfig
from voice.worker import VoiceWorker

WHISPER = "Transfer test. The caller asks about a headache."


def emit(event: str, **data: object) -> None:
    print(json.dumps({"event": event, "at": time.time(), **data}), flush=True)


class HoldThenTransfer(EchoConversation):
    """The hold prompt, then straight to the transfer; 'transferred' once referred."""

    async def start(self, call: CallInfo) -> Sequence[Action]:
        return [PlayPrompt("hold", barge_in=False), Transfer("nurse", "refer test")]

    async def finish(self, call: CallInfo, outcome: CallOutcome) -> str | None:
        emit("session_finished", hung_up_by=outcome.hung_up_by, reason=outcome.reason)
        if outcome.hung_up_by == "referred":
            return "transferred"
        return await super().finish(call, outcome)


class ReferTransfer:
    """Consult leg, whisper, REFER with Replaces; bridge when the REFER fails."""

    def __init__(self, worker: VoiceWorker, agent_uri: str) -> None:
        self.worker = worker
        self.agent_uri = agent_uri
        self.referred = asyncio.Event()

    def counts(self) -> dict[str, int]:
        return {"sip_calls": self.worker.sip_calls, "active_calls": self.worker.active_calls}

    async def transfer(self, session: CallSession, action: Transfer) -> None:
        call_id = session.call.call_id
        consult = await self.worker.dial(self.agent_uri, {}, 15.0, give_up=session.caller_gone)
        emit("consult", answered=consult.answered.is_set(), status=consult.status)
        if not consult.answered.is_set() or consult.ended.is_set():
            return
        chunks = await asyncio.to_thread(lambda: list(session.synthesizer.synthesize(WHISPER)))
        consult.speak(np.concatenate(chunks))
        await consult.drained()
        emit("whispered", **self.counts())
        started = time.monotonic()
        ok = await self.worker.refer_replaces(call_id, consult)
        emit("refer", ok=ok, seconds=round(time.monotonic() - started, 2), **self.counts())
        if ok:
            self.referred.set()
            return
        bridged = self.worker.bridge(call_id, consult)
        emit("bridged", ok=bridged, **self.counts())
        gone = asyncio.ensure_future(session.caller_gone.wait())
        left = asyncio.ensure_future(consult.ended.wait())
        await asyncio.wait([gone, left], return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        left.cancel()
        consult.hangup()
        if not session.caller_gone.is_set():
            await session.perform([Hangup("agent ended the call")])


async def watch_idle(worker: VoiceWorker, transfer: ReferTransfer) -> None:
    """Once a REFER succeeded: report when the worker holds no call at all."""
    await transfer.referred.wait()
    while worker.sip_calls or worker.active_calls:
        await asyncio.sleep(0.05)
    emit("idle", sip_calls=worker.sip_calls, active_calls=worker.active_calls)


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="refer_worker")
    parser.add_argument("--sip", required=True)
    parser.add_argument("--agent", required=True, help="the agent phone's SIP URI")
    parser.add_argument("--db", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    where = HostPort.parse(args.sip)
    config = load_config(overrides={"db": args.db, "sip": args.sip})
    db = await Database.connect(config.db)
    await db.migrate()
    recorder = StoreRecorder(db)
    recorder.start()
    triage = TriageEngine.default()
    plant = await load_speech(config, Health())

    def conversation(call: CallInfo) -> HoldThenTransfer:
        recorder.open(call)
        return HoldThenTransfer(triage)

    worker = VoiceWorker(
        where.host,
        where.port,
        plant=plant,
        conversation_factory=conversation,
        recorder=recorder,
        session_config=SessionConfig(silence_timeout=30.0),
        name="refer-test",
    )
    transfer = ReferTransfer(worker, args.agent)
    worker.transfer = transfer
    await worker.start()
    watcher = loop.create_task(watch_idle(worker, transfer))
    emit("ready", call_cap=worker.call_cap)
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        await worker.stop()
        await recorder.stop()
        await db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
