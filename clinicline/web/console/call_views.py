"""An agent's live work: presence, the WebSocket feed, accept/decline and wrap-up."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from aiohttp import WSCloseCode, WSMsgType, web

from clinicline.web.console.guards import (
    NO_STORE,
    BadBody,
    Console,
    call_id_param,
    console_of,
    error,
    json_body,
    requires,
    same_origin,
    signed_in,
    text_field,
)
from clinicline.web.console.sessions import COOKIE_NAME
from integrations.errors import NotFound
from integrations.services import calls
from integrations.services import presence as presence_store
from integrations.services.agents import (
    CHOSEN_AWAY_REASONS,
    agents_for_queue,
    list_queues,
    set_presence,
)
from integrations.services.audit import record_access
from routing.errors import UnknownTransfer
from routing.hub import MONITOR_REQUESTS

# What an agent may set from the console; "busy" comes from answering a call.
CONSOLE_PRESENCES = frozenset({"available", "busy", "away", "wrap_up", "offline"})
MAX_NOTES = 2000
MAX_TRANSFER_NOTE = 200  # spoken to the next agent in the summary
log = logging.getLogger(__name__)


@requires(post=True)
async def presence(request: web.Request) -> web.Response:
    console, staff = console_of(request), signed_in(request)
    data = await json_body(request)
    state = text_field(data, "presence", max_len=16)
    if state not in CONSOLE_PRESENCES:
        raise BadBody(400, f"presence must be one of {sorted(CONSOLE_PRESENCES)}")
    reason = data.get("reason")
    if reason is not None and (state != "away" or reason not in CHOSEN_AWAY_REASONS):
        raise BadBody(400, f"reason goes with away, one of {', '.join(CHOSEN_AWAY_REASONS)}")
    async with console.db.session() as s:
        entered = await set_presence(s, staff.agent_id, state, reason=reason)
        # Said from her console: it is open now (the attendance beat keeps it so).
        await presence_store.console_seen(s, [staff.agent_id], datetime.now(UTC))
    registry = console.coordinator.presence
    if state == "available":
        await registry.became_available(staff.agent_id, datetime.now(UTC))
    elif state == "offline":
        await registry.signed_out(staff.agent_id)
    return web.json_response(entered.to_json(), headers=NO_STORE)


@requires(post=True)
async def accept(request: web.Request) -> web.Response:
    return await _answer_offer(request, "accepted")


@requires(post=True)
async def decline(request: web.Request) -> web.Response:
    return await _answer_offer(request, "declined")


async def _answer_offer(request: web.Request, answer: str) -> web.Response:
    """The agent's answer to a call offered on their screen (the phone may answer too)."""
    console, staff = console_of(request), signed_in(request)
    call_id = call_id_param(request)
    coordinator = console.coordinator
    if coordinator.pending(call_id) is None:
        # Another process holds this transfer (the agent's console is served here): if the
        # call's record says the offer still waits for her, her answer goes to it.
        async with console.db.session() as s:
            _, waiting_for = await calls.offer_state(s, call_id)
        if waiting_for == staff.agent_id and await console.hub.forward_answer(
            staff.agent_id, call_id, answer
        ):
            body = {"call_id": call_id, "state": answer, "forwarded": True}
            return web.json_response(body, status=202, headers=NO_STORE)
        return error(409, "this call is no longer offered to you")
    act = coordinator.accept if answer == "accepted" else coordinator.decline
    try:
        await act(call_id, staff.agent_id)
    except UnknownTransfer:
        return error(409, "this call is no longer offered to you")
    return web.json_response({"call_id": call_id, "state": answer}, headers=NO_STORE)


async def _refused_on_bridge(
    request: web.Request,
    call_id: str,
    action: str,
    detail: dict[str, str],
    *,
    own_call: bool = False,
) -> web.Response | None:
    """None when the call is bridged to a person now (to the signed-in agent, with
    `own_call`), after an audit row: joining or passing on a call is a view of it. Else the
    refusal: 404 for a call the store does not know, 409 for one not (or no longer) bridged."""
    console, staff = console_of(request), signed_in(request)
    try:
        async with console.db.session() as s:
            bridge = await calls.bridge_state(s, call_id)
            allowed = bridge.live and (not own_call or bridge.agent_id == staff.agent_id)
            if allowed:
                await record_access(
                    s, actor=staff.username, action=action, patient_id=bridge.patient_id,
                    call_id=call_id, detail=detail,
                )  # fmt: skip
    except NotFound:
        return error(404, "no such call")
    if allowed:
        return None
    if own_call:
        return error(409, "this call is not connected to you through the clinic line")
    return error(409, "this call is not connected to a person through the clinic line")


@requires("supervisor", post=True)
async def monitor(request: web.Request) -> web.Response:
    """POST /console/calls/{call_id}/monitor {mode: listen | whisper | barge | stop}: the
    supervisor's desk phone joins a bridged call (the worker with the call rings it). What
    happened is in the call's events (`monitor_started` once her phone answered)."""
    console, staff = console_of(request), signed_in(request)
    call_id = call_id_param(request)
    mode = text_field(await json_body(request), "mode", max_len=8)
    if mode not in MONITOR_REQUESTS:
        raise BadBody(400, f"mode must be one of {', '.join(MONITOR_REQUESTS)}")
    refused = await _refused_on_bridge(request, call_id, "monitor_call", {"mode": mode})
    if refused is not None:
        return refused
    await console.hub.request_monitor(staff.agent_id, call_id, mode)
    return web.json_response({"call_id": call_id, "mode": mode}, status=202, headers=NO_STORE)


@requires(post=True)
async def transfer_on(request: web.Request) -> web.Response:
    """POST /console/calls/{call_id}/transfer {queue, note?, agent?}: the agent talking with a
    caller passes the call to another queue, to a colleague in it first if she names one (by
    username; offered to her when she is free, else to the queue). The worker with the call
    ends her leg, holds the caller and rings the next person with the call's context and her
    note; she goes to wrap-up. Only the agent the store has on the bridge now may ask (a card
    kept open elsewhere may not)."""
    console, staff = console_of(request), signed_in(request)
    call_id = call_id_param(request)
    data = await json_body(request)
    queue = text_field(data, "queue", max_len=40)
    note = " ".join(text_field(data, "note", max_len=MAX_TRANSFER_NOTE, required=False).split())
    colleague = text_field(data, "agent", max_len=64, required=False)
    to_agent = None
    async with console.db.session() as s:
        if queue not in {q.name for q in await list_queues(s)}:
            raise BadBody(400, "no such queue")
        if colleague:
            serving = {
                a.username: a.agent_id
                for a in await agents_for_queue(s, queue, available_only=False)
            }
            if colleague == staff.username or colleague not in serving:
                raise BadBody(400, f"'agent' must be a colleague who serves the {queue} queue")
            to_agent = serving[colleague]
    refused = await _refused_on_bridge(
        request, call_id, "transfer_call", {"queue": queue}, own_call=True
    )
    if refused is not None:
        return refused
    await console.hub.request_handoff(staff.agent_id, call_id, queue, note, to_agent)
    return web.json_response({"call_id": call_id, "queue": queue}, status=202, headers=NO_STORE)


@requires(post=True)
async def wrap_up(request: web.Request) -> web.Response:
    """Disposition code and notes after a handled call; the agent becomes available again."""
    console, staff = console_of(request), signed_in(request)
    call_id = call_id_param(request)
    data = await json_body(request)
    disposition = text_field(data, "disposition", max_len=40)
    notes = text_field(data, "notes", max_len=MAX_NOTES, required=False)
    if disposition not in calls.DISPOSITIONS:
        raise BadBody(400, f"disposition must be one of {sorted(calls.DISPOSITIONS)}")
    # Only the agent who took the call wraps it up, once (a supervisor may correct it); an
    # agent who was offered it and declined, or whose phone never answered, may not.
    if not staff.is_supervisor:
        async with console.db.session() as s:
            handled = await calls.handling_state(s, call_id)
        if staff.agent_id not in handled.offered:
            return error(403, "this call was not sent to you")
        if staff.agent_id not in handled.answered_by:
            return error(403, "you did not take this call")
        if staff.agent_id in handled.wrapped_up_by:
            return error(409, "you have already wrapped up this call")
    now = datetime.now(UTC)
    try:
        async with console.db.session() as s:
            # Notes may hold PHI: events are encrypted at rest, and nothing here is logged.
            await calls.add_event(
                s,
                call_id=call_id,
                kind="wrap_up",
                data={"agent_id": staff.agent_id, "disposition": disposition, "notes": notes},
            )
            await calls.set_fields(s, call_id, disposition=disposition)
            await set_presence(s, staff.agent_id, "available")
    except NotFound:
        return error(404, "no such call")
    await console.coordinator.presence.call_ended(staff.agent_id, now)
    return web.json_response(
        {"call_id": call_id, "disposition": disposition, "presence": "available"},
        headers=NO_STORE,
    )


async def websocket(request: web.Request) -> web.StreamResponse:
    """The agent's live feed: offers, withdrawals, transcript lines, call ends."""
    console = console_of(request)
    # Browsers always send Origin on WebSocket handshakes; a foreign page must not connect.
    if not same_origin(request):
        return error(403, "cross-origin WebSocket refused")
    staff = await console.sessions.staff_for(request.cookies.get(COOKIE_NAME))
    if staff is None:
        return error(401, "sign in first")
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    await ws.prepare(request)
    console.hub.register(staff.agent_id, staff.username, ws)
    watchdog = asyncio.create_task(close_when_signed_out(console, request, ws))
    try:
        await ws.send_json({"type": "hello", "agent_id": staff.agent_id})
        async for message in ws:
            # The page only listens; anything it sends beyond a ping is ignored.
            if message.type == WSMsgType.TEXT and message.data == "ping":
                await ws.send_str("pong")
    finally:
        watchdog.cancel()
        console.hub.unregister(staff.agent_id, ws)
    return ws


SESSION_CHECK_SECONDS = 15.0


async def close_when_signed_out(
    console: Console, request: web.Request, ws: web.WebSocketResponse
) -> None:
    """The feed carries PHI: it ends with the session (sign-out, idle timeout, 8 hours)."""
    cookie = request.cookies.get(COOKIE_NAME)
    while not ws.closed:
        await asyncio.sleep(SESSION_CHECK_SECONDS)
        if not await console.sessions.alive(cookie):
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")
