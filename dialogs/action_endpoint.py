"""aiohttp handlers for Rasa's calls: the action-server protocol (POST /webhook, rasa-sdk's
executor) and the NLG protocol (POST /nlg, the words of the domain's responses).

Who may call it is the listener's business (`clinicline.web.action_site`: loopback, a bearer
token, JSON only); this handler refuses what is not an action call with 400 and never lets a
slot value reach a log line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

from dialogs.wording import DialogWording, WordingError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class NotAnActionCall(ValueError):
    """The body is not JSON, or not the object Rasa sends."""


def read_action_call(raw: bytes) -> dict[str, Any]:
    """The action call in `raw`; raises NotAnActionCall (also for JSON nested too deep)."""
    try:
        call = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise NotAnActionCall("body is not valid JSON") from exc
    if not isinstance(call, dict):
        raise NotAnActionCall("body must be a JSON object")
    tracker = call.get("tracker")
    if not isinstance(call.get("next_action"), str) or not isinstance(tracker, dict):
        raise NotAnActionCall("an action call names next_action and carries a tracker")
    if not isinstance(tracker.get("sender_id"), str):
        raise NotAnActionCall("the tracker has no sender_id")
    return call


def action_webhook(executor: ActionExecutor) -> Handler:
    """A handler speaking Rasa's action-server protocol (same status codes as rasa-sdk's)."""

    async def webhook(request: web.Request) -> web.Response:
        try:
            action_call = read_action_call(await request.read())
        except NotAnActionCall as exc:
            return web.json_response({"error": str(exc)}, status=400)
        name = action_call["next_action"]
        sender = action_call["tracker"]["sender_id"]
        try:
            result = await executor.run(action_call)
        except ActionExecutionRejection as e:
            return web.json_response({"error": e.message, "action_name": e.action_name}, status=400)
        except ActionNotFoundException as e:
            log.error("unknown action", extra={"action": name})
            return web.json_response({"error": e.message, "action_name": e.action_name}, status=404)
        except ActionMissingDomainException as e:
            # Rasa resends the call with the domain when it gets 449.
            return web.json_response({"error": e.message, "action_name": e.action_name}, status=449)
        except Exception:
            # The action and the call only; the app's error middleware logs where it failed,
            # without the exception's message (it can quote a slot value).
            log.error("action failed", extra={"action": name, "call_id": sender})
            raise
        return web.json_response(result.model_dump() if result else None)

    return webhook


RESPONSE_PREFIX = "utter_"


def nlg_webhook(wording: DialogWording) -> Handler:
    """Rasa's NLG protocol (POST /nlg): the words of a domain response (`utter_greet`) are the
    reply of the same name without `utter_` in `wording`, the process's published replies, so
    that supervisors edit them with every other reply. A response with no reply is refused
    (Rasa then fails the turn, and the voice worker falls back to the keypad)."""

    async def nlg(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except (ValueError, RecursionError):
            return web.json_response({"error": "body is not valid JSON"}, status=400)
        response = body.get("response") if isinstance(body, dict) else None
        if not isinstance(response, str) or not response.startswith(RESPONSE_PREFIX):
            return web.json_response({"error": "an NLG call names an utter_ response"}, status=400)
        try:
            text = wording.say(response.removeprefix(RESPONSE_PREFIX))
        except (WordingError, KeyError, IndexError):
            log.error("no reply for a domain response", extra={"response": response})
            return web.json_response({"error": "no such response"}, status=404)
        return web.json_response({"text": text})

    return nlg
