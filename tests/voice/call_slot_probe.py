"""Let go of finished pjsua2 calls at awkward moments, on a real endpoint that calls itself.

Run as ``python -m tests.voice.call_slot_probe PORT`` (test_call_slots.py): pjsua2 allows one
endpoint per process. pjsua reuses a call's slot (its id) once the call is over; a finished
call's object that is let go of only after a newer call took its slot must not touch that
newer call, and one still referenced when the library is destroyed must not crash the
process. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from voice.sip.account import create_account
from voice.sip.call import CallEvents, SipCall, answer, make_call, owned_calls
from voice.sip.endpoint import SipEndpoint

# Still referenced at interpreter exit, after the library is gone (see the end of `probe`).
LEFT_OVER: list[SipCall] = []


class Leg:
    """One side of a call to ourselves, with what happened to it."""

    def __init__(self) -> None:
        self.confirmed = asyncio.Event()
        self.ended = asyncio.Event()

    def events(self) -> CallEvents:
        return CallEvents(
            on_confirmed=self.confirmed.set,
            on_disconnected=lambda _code, _reason: self.ended.set(),
        )


async def probe(port: int) -> dict[str, Any]:
    endpoint = SipEndpoint("127.0.0.1", port, user_agent="call-slot-probe")
    endpoint.start()
    answered: asyncio.Queue[tuple[SipCall, Leg]] = asyncio.Queue()
    holder: dict[str, Any] = {}

    def on_incoming(call_id: int, _message: str) -> None:
        leg = Leg()
        sip = SipCall(holder["account"], call_id, leg.events())
        answer(sip, 200)
        answered.put_nowait((sip, leg))

    holder["account"] = account = create_account("127.0.0.1", port, on_incoming=on_incoming)
    endpoint.keep(account)
    endpoint.run_pump()

    async def place() -> tuple[SipCall, Leg, SipCall, Leg]:
        leg = Leg()
        out = make_call(account, f"sip:self@127.0.0.1:{port}", leg.events())
        inbound, in_leg = await asyncio.wait_for(answered.get(), 10)
        await asyncio.wait_for(leg.confirmed.wait(), 10)
        return out, leg, inbound, in_leg

    async def end(call: SipCall, *legs: Leg) -> None:
        call.hangup_quietly()
        for leg in legs:
            await asyncio.wait_for(leg.ended.wait(), 10)

    # The first call ends; both its objects are kept, as a slow task or a traceback keeps them.
    out, out_leg, inbound, in_leg = await place()
    await end(out, out_leg, in_leg)
    stale = [out, inbound]
    stale_ids = {call.getId() for call in stale}
    del out, inbound
    # Calls go on until one holds a slot the first call had (pjsua hands slots round-robin).
    live: tuple[SipCall, Leg, SipCall, Leg] | None = None
    for _ in range(12):
        candidate = await place()
        if {candidate[0].getId(), candidate[2].getId()} & stale_ids:
            live = candidate
            break
        await end(candidate[0], candidate[1], candidate[3])
    del candidate
    assert live is not None, "no slot was reused in 12 calls"
    live_out, live_out_leg, live_in, live_in_leg = live
    del live
    # Now the first call's objects are let go of: the newer call in their slot must not
    # notice, and must still hear its own end.
    stale.clear()
    await asyncio.sleep(1.0)
    result: dict[str, Any] = {
        "slot_reused": sorted(stale_ids & {live_out.getId(), live_in.getId()}),
        "newer_call_survived": live_out.isActive() and live_in.isActive(),  # pjsua's view
    }
    try:
        await end(live_out, live_out_leg, live_in_leg)
        result["newer_call_heard_its_end"] = True
    except TimeoutError:
        result["newer_call_heard_its_end"] = False
    # A call let go of while still up is hung up (nothing could ever end it otherwise).
    out, _out_leg, inbound, in_leg = await place()
    del out
    try:
        await asyncio.wait_for(in_leg.ended.wait(), 10)
        result["call_let_go_of_while_up_was_ended"] = True
    except TimeoutError:
        result["call_let_go_of_while_up_was_ended"] = False
    del inbound
    # Everything let go of is deleted once its slot is idle; one call is kept past the end.
    LEFT_OVER.append(live_out)
    del live_out, live_in
    await asyncio.sleep(0.5)
    result["call_objects_left"] = owned_calls()
    # Printed now: the test reads it even when what follows aborts the process.
    print(json.dumps(result), flush=True)
    await endpoint.shutdown()
    print("shut down", flush=True)
    return result


if __name__ == "__main__":
    asyncio.run(probe(int(sys.argv[1])))
