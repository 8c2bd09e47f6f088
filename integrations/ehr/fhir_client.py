"""The EHR's FHIR R4 API, through fhirpy: searches, one-transaction writes, and its failures
translated into the two errors the rest of clinicline acts on.

`SlotTaken`: the EHR refused a write because the slot changed since we read it (412 on the
slot's If-Match) — another booking won. `EhrUnavailable`: anything else (refused connection,
timeout, 5xx, a response that is not FHIR): the caller is told politely and nothing is
announced as done. Resources go in and come out as plain dicts.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import BaseFHIRError, MultipleResourcesFound, OperationOutcome

from integrations.errors import ConfigError, EhrUnavailable, SlotTaken

log = logging.getLogger(__name__)

SCHEME = "fhir+"
# A caller is waiting on every one of these requests: past this the EHR counts as down and the
# dialog says so, rather than leaving silence on the line.
DEFAULT_TIMEOUT_S = 8.0
_PAGE = 200


@dataclass(frozen=True)
class EhrSettings:
    base_url: str  # http(s)://host:port/fhir
    token: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_url(
        cls, url: str, token: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> EhrSettings:
        """`fhir+http://host:8090/fhir` (the `--ehr` spelling) or a plain http(s) base URL."""
        raw = url.strip()
        if raw.startswith(SCHEME):
            raw = raw[len(SCHEME) :]
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"--ehr wants fhir+http(s)://host[:port]/path, not {url!r}")
        if parts.query or parts.username or parts.password:
            # A token in a URL ends up in logs and process lists: it is given apart.
            raise ConfigError("--ehr takes no credentials or query; set CLINICLINE_EHR_TOKEN")
        base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        return cls(base, token, timeout_s)


class FhirEhr:
    """One EHR's FHIR R4 endpoint. Safe to share: each request opens its own HTTP session."""

    def __init__(self, settings: EhrSettings) -> None:
        self.settings = settings
        # The last request's failure (None: it answered), for the health page: this process's
        # view of the EHR, no PHI (the errors below never carry resources).
        self.last_error: str | None = None
        self._client = AsyncFHIRClient(
            settings.base_url,
            authorization=f"Bearer {settings.token}" if settings.token else None,
            aiohttp_config={"timeout": aiohttp.ClientTimeout(total=settings.timeout_s)},
        )

    async def search(self, kind: str, **params: str | list[str]) -> list[dict[str, Any]]:
        """Every `kind` resource matching `params` (all pages)."""
        query: dict[str, Any] = {**params, "_count": str(_PAGE)}
        found: list[dict[str, Any]] = []
        path: str | None = kind
        while path is not None:
            bundle = await self._request("get", path, params=query)
            entries = bundle.get("entry") or []
            if bundle.get("resourceType") != "Bundle" or not isinstance(entries, list):
                raise EhrUnavailable(f"the EHR answered a {kind} search with no Bundle")
            found.extend(
                dict(e["resource"])
                for e in entries
                if isinstance(e, dict) and isinstance(e.get("resource"), dict)
            )
            path, query = self._next_page(bundle), {}
        return found

    def _next_page(self, bundle: dict[str, Any]) -> str | None:
        for link in bundle.get("link") or []:
            if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
                url = str(link["url"])
                # Followed only on the EHR we were given: a link elsewhere would carry our token.
                return url if url.startswith(self.settings.base_url + "/") else None
        return None

    async def read(self, kind: str, fhir_id: str) -> dict[str, Any]:
        return await self._request("get", f"{kind}/{fhir_id}")

    async def transaction(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Run `entries` as one transaction Bundle: all or none. A 412 is `SlotTaken`."""
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        answer = await self._request("post", "", data=bundle)
        if answer.get("resourceType") != "Bundle":
            raise EhrUnavailable("the EHR answered a transaction with no Bundle")
        return answer

    @staticmethod
    def ids(answer: dict[str, Any]) -> list[str]:
        """The ids a transaction-response reports, in entry order (from each Location)."""
        ids = []
        for entry in answer.get("entry") or []:
            location = str((entry.get("response") or {}).get("location") or "")
            parts = location.split("/_history")[0].rstrip("/").split("/")
            if len(parts) < 2:
                raise EhrUnavailable("the EHR's transaction response names no resource")
            ids.append(parts[-1])
        return ids

    async def _request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, data: Any = None
    ) -> dict[str, Any]:
        try:
            answer = await self._answer(method, path, params, data)
        except EhrUnavailable as exc:
            self.last_error = str(exc)
            raise
        except SlotTaken:
            self.last_error = None  # it answered: the slot had changed
            raise
        self.last_error = None
        return answer

    async def _answer(
        self, method: str, path: str, params: dict[str, Any] | None, data: Any
    ) -> dict[str, Any]:
        try:
            answer = await self._client.execute(path, method=method, data=data, params=params)
        except MultipleResourcesFound as exc:
            # fhirpy reports every 412 this way; on our writes it is only ever a failed If-Match.
            raise SlotTaken("the EHR says the slot changed since it was offered") from exc
        except OperationOutcome as exc:
            raise EhrUnavailable(f"the EHR refused the request: {_outcome(exc)}") from exc
        except (BaseFHIRError, aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
            raise EhrUnavailable(f"the EHR could not be reached ({type(exc).__name__})") from exc
        if not isinstance(answer, dict):
            raise EhrUnavailable("the EHR's answer is not a FHIR resource")
        return answer


def _outcome(exc: OperationOutcome) -> str:
    """The OperationOutcome's diagnostics, without resource contents (they may carry PHI)."""
    resource = getattr(exc, "resource", None) or {}
    issues = resource.get("issue") if isinstance(resource, dict) else None
    codes = [str(i.get("code")) for i in issues or [] if isinstance(i, dict)]
    return ", ".join(codes) or "no outcome"
