"""How long the hearing waits for more keys: the rest of a keyed answer when the conversation
wants one, a moment otherwise (the recogniser is a stand-in: no speech is fed)."""

from __future__ import annotations

import asyncio

from clinicline.callflow.echo import EchoConversation
from nlu.triage import TriageEngine
from tests.voice.test_session_partials import WholeUtteranceStandIn, caller_input
from voice.session.actions import CallInfo, CollectDigits
from voice.session.inbox import Utterance


class Keys(EchoConversation):
    """Says whether keys are wanted, as the clinic does from the question it asked."""

    def __init__(self, wanted: bool) -> None:
        super().__init__(TriageEngine.default())
        self.wanted = wanted

    def keys_wanted(self, call: CallInfo) -> bool:
        return self.wanted


async def _keyed(
    wanted: bool, keys: str, *, collect: CollectDigits | None = None
) -> tuple[list[str], list[str]]:
    """Press `keys` 50 ms apart: the utterances handed on after 0.5 s, and after 1.5 s more.
    The wait for the rest of an answer is made 60 s, so only the short wait can end a turn."""
    got: list[Utterance] = []
    hearing = caller_input(
        "keys-test", Keys(wanted), WholeUtteranceStandIn(""), on_utterance=got.append,
        digit_timeout=60.0, lone_key_wait=0.2,
    )  # fmt: skip
    if collect is not None:
        hearing.expect_digits(collect)
    try:
        for key in keys:
            hearing.on_dtmf(key, "rfc2833")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        soon = [u.turn.digits or "" for u in got]
        await asyncio.sleep(1.5)
        return soon, [u.turn.digits or "" for u in got]
    finally:
        hearing.close()


async def test_keys_nobody_asked_for_are_handed_on_together_after_a_moment() -> None:
    soon, later = await _keyed(False, "*#9")
    assert soon == later == ["*#9"]  # one turn, not three


async def test_a_keyed_answer_is_waited_for_until_its_end() -> None:
    soon, later = await _keyed(True, "0304")
    assert soon == later == []  # the rest of a date of birth may still come
    soon, _ = await _keyed(True, "03041972#")
    assert soon == ["03041972"]  # "#" ends it at once


async def test_a_question_that_collects_keys_ends_at_its_length() -> None:
    soon, later = await _keyed(False, "2", collect=CollectDigits(1, "menu"))
    assert soon == later == ["2"]
    soon, later = await _keyed(False, "2", collect=CollectDigits(4, "code"))
    assert soon == later == []  # the conversation asked for four
