"""Two replies in a row play back to back: the second one's first words are rendered while
the first still plays, so the caller hears no pause between them to take for her turn.

Real Piper and the real session; the playback queue is a stand-in drained at real time (as
pjmedia's would be), the recogniser a stand-in (nothing is said to the bot). The conversation is
the echo one, opening with two replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager

import numpy as np

from clinicline.callflow.echo import EchoConversation
from nlu.triage import TriageEngine
from tests.voice.test_session_partials import QueueMedia, WholeUtteranceStandIn, stand_in_session
from voice.session.actions import CallInfo, PlayPrompt, Say
from voice.session.call_session import CallSession
from voice.tts.base import split_for_streaming
from voice.tts.piper import PiperSynthesizer

THANKS = "Thank you, Aoife."
QUESTION = "Please spell the patient's last name, one letter at a time."


class TwoReplies(EchoConversation):
    async def start(self, call: CallInfo) -> Sequence[PlayPrompt | Say]:
        return [Say(THANKS), Say(QUESTION)]


class WatchedSynthesizer:
    """Piper, noting for each piece how much audio was still queued when its rendering began."""

    def __init__(self, piper: PiperSynthesizer, media: QueueMedia) -> None:
        self.piper, self.media = piper, media
        self.queued_at_start: dict[str, int] = {}

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        self.queued_at_start[text] = self.media.queued_frames
        return self.piper.synthesize(text)


@asynccontextmanager
async def running(session: CallSession, media: QueueMedia) -> AsyncIterator[asyncio.Task[None]]:
    """The session's run, with its playback queue drained at real time; both ended after."""
    loop = asyncio.get_running_loop()
    drain = loop.create_task(media.drain())
    run = loop.create_task(session.run())
    try:
        yield run
    finally:
        for task in (run, drain):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_the_next_reply_is_rendered_while_the_one_before_still_plays_queue_stand_in(
    piper: PiperSynthesizer,
) -> None:
    session, recorder, media = stand_in_session(
        "back-to-back", TwoReplies(TriageEngine.default()), WholeUtteranceStandIn(""), piper
    )
    watched = WatchedSynthesizer(piper, media)
    session.synthesizer = watched
    async with running(session, media):
        while len([t for speaker, t in recorder.turns if speaker == "bot"]) < 2:
            await asyncio.sleep(0.02)
        # The question began rendering while the thanks was still in the playback queue.
        first_piece = split_for_streaming(QUESTION)[0]
        assert first_piece in watched.queued_at_start, watched.queued_at_start
        assert watched.queued_at_start[first_piece] > 0, watched.queued_at_start
        # Both said to their end, in order (the record tells what was played).
        assert [t for speaker, t in recorder.turns if speaker == "bot"] == [THANKS, QUESTION]


async def test_a_reply_rendered_ahead_is_let_go_when_the_caller_hangs_up_queue_stand_in(
    piper: PiperSynthesizer,
) -> None:
    session, recorder, media = stand_in_session(
        "ahead-then-hangup", TwoReplies(TriageEngine.default()), WholeUtteranceStandIn(""), piper
    )
    async with running(session, media) as run:
        # The thanks is queued and the question is being rendered ahead of it.
        while session._ahead is None and not run.done():
            await asyncio.sleep(0.01)
        ahead = session._ahead
        assert ahead is not None and ahead.text == QUESTION
        session.on_hangup(200, "caller hung up")
        await asyncio.wait_for(run, timeout=30)
        # Nothing waited for the question's rendering: it was let go, and the record has only
        # what was said.
        assert session._ahead is None
        assert ahead.task.cancelled()
        assert QUESTION not in [t for speaker, t in recorder.turns if speaker == "bot"]
