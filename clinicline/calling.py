"""`clinicline call`: the simulated patient phone, as a command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from clinicline.callcheck import differences
from clinicline.config import Config
from clinicline.errors import ConfigError
from voice.phone.phone import PatientPhone, PhoneTiming
from voice.phone.script import (
    BargeStep,
    CallScript,
    DtmfStep,
    PlayStep,
    SayStep,
    ScriptError,
    Step,
    WaitStep,
    load_script,
    parse_barge,
)
from voice.tts.select import make_voice

# Where the test phones keep the lines they have said (see `RememberedVoice`).
PHONE_LINES = "phone-lines"


def build_script(args: argparse.Namespace) -> CallScript:
    """The script file, then any --say/--play/--dtmf steps, in the order given."""
    try:
        script = load_script(args.script) if args.script else CallScript(steps=())
    except ScriptError as exc:
        raise ConfigError(str(exc)) from exc
    extra: list[Step] = []
    for kind, value in getattr(args, "steps", None) or []:
        if kind == "say":
            extra.append(SayStep(value))
        elif kind == "play":
            extra.append(PlayStep(Path(value)))
        elif kind == "wait":
            extra.append(WaitStep(float(value)))
        elif kind == "wait-for":
            seconds, _, path = str(value).partition(":")
            try:
                limit = float(seconds)
            except ValueError:
                limit = -1.0
            if limit < 0 or not path:
                raise ConfigError(f"--wait-for takes SECONDS:FILE, got {value!r}")
            extra.append(WaitStep(limit, until=Path(path)))
        elif kind in ("barge", "say-after"):
            extra.append(parse_barge(value, from_bot=kind == "barge"))
        else:
            extra.append(DtmfStep(value, "sip_info" if args.info_dtmf else "rfc2833"))
    return CallScript(
        steps=script.steps + tuple(extra),
        caller=args.caller or script.caller,
        expect=script.expect,
        patient=script.patient,
    )


async def fetch_record(config: Config, call_id: str, wait: float = 10.0) -> dict[str, Any] | None:
    """The server's record of the call, once the server has closed it."""
    from integrations.errors import NotFound
    from integrations.services.call_report import call_report
    from integrations.store import Database

    db = await Database.connect(config.db)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        report: dict[str, Any] | None = None
        while loop.time() < deadline:
            try:
                async with db.session() as s:
                    report = await call_report(s, call_id)
                if report.get("ended"):
                    return report
            except NotFound:
                pass
            await asyncio.sleep(0.25)
        return report
    finally:
        await db.dispose()


async def run_call(args: argparse.Namespace, config: Config) -> int:
    script = build_script(args)
    voice = await asyncio.to_thread(make_voice, args.voice, config.data_dir / PHONE_LINES)
    # Every line is ready before the phone dials: a line rendered mid-call (Piper loading
    # first) kept one caller quiet past the clinic's silence timeout on a loaded machine.
    lines = [s.text for s in script.steps if isinstance(s, SayStep | BargeStep)]
    await asyncio.to_thread(lambda: [list(voice.synthesize(line)) for line in lines])
    timing = PhoneTiming(
        barge_in_after=args.barge_in_after,
        hangup_after=args.hangup_after,
        final_listen=args.listen,
        turn_max=args.turn_max,
    )
    phone = PatientPhone(
        voice, caller=script.caller, timing=timing, accept_refer=not args.refuse_refer
    )
    log = await phone.call(args.to, script, recording=args.record)
    if not args.no_transcribe and log.connected:
        from voice.asr.whisper import WhisperRecognizer

        recognizer = await asyncio.to_thread(WhisperRecognizer)
        await asyncio.to_thread(phone.transcribe, recognizer)
    output: dict[str, Any] = log.to_json()
    status = 0 if log.connected else 1
    if args.check:
        record = await fetch_record(config, log.call_id) if log.call_id else None
        problems = (
            ["no call record found"] if record is None else differences(script.expect, record)
        )
        output["check"] = {"passed": not problems, "differences": problems}
        if problems:
            status = 1
    json.dump(output, sys.stdout, indent=2, default=str)
    print()
    return status


async def run_answer(args: argparse.Namespace, config: Config) -> int:
    """`clinicline answer`: take transferred calls as a test agent and print what happened."""
    from clinicline.config import HostPort
    from voice.phone.answering import AnsweringPhone

    where = HostPort.parse(args.listen)
    voice = await asyncio.to_thread(make_voice, "piper", config.data_dir / PHONE_LINES)
    if args.say:
        await asyncio.to_thread(lambda: list(voice.synthesize(args.say)))
    phone = AnsweringPhone(
        voice,
        where.host,
        where.port,
        user=args.user,
        answer_after=args.answer_after,
        mode=args.mode,
        say=args.say,
        stay=args.stay,
        accept_replaces=not args.refuse_replaces,
        accept_key=None if args.accept_key in ("", "none") else args.accept_key,
        accept_after=args.accept_after,
    )
    log = await phone.run(calls=args.calls, timeout=args.timeout)
    if not args.no_transcribe and any(c.answered for c in log.calls):
        from voice.asr.whisper import WhisperRecognizer

        recognizer = await asyncio.to_thread(WhisperRecognizer)
        await asyncio.to_thread(phone.transcribe, recognizer)
    json.dump(log.to_json(), sys.stdout, indent=2, default=str)
    print()
    return 0 if log.calls else 1
