"""Peppol e-invoices: an access point's HTTP API (Kvitt's documented contract) or a folder.

The access point API (docs/delivery.md; kvitt.simulators.peppol_ap implements it):

``POST {base}/v1/documents`` with ``Authorization: Bearer <key>``, ``Content-Type:
application/xml``, ``X-Peppol-Sender`` and ``X-Peppol-Receiver`` (``scheme:id``, e.g.
``0007:5560360793``) and ``X-Document-Id`` (the sender's id for the document: sending the
same id again returns the first submission, so a repeated job cannot send twice). The body is
the UBL 2.1 Invoice or CreditNote. Answers ``202 {"id", "status": "accepted"}`` (``200`` for a
repeat), ``400`` (not valid UBL / not Peppol BIS 3), ``404`` (the receiver is not in the
Peppol network), ``401``.

``GET {base}/v1/documents/{id}`` answers ``{"id", "status", "error"}``, status ``accepted`` →
``delivered`` | ``failed``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from kvitt.delivery.channels import PermanentFailure, Sent, TemporaryFailure

ORGANISATION_NUMBER_SCHEME = "0007"  # Swedish organisation number in the Peppol ICD list


@dataclass(frozen=True)
class AccessPointConfig:
    base_url: str
    key: str | None
    timeout: float = 30.0


class AccessPointClient:
    def __init__(self, config: AccessPointConfig, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {config.key}"} if config.key else {}
        self._client = httpx.Client(
            base_url=config.base_url.rstrip("/"), headers=headers, timeout=config.timeout, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AccessPointClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, *, ubl: bytes, sender: str, receiver: str, document_id: str) -> Sent:
        headers = {
            "Content-Type": "application/xml",
            "X-Peppol-Sender": sender,
            "X-Peppol-Receiver": receiver,
            "X-Document-Id": document_id,
        }
        response = self._call("POST", "/v1/documents", content=ubl, headers=headers)
        if response.status_code in (400, 404, 413, 415, 422):
            raise PermanentFailure(
                f"access point refused the e-invoice (HTTP {response.status_code}): {_error(response)}"
            )
        body = self._json(response)
        return Sent(provider_ref=str(body["id"]), data={"status": body.get("status")})

    def status(self, document_ref: str) -> tuple[str, str | None]:
        response = self._call("GET", f"/v1/documents/{document_ref}")
        if response.status_code == 404:
            raise PermanentFailure(f"the access point does not know document {document_ref}")
        body = self._json(response)
        return str(body["status"]), body.get("error")

    def _call(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as exc:
            raise TemporaryFailure(f"access point did not answer in time: {exc}") from exc
        except httpx.TransportError as exc:
            raise TemporaryFailure(f"access point unreachable: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (401, 403, 429):
            raise TemporaryFailure(f"access point HTTP {response.status_code}: {_error(response)}")
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, object]:
        try:
            body = response.json()
            if not isinstance(body, dict) or "status" not in body:
                raise ValueError("no id")
            return body
        except ValueError as exc:
            raise TemporaryFailure(f"access point answered something unexpected: {response.text[:200]}") from exc


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))[:300]
    except ValueError:
        return response.text[:300]


def export_file(folder: str | Path, filename: str, ubl: bytes) -> Sent:
    """Write the UBL into the export folder, atomically (a reader never sees half a file)."""
    target_dir = Path(folder)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / filename
        temporary = target_dir / f".{filename}.tmp"
        temporary.write_bytes(ubl)
        os.replace(temporary, target)
    except OSError as exc:
        raise TemporaryFailure(f"cannot write the e-invoice file into {target_dir}: {exc}") from exc
    return Sent(provider_ref=str(target), data={"file": str(target)})
