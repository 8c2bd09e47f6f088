"""aiohttp handler that runs rasa-sdk's executor: the app mounts it at POST /webhook."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def action_webhook(executor: ActionExecutor) -> Handler:
    """A handler speaking Rasa's action-server protocol (same status codes as rasa-sdk's)."""

    async def webhook(request: web.Request) -> web.Response:
        try:
            action_call = await request.json()
        except ValueError:
            return web.json_response({"error": "Invalid body request"}, status=400)
        name = action_call.get("next_action")
        sender = (action_call.get("tracker") or {}).get("sender_id")
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
            # Log the action and call only: tracebacks of slot values could carry PHI.
            log.exception("action failed", extra={"action": name, "call_id": sender})
            return web.json_response({"error": "action failed", "action_name": name}, status=500)
        return web.json_response(result.model_dump() if result else None)

    return webhook
