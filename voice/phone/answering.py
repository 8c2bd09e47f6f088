"""A test agent's phone: answers consult legs, keeps the INVITE's headers, talks and listens.

It stands in for a nurse's softphone in tests and demos: a real pjsua2 endpoint of its own,
so the worker's transfer is a real SIP call with real audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from voice.phone.phone import (
    BOT_AUDIO_RMS,
    Transcriber,
    Voice,
    transcribe_speech,
    trim_silence,
)
from voice.sip.account import create_account
from voice.sip.call import CallEvents, SipCall, answer
from voice.sip.endpoint import SipEndpoint
from voice.sip.media import TapPool


@dataclass
class AnsweredCall:
    headers: dict[str, str] = field(default_factory=dict)
    rang_at: float = 0.0
    answered: bool = False
    said: str = ""
    heard: str = ""
    heard_seconds: float = 0.0
    ended_by: str = ""
    # An INVITE with Replaces took this call over (an attended transfer by REFER): the
    # phone moved its audio onto the new call, which then carried on as this one.
    replaced: bool = False
    replaced_at: float | None = None  # wall clock
    heard_after_replace: str = ""
    ended_at: float | None = None  # wall clock, when the last dialog of this call ended
    accepted_at: float | None = None  # wall clock, when the accept key was pressed


@dataclass
class AnswerLog:
    calls: list[AnsweredCall] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def invite_headers(
    message: str, names: tuple[str, ...] = ("X-Clinicline-Context", "From")
) -> dict[str, str]:
    found = {}
    for name in names:
        match = re.search(
            rf"^{re.escape(name)}\s*:\s*(.+?)\r?$", message, re.IGNORECASE | re.MULTILINE
        )
        if match:
            found[name] = match.group(1).strip()
    return found


class AnsweringPhone:
    """Waits for calls on HOST:PORT and handles each as configured."""

    def __init__(
        self,
        voice: Voice,
        host: str,
        port: int,
        *,
        user: str = "nurse",
        answer_after: float = 1.0,
        mode: str = "answer",  # "answer" | "decline" | "ignore"
        say: str = "",
        stay: float = 10.0,
        accept_replaces: bool = True,
        accept_key: str | None = "1",
        accept_after: float | None = None,
    ) -> None:
        self.voice, self.host, self.port, self.user = voice, host, port, user
        self.answer_after, self.mode, self.say, self.stay = answer_after, mode, say, stay
        self.accept_replaces = accept_replaces  # let an INVITE with Replaces take a call over
        # Pressed once the whispered summary has been heard (the worker asks for it);
        # None: an agent (or a voicemail) that never takes the call.
        self.accept_key = accept_key
        self.accept_after = accept_after  # press it this long after answering instead
        self.log = AnswerLog()
        self._frames: list[list[np.ndarray]] = []
        self._replaced_at_frame: list[int | None] = []
        self._account: Any = None
        self._taps: TapPool | None = None

    async def run(self, calls: int = 1, timeout: float = 120.0) -> AnswerLog:
        endpoint = SipEndpoint(self.host, self.port, user_agent="clinicline-agent-phone")
        endpoint.start()
        loop = asyncio.get_running_loop()
        self._taps = TapPool(loop)
        queue: asyncio.Queue[tuple[SipCall, str]] = asyncio.Queue()
        holder: dict[str, Any] = {}

        def on_incoming(call_id: int, message: str) -> None:
            # The Call object must exist before this callback returns, or pjsua2 answers 603.
            queue.put_nowait((SipCall(holder["account"], call_id), message))

        account = create_account(self.host, self.port, user=self.user, on_incoming=on_incoming)
        holder["account"] = account
        self._account = account
        endpoint.keep(account)
        endpoint.run_pump()
        print("agent phone ready", flush=True)
        deadline = loop.time() + timeout
        try:
            while len(self.log.calls) < calls and loop.time() < deadline:
                try:
                    sip, message = await asyncio.wait_for(
                        queue.get(), max(0.1, deadline - loop.time())
                    )
                except TimeoutError:
                    break
                await self._handle(sip, message)
                sip.events = CallEvents()
                del sip
        finally:
            holder.clear()
            self._account = None
            await endpoint.shutdown(release=self._taps.close)
            self._taps = None
        return self.log

    async def _handle(self, sip: SipCall, message: str) -> None:
        record = AnsweredCall(headers=invite_headers(message), rang_at=time.time())
        self.log.calls.append(record)
        frames: list[np.ndarray] = []
        self._frames.append(frames)
        self._replaced_at_frame.append(None)
        index = len(self._frames) - 1
        taps = self._taps
        assert taps is not None
        connected, ended = asyncio.Event(), asyncio.Event()
        # "tap" stays one object for the whole conversation; "call" is the current dialog,
        # which an INVITE with Replaces swaps; "calls" keeps every Call object alive.
        holder: dict[str, Any] = {"call": sip, "calls": [sip], "tap": None, "media": None}

        def on_media(call: SipCall, media: Any) -> None:
            if call is not holder["call"]:
                return
            tap = holder["tap"]
            if tap is None:
                tap = holder["tap"] = taps.acquire(frames.append)
            elif holder["media"] is not None:
                for source, sink in ((holder["media"], tap), (tap, holder["media"])):
                    with contextlib.suppress(Exception):  # the replaced call's port may be gone
                        source.stopTransmit(sink)
            media.startTransmit(tap)
            tap.startTransmit(media)
            holder["media"] = media
            connected.set()

        def on_disconnected(call: SipCall) -> None:
            if call is not holder["call"]:
                return  # the dialog an INVITE with Replaces took over
            record.ended_by = record.ended_by or "remote"
            record.ended_at = time.time()
            ended.set()

        def on_replaced(call: SipCall, new_call_id: int) -> SipCall | None:
            if call is not holder["call"]:
                return None
            new = SipCall(self._account, new_call_id)
            new.events = events_for(new)
            holder["calls"].append(new)
            holder["call"] = new
            record.replaced = True
            record.replaced_at = time.time()
            self._replaced_at_frame[index] = len(frames)
            print("agent phone: call replaced", flush=True)
            return new

        def events_for(call: SipCall) -> CallEvents:
            return CallEvents(
                on_media=lambda media: on_media(call, media),
                on_disconnected=lambda _code, _reason: on_disconnected(call),
                on_replace_request=lambda: self.accept_replaces,
                on_replaced=lambda new_call_id: on_replaced(call, new_call_id),
            )

        sip.events = events_for(sip)
        answer(sip, 180)
        if self.mode == "ignore":
            await ended.wait()
            return
        await asyncio.sleep(self.answer_after)
        if self.mode == "decline":
            answer(sip, 486)
            await asyncio.sleep(0.5)
            return
        answer(sip, 200)
        try:
            await asyncio.wait_for(connected.wait(), 5)
        except TimeoutError:
            return
        record.answered = True
        if self.accept_key is not None:
            if self.accept_after is None:
                await _heard_out(frames, ended)  # the whispered summary, then take the call
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), self.accept_after)
            if not ended.is_set():
                holder["call"].send_dtmf(self.accept_key, "rfc2833")
                record.accepted_at = time.time()
            await asyncio.sleep(1.0)
        else:
            await asyncio.sleep(min(self.stay / 2, 6.0))  # let the whispered summary play
        if self.say:
            chunks = await asyncio.to_thread(lambda: list(self.voice.synthesize(self.say)))
            if chunks:
                holder["tap"].enqueue(np.concatenate(chunks))
            record.said = self.say
        try:
            await asyncio.wait_for(ended.wait(), self.stay / 2)
        except TimeoutError:
            record.ended_by = "agent"
            record.ended_at = time.time()
            holder["call"].hangup_quietly()
            await asyncio.sleep(0.5)
        if holder["tap"] is not None:
            up = not holder["call"].disconnected
            taps.release(holder["tap"], holder["media"] if up else None)
        for call in holder["calls"]:
            call.events = CallEvents()
        holder.clear()

    def transcribe(self, transcriber: Transcriber) -> None:
        for record, frames, at in zip(
            self.log.calls, self._frames, self._replaced_at_frame, strict=False
        ):
            audio = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)
            record.heard_seconds = round(len(trim_silence(audio)) / 8000, 2)
            record.heard = transcribe_speech(transcriber, audio)
            if at is not None:
                after = frames[at:]
                audio = np.concatenate(after) if after else np.zeros(0, dtype=np.int16)
                record.heard_after_replace = transcribe_speech(transcriber, audio)


async def _heard_out(
    frames: list[np.ndarray], ended: asyncio.Event, quiet: float = 0.8, limit: float = 10.0
) -> None:
    """Until speech was heard and then `quiet` seconds passed without it (or `limit`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    heard, quiet_frames = False, 0
    seen = 0
    while not ended.is_set() and loop.time() < deadline:
        for pcm in frames[seen:]:
            loud = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) >= BOT_AUDIO_RMS
            heard = heard or loud
            quiet_frames = 0 if loud else quiet_frames + 1
        seen = len(frames)
        if heard and quiet_frames * 0.02 >= quiet:
            return
        await asyncio.sleep(0.05)
