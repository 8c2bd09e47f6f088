"""A bank of simulated patients' phones that answer the clinic's outbound calls.

One pjsua2 endpoint listens on HOST:PORT (the far side of a SIP trunk URI template such as
``sip:{number}@127.0.0.1:5090``) and treats each INVITE by the number dialed, the user part
of its Request-URI, as a plan says: a person who answers and talks (`human`), a voicemail
box that plays a greeting and a beep and records the message (`voicemail`), a busy line
(486), a phone nobody picks up (180 until the caller gives up), a failing line (503). A
number not in the plan gets 404. Each call is logged; what was heard is transcribed once
the bank has stopped, off the media path.

pjsua2 holds at most 4 calls per process: a fifth call at the same time is refused by pjsua
itself (counted in the log as `refused_over_cap`).

The plan (YAML)::

    numbers:
      "+15550100001":                 # quote numbers: YAML would read +1555… as an integer
        kind: human
        answer_after: 1.5             # seconds of ringing before pickup (default 1.5)
        lines:                        # the first at once on pickup, each next one once the
          - Hello?                    # caller has spoken and fallen quiet
          - say: Yes, this is Sam.
          - dtmf: "1"
          - wait: 2
        hangup_after: 60              # optional: hang up this long after pickup
      "+15550100002":
        kind: voicemail
        greeting: You have reached Sam. Please leave a message after the tone.
        record_seconds: 30            # default 30
        beep_hz: 1000                 # default 1000
        beep_seconds: 0.5             # default 0.5
        beep_after: 2.0               # quiet between greeting and beep (default 0: none)
      "+15550100003": busy            # 486 Busy Here at once
      "+15550100004": no_answer       # 180 Ringing, never answered
      "+15550100005": fail            # 503 Service Unavailable
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import yaml

from voice.audio.frames import SAMPLE_RATE
from voice.phone.arguments import add_callees_arguments
from voice.phone.phone import (
    Listener,
    Transcriber,
    Voice,
    _describe,
    speak_step,
    transcribe_speech,
    trim_silence,
    wait_bot_done,
)
from voice.phone.script import (
    DtmfStep,
    PlayStep,
    SayStep,
    ScriptError,
    Step,
    WaitStep,
    _step,
)
from voice.sip.account import create_account
from voice.sip.call import CallEvents, SipCall, answer, call_ref
from voice.sip.endpoint import SipEndpoint, _stdout_to_stderr
from voice.sip.media import MediaTap, TapPool
from voice.tts.select import make_voice

log = logging.getLogger(__name__)

KINDS = ("human", "voicemail", "busy", "no_answer", "fail")
REFUSALS = {"busy": 486, "fail": 503}
NOT_FOUND = 404
DEFAULT_GREETING = "You have reached this number. Please leave a message after the tone."
FRAME_S = 0.02

_COMMON_KEYS = {"kind", "answer_after"}
_KEYS = {
    "human": _COMMON_KEYS | {"lines", "hangup_after"},
    "voicemail": _COMMON_KEYS
    | {"greeting", "record_seconds", "beep_hz", "beep_seconds", "beep_after"},
    "busy": {"kind"},
    "no_answer": {"kind"},
    "fail": {"kind"},
}


class PlanError(ValueError):
    """The plan cannot be used; the message says which number and why."""


@dataclass(frozen=True)
class Behaviour:
    """How one number behaves when called (see the module docstring for the plan)."""

    kind: str
    answer_after: float = 1.5
    lines: tuple[Step, ...] = (SayStep("Hello?"),)  # human
    hangup_after: float | None = None  # human: hang up this long after pickup
    greeting: str = DEFAULT_GREETING  # voicemail
    record_seconds: float = 30.0
    beep_hz: float = 1000.0
    beep_seconds: float = 0.5
    beep_after: float = 0.0  # voicemail: quiet between the greeting and its beep

    def texts(self) -> Iterator[str]:
        """What this number will say aloud (to render before the first call)."""
        if self.kind == "human":
            yield from (s.text for s in self.lines if isinstance(s, SayStep))
        elif self.kind == "voicemail":
            yield self.greeting


# -- the plan -------------------------------------------------------------------------------


def normal_number(number: str) -> str:
    """A dialed user part as the plan knows it: %-escapes decoded and, for a telephone
    number, the visual separators of RFC 3966 (space - . ( )) dropped."""
    text = unquote(number).strip()
    bare = re.sub(r"[\s().-]", "", text)
    return bare if re.fullmatch(r"\+?[0-9*#]+", bare) else text


def load_plan(path: Path | str) -> dict[str, Behaviour]:
    """Read a plan file: the dialed number (normalised) -> its behaviour."""
    path = Path(path)
    try:
        # BaseLoader: every scalar stays text, so "+15550100001" and "0123" keep their form.
        data = yaml.load(path.read_text(), Loader=yaml.BaseLoader)  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        raise PlanError(f"cannot read plan {path}: {exc}") from exc
    return parse_plan(data, base=path.parent, where=str(path))


def parse_plan(data: Any, base: Path = Path("."), where: str = "plan") -> dict[str, Behaviour]:
    """Validate a plan already read from YAML (all scalars as strings or numbers)."""
    if not isinstance(data, dict) or not isinstance(data.get("numbers"), dict):
        raise PlanError(f"{where}: a plan is a mapping with a 'numbers:' mapping")
    if set(data) - {"numbers"}:
        raise PlanError(f"{where}: unknown top-level keys {sorted(set(data) - {'numbers'})}")
    if not data["numbers"]:
        raise PlanError(f"{where}: 'numbers:' is empty")
    plan: dict[str, Behaviour] = {}
    for raw, entry in data["numbers"].items():
        number = normal_number(str(raw))
        if not number or re.search(r"[\s@;:<>]", number):
            raise PlanError(f"{where}: {raw!r} is not a number (a SIP user part)")
        if number in plan:
            raise PlanError(f"{where}: {raw!r} appears twice")
        plan[number] = _behaviour(entry, base, f"{where}: number {raw}")
    return plan


def _behaviour(entry: Any, base: Path, where: str) -> Behaviour:
    if isinstance(entry, str):
        entry = {"kind": entry}
    if not isinstance(entry, dict):
        raise PlanError(f"{where}: expected a kind ({', '.join(KINDS)}) or a mapping")
    kind = str(entry.get("kind", ""))
    if kind not in KINDS:
        raise PlanError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = set(entry) - _KEYS[kind]
    if unknown:
        raise PlanError(f"{where}: {kind} does not take {', '.join(sorted(map(str, unknown)))}")
    values: dict[str, Any] = {"kind": kind}
    seconds = ("answer_after", "record_seconds", "beep_hz", "beep_seconds", "hangup_after",
               "beep_after")  # fmt: skip
    for key in seconds:
        if key in entry:
            zero_ok = key in ("answer_after", "beep_after")
            values[key] = _seconds(entry[key], f"{where}: {key}", zero_ok=zero_ok)
    if values.get("beep_hz", 1000.0) >= SAMPLE_RATE / 2:
        raise PlanError(f"{where}: beep_hz must be below {SAMPLE_RATE // 2} (8 kHz audio)")
    if "greeting" in entry:
        greeting = entry["greeting"]
        if not isinstance(greeting, str) or not greeting.strip():
            raise PlanError(f"{where}: greeting must be text")
        values["greeting"] = greeting.strip()
    if "lines" in entry:
        values["lines"] = _lines(entry["lines"], base, where)
    return Behaviour(**values)


def _seconds(value: Any, where: str, *, zero_ok: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise PlanError(f"{where} must be a number, got {value!r}") from exc
    if not np.isfinite(number) or number < 0 or (number == 0 and not zero_ok):
        raise PlanError(f"{where} must be {'0 or more' if zero_ok else 'above 0'}, got {value!r}")
    return number


def _lines(value: Any, base: Path, where: str) -> tuple[Step, ...]:
    if not isinstance(value, list) or not value:
        raise PlanError(f"{where}: lines must be a non-empty list")
    steps: list[Step] = []
    for index, entry in enumerate(value):
        try:
            step = _step(entry, index, base)
        except ScriptError as exc:
            raise PlanError(f"{where}: lines[{index}]: {str(exc).partition(': ')[2]}") from exc
        if not isinstance(step, SayStep | DtmfStep | WaitStep | PlayStep):
            raise PlanError(
                f"{where}: lines[{index}]: a callee line is say, dtmf, wait or play, got {entry!r}"
            )
        steps.append(step)
    return tuple(steps)


# -- the INVITE -----------------------------------------------------------------------------

_REQUEST_LINE = re.compile(r"^\s*INVITE\s+(?:sips?|tel):([^@;>?\s]+)", re.IGNORECASE)
# Headers that say who calls and why: kept with every X- header, to check what the clinic
# puts in SIP (no patient data belongs there).
KEPT_HEADERS = (
    "From",
    "To",
    "Contact",
    "Subject",
    "Call-Info",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Remote-Party-ID",
    "User-Agent",
    "Record-Route",  # a proxy on the way (the site's front, for a cluster's campaign calls)
)
_COMPACT = {"f": "From", "t": "To", "m": "Contact", "s": "Subject", "i": "Call-ID"}


def dialed_number(message: str) -> str | None:
    """The user part of the INVITE's Request-URI (None when it has none)."""
    match = _REQUEST_LINE.match(message)
    return unquote(match.group(1)) if match else None


def _header_lines(message: str) -> Iterator[tuple[str, str]]:
    head = re.split(r"\r?\n\r?\n", message, maxsplit=1)[0]
    lines = re.split(r"\r?\n", head)[1:]  # after the request line
    unfolded: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        else:
            unfolded.append(line)
    for line in unfolded:
        name, sep, value = line.partition(":")
        if sep:
            name = name.strip()
            yield _COMPACT.get(name.lower(), name), value.strip()


def kept_headers(message: str) -> dict[str, str]:
    """From (and the other identity headers) and every X- header of an INVITE."""
    kept = {h.lower(): h for h in KEPT_HEADERS}
    found: dict[str, str] = {}
    for name, value in _header_lines(message):
        canonical = kept.get(name.lower()) or (name if name.lower().startswith("x-") else None)
        if canonical is not None:
            found[canonical] = f"{found[canonical]}, {value}" if canonical in found else value
    return found


def _sip_call_id(message: str) -> str:
    for name, value in _header_lines(message):
        if name.lower() == "call-id":
            return value
    return ""


def beep(hz: float = 1000.0, seconds: float = 0.5, level: float = 0.3) -> np.ndarray:
    """A sine tone at 8 kHz, with 5 ms ramps so it starts and stops without a click."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * hz * t) * level
    ramp = min(len(t) // 2, SAMPLE_RATE // 200)
    if ramp:
        envelope = np.linspace(0.0, 1.0, ramp)
        tone[:ramp] *= envelope
        tone[-ramp:] *= envelope[::-1]
    return np.round(tone * 32767).astype(np.int16)


# -- the log --------------------------------------------------------------------------------


@dataclass
class CalleeCall:
    number: str
    kind: str  # the behaviour; "unknown" for a number not in the plan
    rang_at: float  # wall clock: the INVITE arrived
    answered_at: float | None = None  # wall clock: 200 OK sent
    call_id: str = ""  # `call_ref` of the SIP Call-ID (what the dialer's records call it)
    sip_status: int | None = None  # the bank's last response: 200, 180 (never answered), 4xx/5xx
    end_status: int | None = None  # pjsua's last status when the dialog ended (487: CANCEL)
    said: list[str] = field(default_factory=list)  # lines said (voicemail: greeting, <beep>)
    heard: str = ""  # transcript of everything the caller said
    heard_turns: list[str] = field(default_factory=list)  # after each line of `said`
    message_left: str = ""  # voicemail: transcript of what was recorded after the beep
    message_seconds: float = 0.0  # voicemail: speech in the message (silence trimmed)
    dtmf_received: str = ""
    ended_by: str = ""  # "caller" | "callee"
    ended_at: float | None = None  # wall clock
    duration_s: float = 0.0  # from the INVITE to the end of the dialog
    headers: dict[str, str] = field(default_factory=dict)  # From, X-…: see KEPT_HEADERS


@dataclass
class CalleeLog:
    calls: list[CalleeCall] = field(default_factory=list)
    refused_over_cap: int = 0  # INVITEs pjsua refused itself (more than 4 calls at once)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _CallAudio:
    """What one call heard: every frame, where each turn began, where the message began."""

    listener: Listener = field(default_factory=Listener)
    turn_starts: list[int] = field(default_factory=list)
    message_span: tuple[int, int] | None = None


class _CachedVoice:
    """Renders each text once: the plan's lines are said again on every call."""

    def __init__(self, voice: Voice) -> None:
        self._voice = voice
        self._cache: dict[str, list[np.ndarray]] = {}

    def synthesize(self, text: str) -> list[np.ndarray]:
        if text not in self._cache:
            self._cache[text] = list(self._voice.synthesize(text))
        return self._cache[text]


# -- the bank -------------------------------------------------------------------------------


class CalleeBank:
    """Answers every call to HOST:PORT as the plan says for the number dialed."""

    def __init__(
        self,
        voice: Voice,
        host: str,
        port: int,
        plan: dict[str, Behaviour],
        transcriber: Transcriber | None = None,
        *,
        user: str = "patient",
        quiet_gap: float = 1.2,
        start_timeout: float = 15.0,
    ) -> None:
        self.voice = _CachedVoice(voice)
        self.host, self.port, self.user = host, port, user
        self.plan = {normal_number(number): b for number, b in plan.items()}
        self.transcriber = transcriber
        self.quiet_gap = quiet_gap  # the caller has stopped talking after this much silence
        self.start_timeout = start_timeout  # say the next line anyway if the caller is silent
        self.log = CalleeLog()
        self.ready = asyncio.Event()  # set once the bank takes calls
        self.on_call_ended: Callable[[CalleeCall], None] | None = None
        self._audio: list[_CallAudio] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._taps: TapPool | None = None

    @property
    def ended_calls(self) -> int:
        return sum(1 for c in self.log.calls if c.ended_by)

    async def run(self, until: asyncio.Event | None = None, timeout: float = 300.0) -> CalleeLog:
        """Take calls until `until` is set or `timeout` seconds have passed; calls still up
        then are hung up. With a transcriber, the log is transcribed before it is returned."""
        texts = {text for b in self.plan.values() for text in b.texts()}
        await asyncio.to_thread(lambda: [self.voice.synthesize(text) for text in texts])
        endpoint = SipEndpoint(self.host, self.port, user_agent="clinicline-callees")
        endpoint.start()
        loop = asyncio.get_running_loop()
        self._taps = TapPool(loop)
        holder: dict[str, Any] = {}

        def on_incoming(call_id: int, message: str) -> None:
            # The Call object must exist before this callback returns, or pjsua2 answers 603
            # (as it does to a call that comes while the bank is stopping).
            if "account" not in holder:
                return
            sip = SipCall(holder["account"], call_id)
            task = loop.create_task(self._handle(sip, message), name=f"callee-{call_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        account = create_account(self.host, self.port, user=self.user, on_incoming=on_incoming)
        holder["account"] = account
        endpoint.keep(account)
        endpoint.run_pump()
        self.ready.set()
        try:
            waiter = until or asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), timeout)
        finally:
            holder.clear()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.log.refused_over_cap = endpoint.refused_calls
            await endpoint.shutdown(release=self._taps.close)
            self._taps = None
        if self.transcriber is not None:
            await asyncio.to_thread(self.transcribe, self.transcriber)
        return self.log

    async def _handle(self, sip: SipCall, message: str) -> None:
        number = normal_number(dialed_number(message) or "")
        behaviour = self.plan.get(number)
        record = CalleeCall(
            number=number,
            kind=behaviour.kind if behaviour else "unknown",
            rang_at=time.time(),
            call_id=call_ref(sip_id) if (sip_id := _sip_call_id(message)) else "",
            headers=kept_headers(message),
        )
        self.log.calls.append(record)
        audio = _CallAudio()
        self._audio.append(audio)
        started = time.monotonic()
        connected, ended = asyncio.Event(), asyncio.Event()
        taps = self._taps
        assert taps is not None
        held: dict[str, Any] = {"tap": None, "media": None}

        def on_media(media: Any) -> None:
            if held["tap"] is None:
                tap = taps.acquire(audio.listener.on_frame)
                media.startTransmit(tap)
                tap.startTransmit(media)
                held["tap"], held["media"] = tap, media
            connected.set()

        def on_disconnected(code: int, _reason: str) -> None:
            record.end_status = code
            record.ended_by = record.ended_by or "caller"
            ended.set()

        def on_dtmf(digit: str, _method: str) -> None:
            record.dtmf_received += digit

        sip.events = CallEvents(on_media=on_media, on_disconnected=on_disconnected, on_dtmf=on_dtmf)
        log.info("call to %s (%s)", number or "?", record.kind)
        try:
            if behaviour is None or behaviour.kind in REFUSALS:
                code = NOT_FOUND if behaviour is None else REFUSALS[behaviour.kind]
                record.ended_by = "callee"
                record.sip_status = code
                answer(sip, code)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), 5.0)
                return
            answer(sip, 180)
            record.sip_status = 180
            if behaviour.kind == "no_answer":
                await ended.wait()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), behaviour.answer_after)
            if ended.is_set():
                return  # the caller gave up while it rang
            answer(sip, 200)
            record.sip_status = 200
            record.answered_at = time.time()
            try:
                await asyncio.wait_for(connected.wait(), 5.0)
            except TimeoutError:
                log.warning("call to %s: no media 5 s after answering", number)
                return
            tap: MediaTap = held["tap"]
            if behaviour.kind == "human":
                await self._human(behaviour, sip, tap, audio, record, ended)
            else:
                await self._voicemail(behaviour, tap, audio, record, ended)
        except Exception:  # e.g. pj.Error: the caller CANCELed just as the phone answered
            log.exception("call to %s failed", number or "?")
        finally:
            await self._finish(sip, record, ended, started, held, taps)

    async def _finish(
        self,
        sip: SipCall,
        record: CalleeCall,
        ended: asyncio.Event,
        started: float,
        held: dict[str, Any],
        taps: TapPool,
    ) -> None:
        """Hang up if the call is still up (the callee ends it), free its tap, log the end."""
        if not ended.is_set():
            record.ended_by = record.ended_by or "callee"
            sip.hangup_quietly(200 if record.answered_at is not None else 480)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(ended.wait(), 2.0)
        record.ended_at = time.time()
        record.duration_s = round(time.monotonic() - started, 2)
        if held["tap"] is not None:
            taps.release(held["tap"], None if sip.disconnected else held["media"])
        sip.events = CallEvents()
        held.clear()
        log.info("call to %s ended by the %s", record.number or "?", record.ended_by)
        if self.on_call_ended is not None:
            try:
                self.on_call_ended(record)
            except Exception:
                log.exception("on_call_ended failed")

    async def _human(
        self,
        behaviour: Behaviour,
        sip: SipCall,
        tap: MediaTap,
        audio: _CallAudio,
        record: CalleeCall,
        ended: asyncio.Event,
    ) -> None:
        listener = audio.listener

        async def converse() -> None:
            for index, step in enumerate(behaviour.lines):
                if index:
                    await wait_bot_done(
                        listener,
                        ended,
                        start_timeout=self.start_timeout,
                        quiet_gap=self.quiet_gap,
                    )
                if ended.is_set():
                    return
                audio.turn_starts.append(len(listener.frames))
                record.said.append(_describe(step))
                await speak_step(self.voice, tap, step, ended, lambda: sip)
                listener.mark()
            await ended.wait()  # listen until the caller hangs up

        if behaviour.hangup_after is None:
            await converse()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(converse(), behaviour.hangup_after)

    async def _voicemail(
        self,
        behaviour: Behaviour,
        tap: MediaTap,
        audio: _CallAudio,
        record: CalleeCall,
        ended: asyncio.Event,
    ) -> None:
        text = behaviour.greeting
        chunks = await asyncio.to_thread(self.voice.synthesize, text)
        spoken = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        tone = beep(behaviour.beep_hz, behaviour.beep_seconds)
        quiet = np.zeros(round(behaviour.beep_after * SAMPLE_RATE), dtype=np.int16)
        tap.enqueue(np.concatenate([trim_silence(spoken, margin_frames=3), quiet, tone]))
        record.said += [text, "<beep>"]
        audio.turn_starts.append(0)
        while tap.queued_frames and not ended.is_set():
            await asyncio.sleep(0.01)
        begin = len(audio.listener.frames)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), behaviour.record_seconds)
        end = min(len(audio.listener.frames), begin + round(behaviour.record_seconds / FRAME_S))
        audio.message_span = (begin, end)

    def transcribe(self, transcriber: Transcriber) -> None:
        """Fill in what each call heard (after the calls, off the media path)."""
        for record, audio in zip(self.log.calls, self._audio, strict=True):
            frames = audio.listener.frames
            if not frames:
                continue
            record.heard = transcribe_speech(transcriber, _join(frames))
            bounds = [*audio.turn_starts, len(frames)]
            record.heard_turns = [
                transcribe_speech(transcriber, _join(frames[a:b]))
                for a, b in zip(bounds, bounds[1:], strict=False)
            ]
            if audio.message_span is not None:
                message = _join(frames[slice(*audio.message_span)])
                record.message_left = transcribe_speech(transcriber, message)
                record.message_seconds = round(len(trim_silence(message)) / SAMPLE_RATE, 2)


def _join(frames: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)


# -- the command ----------------------------------------------------------------------------


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise PlanError(f"--listen: expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def run_callees(args: argparse.Namespace) -> int:
    """`clinicline callees`: run the bank until --calls calls have ended or --timeout, then
    print the (transcribed) log as JSON. Exit 0, or 1 when fewer calls than --calls came,
    2 for a bad plan or address."""
    try:
        plan = load_plan(args.plan)
        host, port = _host_port(args.listen)
        if args.calls is not None and args.calls < 1:
            raise PlanError("--calls must be at least 1")
    except PlanError as exc:
        print(f"clinicline callees: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, plan, host, port))


async def _run(args: argparse.Namespace, plan: dict[str, Behaviour], host: str, port: int) -> int:
    voice = await asyncio.to_thread(make_voice, args.voice)
    bank = CalleeBank(voice, host, port, plan)
    stop = asyncio.Event()
    if args.calls is not None:
        bank.on_call_ended = lambda _call: stop.set() if bank.ended_calls >= args.calls else None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def announce() -> None:
        await bank.ready.wait()
        print(f"callee bank ready on {host}:{port}", file=sys.stderr, flush=True)

    announcing = asyncio.create_task(announce())
    try:
        # pjlib writes its errors (an RTP port taken, …) to stdout: keep that for the JSON.
        with _stdout_to_stderr():
            result = await bank.run(stop, args.timeout)
    finally:
        announcing.cancel()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    if not args.no_transcribe and any(c.answered_at is not None for c in result.calls):
        from voice.asr.whisper import WhisperRecognizer

        recognizer = await asyncio.to_thread(WhisperRecognizer)
        await asyncio.to_thread(bank.transcribe, recognizer)
    output = result.to_json()
    text = json.dumps(output, indent=2, default=str)
    if args.json is not None:
        args.json.write_text(text + "\n")
    print(text, flush=True)
    return 1 if args.calls is not None and bank.ended_calls < args.calls else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m voice.phone.callees",
        description="Simulated patients' phones answering outbound calls, number by number.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_callees_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    return run_callees(args)


if __name__ == "__main__":
    sys.exit(main())
