"""What callers said that the line could not serve: the "missed" list supervisors tune the
dialogs from.

A caller's turn is missed when the bot's answer to it was one of the replies that say so: it
did not understand ("Sorry, I didn't catch that"), the request is not something the line does,
or it handed the caller to a person she asked for. The words are shown redacted
(`nlu.redact`: numbers, dates, phone numbers, e-mail addresses and the names the call knows);
turns that answer the identity questions never reach this list (their replies are others).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.services.transaction import atomic
from integrations.store.crypto import cipher_of
from integrations.store.models import Call, CallTurn, Patient
from nlu.redact import redact

# At most this many recent calls are read for one list, this many turns' calls at a time.
MAX_CALLS = 500
CALLS_PER_READ = 50


@dataclass(frozen=True)
class MissReply:
    """Why a turn counts as missed, and the bot's words that say so (every wording of it)."""

    reason: str
    texts: tuple[str, ...]

    def said_in(self, bot_words: str) -> bool:
        """Whether the bot's words (its turns after the caller's, joined) hold one of them."""
        spoken = _plain(bot_words)
        return any(_plain(t) in spoken for t in self.texts if t.strip())


def _plain(text: str) -> str:
    return " ".join(text.lower().split())


async def missed_turns(
    s: AsyncSession, *, since: datetime, replies: Sequence[MissReply], limit: int = 100
) -> list[dict[str, Any]]:
    """The newest missed caller turns of calls started since `since`, newest call first."""
    async with atomic(s):
        cipher = cipher_of(s)
        calls = (
            await s.execute(
                select(Call.id, Call.started, Patient.first_name, Patient.last_name)
                .outerjoin(Patient, Patient.id == Call.verified_patient_id)
                .where(Call.started >= since)
                .order_by(Call.started.desc())
                .limit(MAX_CALLS)
            )
        ).all()
        found: list[dict[str, Any]] = []
        for at in range(0, len(calls), CALLS_PER_READ):  # newest first, until enough are found
            chunk = calls[at : at + CALLS_PER_READ]
            turns = (
                await s.scalars(
                    select(CallTurn)
                    .where(
                        CallTurn.call_id.in_([c.id for c in chunk]), CallTurn.speaker != "agent"
                    )
                    .order_by(CallTurn.call_id, CallTurn.start, CallTurn.id)
                )
            ).all()
            by_call: dict[str, list[tuple[str, str, datetime]]] = {}
            for t in turns:
                by_call.setdefault(t.call_id, []).append(
                    (t.speaker, cipher.decrypt_text(t.text_enc), t.start)
                )
            for call_id, started, first, last in chunk:
                known = [n for n in (first, last, f"{first} {last}" if first else None) if n]
                found += _missed_in(by_call.get(call_id, []), replies, known, started)
            if len(found) >= limit:
                break
        return found[:limit]


def _missed_in(
    said: list[tuple[str, str, datetime]],
    replies: Sequence[MissReply],
    known: Sequence[str],
    started: datetime,
) -> list[dict[str, Any]]:
    missed = []
    for i, (speaker, text, at) in enumerate(said):
        if speaker != "caller":
            continue
        answer = []
        for later_speaker, later_text, _at in said[i + 1 :]:
            if later_speaker == "caller":
                break
            answer.append(later_text)
        reason = next((r.reason for r in replies if r.said_in(" ".join(answer))), None)
        if reason is not None:
            missed.append({
                "at": at.isoformat(), "call_started": started.isoformat(), "reason": reason,
                "text": redact(text, known),
            })  # fmt: skip
    return missed
