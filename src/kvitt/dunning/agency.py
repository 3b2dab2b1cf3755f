"""The adapter to a collection agency: an interface, and a client for the documented HTTP API.

``CollectionAgency`` is what Kvitt needs of any agency; ``HttpAgency`` speaks the API that
``kvitt.simulators.collection_agency`` documents (the simulator tests and the demo run against).
Calls are made only from outbox jobs (the worker), never inside a request, with timeouts so
that an agency that hangs does not hold the worker.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class AgencyError(RuntimeError):
    pass


class CollectionAgency(Protocol):
    def create_case(self, case: dict[str, Any]) -> dict[str, Any]: ...
    def report_payment(self, case_id: str, amount: int, on: date) -> dict[str, Any]: ...
    def close_case(self, case_id: str, reason: str) -> dict[str, Any]: ...
    def events(self, after: int, limit: int = 100) -> tuple[list[dict[str, Any]], bool]: ...


class HttpAgency:
    def __init__(self, base_url: str, api_key: str, *, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=TIMEOUT)
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            response = self._client.request(method, self._base + path, headers=self._headers, **kw)
        except httpx.HTTPError as exc:
            raise AgencyError(f"{method} {path}: {exc}") from exc
        if response.status_code >= 400:
            raise AgencyError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        body: dict[str, Any] = response.json()
        return body

    def create_case(self, case: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/cases", json=case)

    def report_payment(self, case_id: str, amount: int, on: date) -> dict[str, Any]:
        body = {"amount": amount, "date": on.isoformat(), "paid_to": "creditor"}
        return self._call("POST", f"/v1/cases/{case_id}/payments", json=body)

    def close_case(self, case_id: str, reason: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/cases/{case_id}/close", json={"reason": reason})

    def events(self, after: int, limit: int = 100) -> tuple[list[dict[str, Any]], bool]:
        body = self._call("GET", "/v1/events", params={"after": after, "limit": limit})
        return list(body["data"]), bool(body["has_more"])
