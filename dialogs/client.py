"""Client of the Rasa server: the voice worker sends each final transcript to our token-guarded
REST channel; /status and /model/parse are Rasa's API, guarded by the same token."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from dialogs.errors import DialogUnavailable

log = logging.getLogger(__name__)

# The channel of dialogs/inside_rasa/channel.py (its `name()`).
CHANNEL_PATH = "/webhooks/clinicline/webhook"


@dataclass(frozen=True)
class BotMessage:
    """One bot turn: text to speak and/or a custom payload (transfer, hangup, collect_digits…)."""

    text: str | None
    payload: dict[str, Any] | None


def to_messages(body: Any) -> list[BotMessage]:
    """Rasa REST answers are a list of {recipient_id, text?, custom?, buttons?}."""
    messages = []
    for item in body if isinstance(body, list) else []:
        text = item.get("text")
        custom = item.get("custom")
        if text or isinstance(custom, dict):
            messages.append(BotMessage(text or None, custom if isinstance(custom, dict) else None))
    return messages


class RasaClient:
    """One per worker; reuses a connection pool. `close()` when the worker stops."""

    def __init__(self, base_url: str, *, token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    @property
    def _api_auth(self) -> dict[str, str]:
        """Rasa's `--auth-token` is checked on the query string only."""
        return {"token": self._token}

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        """Send a caller's utterance; raises DialogUnavailable when Rasa cannot answer."""
        url = f"{self.base_url}{CHANNEL_PATH}"
        body = {"sender": sender_id, "message": text, "metadata": metadata}
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with self._http().post(url, json=body, headers=headers) as response:
                if response.status != 200:
                    raise DialogUnavailable(f"Rasa answered HTTP {response.status}")
                return to_messages(await response.json())
        except (aiohttp.ClientError, TimeoutError) as e:
            log.warning("rasa unreachable", extra={"call_id": sender_id, "error": type(e).__name__})
            reason = type(e).__name__
            raise DialogUnavailable(f"Rasa at {self.base_url} unreachable: {reason}") from e

    async def status(self) -> int | None:
        """HTTP status of /status (401: a server holding another token), None if unreachable."""
        try:
            async with self._http().get(
                f"{self.base_url}/status", params=self._api_auth
            ) as response:
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def ready(self) -> bool:
        """True once the server answers /status with a loaded model."""
        try:
            async with self._http().get(
                f"{self.base_url}/status", params=self._api_auth
            ) as response:
                if response.status != 200:
                    return False
                body = await response.json()
                return bool(body.get("model_file") or body.get("fingerprint"))
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False

    async def parse(self, text: str) -> dict[str, Any]:
        """NLU only (/model/parse): used by evaluation, not by calls."""
        try:
            async with self._http().post(
                f"{self.base_url}/model/parse", json={"text": text}, params=self._api_auth
            ) as response:
                response.raise_for_status()
                body: dict[str, Any] = await response.json()
                return body
        except (aiohttp.ClientError, TimeoutError) as e:
            raise DialogUnavailable(f"Rasa parse failed: {type(e).__name__}") from e

    async def load_model(self, model: str, timeout: float = 600.0) -> None:
        """Make the server answer with MODEL (a file path on its machine): Rasa's PUT /model.
        Rasa loads it before it answers; meanwhile it answers nobody, so this is for servers
        no call uses (evaluation): a live server is swapped for another one instead."""
        try:
            async with self._http().put(
                f"{self.base_url}/model", json={"model_file": model}, params=self._api_auth,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:  # fmt: skip
                if response.status != 204:
                    raise DialogUnavailable(f"Rasa did not load {model}: HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as e:
            raise DialogUnavailable(f"Rasa did not load {model}: {type(e).__name__}") from e

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
