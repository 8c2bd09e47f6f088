"""The REST channel our voice worker talks to, refusing every request without the shared token.

Rasa's own `--auth-token` guards its HTTP API (trackers, /model/parse) but not its input
channels: with the stock REST channel anyone who reaches the port could append messages to
any conversation. This channel is Rasa's REST channel behind `Authorization: Bearer <token>`;
the token comes from credentials.yml, which takes it from the environment.
"""

from __future__ import annotations

import hmac
from typing import Any

from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request


class TokenRestInput(RestInput):  # type: ignore[misc]  # Rasa is not installed in the app's venv
    """POST /webhooks/clinicline/webhook with the REST channel's body and a bearer token."""

    def __init__(self, token: str = "") -> None:
        self.token = token

    @classmethod
    def name(cls) -> str:
        return "clinicline"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TokenRestInput:
        return cls(str((credentials or {}).get("token") or ""))

    def authorised(self, request: Request) -> bool:
        """True only for the configured token; with none configured nobody gets in."""
        scheme, _, given = str(request.headers.get("Authorization", "")).partition(" ")
        return bool(self.token) and scheme == "Bearer" and hmac.compare_digest(
            given.encode(), self.token.encode()
        )

    def blueprint(self, on_new_message: Any) -> Blueprint:
        routes = super().blueprint(on_new_message)

        @routes.middleware("request")
        async def require_token(request: Request) -> Any:
            if not self.authorised(request):
                return response.json({"error": "unauthorised"}, status=401)
            return None

        return routes
