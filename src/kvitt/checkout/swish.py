"""The Swish Commerce API v2 adapter: payment requests and refunds over mutual TLS.

Swish (Getswish AB, "Swish Commerce API"):
- ``PUT {base}/swish-cpcapi/api/v2/paymentrequests/{instructionUUID}``: JSON
  ``payeePaymentReference``, ``callbackUrl``, ``payerAlias`` (e-commerce only), ``payeeAlias``,
  ``amount``, ``currency``, ``message``; ``201`` with ``Location`` (and ``PaymentRequestToken``
  for m-commerce); ``422`` with ``[{"errorCode", "errorMessage"}]`` for a bad field.
- ``GET {base}/swish-cpcapi/api/v1/paymentrequests/{id}``: the request, ``status`` ``CREATED``,
  ``PAID``, ``DECLINED``, ``ERROR`` or ``CANCELLED``, with ``paymentReference``, ``datePaid``,
  ``errorCode`` and ``errorMessage``.
- ``PATCH {base}/swish-cpcapi/api/v1/paymentrequests/{id}`` with the JSON patch
  ``[{"op": "replace", "path": "/status", "value": "cancelled"}]``
  (``application/json-patch+json``): cancels a ``CREATED`` request; ``200`` with the request,
  ``422`` ``RP07`` when it can no longer be cancelled (it was paid or ended meanwhile).
- ``PUT {base}/swish-cpcapi/api/v2/refunds/{instructionUUID}``: ``originalPaymentReference``,
  ``callbackUrl``, ``payerAlias`` (the merchant), ``amount``, ``currency``, ``message``;
  ``GET .../api/v1/refunds/{id}``.
The client presents the merchant's certificate (``KVITT_SWISH_CERT``/``KEY``) and checks the
server's against ``KVITT_SWISH_CA``.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from kvitt.checkout.models import PaymentRequest, Refund
from kvitt.checkout.providers import Answer, ProviderRefused, ProviderUnavailable, Start
from kvitt.core.config import Settings, get_settings
from kvitt.formats import swish_commerce as codec
from kvitt.tenants.models import Tenant

PAYMENT_REQUESTS = "/swish-cpcapi/api/v2/paymentrequests/"
REFUNDS = "/swish-cpcapi/api/v2/refunds/"
READ_PAYMENT_REQUESTS = "/swish-cpcapi/api/v1/paymentrequests/"
READ_REFUNDS = "/swish-cpcapi/api/v1/refunds/"
TIMEOUT = 15.0


def tls_context(cert: str | None, key: str | None, ca: str | None) -> ssl.SSLContext:
    """Verify the server against ``ca`` (else the system's CAs) and present the client certificate."""
    context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    if cert:
        context.load_cert_chain(cert, key or None)
    return context


class SwishClient:
    """Talks to one Swish (or the simulator) with one merchant certificate."""

    method = "swish"

    def __init__(self, base_url: str, context: ssl.SSLContext, *, timeout: float = TIMEOUT) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), verify=context, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> SwishClient:
        settings = settings or get_settings()
        return cls(settings.swish_url, tls_context(settings.swish_cert, settings.swish_key, settings.swish_ca))

    def close(self) -> None:
        self._http.close()

    # --- payment requests ------------------------------------------------------------------

    def start(self, request: PaymentRequest, start: Start) -> Answer:
        instruction = request.provider_reference or ""
        body: dict[str, Any] = {
            "payeePaymentReference": start.reference,
            "callbackUrl": start.callback_url,
            "payeeAlias": start.payee_alias,
            "amount": codec.amount_text(start.amount),
            "currency": start.currency,
            "message": codec.sanitise_message(start.message),
        }
        if start.payer_alias:
            body["payerAlias"] = start.payer_alias
        response = self._call("PUT", PAYMENT_REQUESTS + instruction, body)
        if response.status_code == 422 and _codes(response) == ["RP09"]:
            # The instruction id is taken: an earlier attempt of this job reached Swish.
            return self.fetch(request)
        _raise_for(response)
        return Answer("created", reference=instruction, token=response.headers.get("PaymentRequestToken"))

    def fetch(self, request: PaymentRequest) -> Answer:
        response = self._call("GET", READ_PAYMENT_REQUESTS + (request.provider_reference or ""))
        _raise_for(response)
        return answer_of(_json(response))

    def cancel(self, request: PaymentRequest) -> Answer:
        patch = [{"op": "replace", "path": "/status", "value": "cancelled"}]
        try:
            response = self._http.request(
                "PATCH",
                READ_PAYMENT_REQUESTS + (request.provider_reference or ""),
                content=json.dumps(patch),
                headers={"Content-Type": "application/json-patch+json"},
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"Swish could not be reached: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code == 422 and _codes(response) == ["RP07"]:
            # Not cancellable any more: it ended meanwhile (paid, declined ...); say what it is.
            return self.fetch(request)
        _raise_for(response)
        return answer_of(_json(response))

    # --- refunds -----------------------------------------------------------------------------

    def refund(self, request: PaymentRequest, refund: Refund, callback_url: str) -> Answer:
        instruction = refund.provider_reference or ""
        body = {
            "originalPaymentReference": (request.details or {}).get("payment_reference"),
            "callbackUrl": callback_url,
            "payerAlias": (request.details or {}).get("payee_alias"),
            "amount": codec.amount_text(refund.amount),
            "currency": request.currency,
            "message": codec.sanitise_message(refund.reason or "Återbetalning"),
        }
        response = self._call("PUT", REFUNDS + instruction, body)
        if response.status_code == 422 and _codes(response) == ["RP09"]:
            return self.fetch_refund(refund)
        _raise_for(response)
        return Answer("created", reference=instruction)

    def fetch_refund(self, refund: Refund) -> Answer:
        response = self._call("GET", READ_REFUNDS + (refund.provider_reference or ""))
        _raise_for(response)
        return answer_of(_json(response))

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"Swish could not be reached: {exc.__class__.__name__}: {exc}") from exc


def answer_of(data: dict[str, Any]) -> Answer:
    """A payment request or refund object as Swish answers it (or posts it to the callback)."""
    status = str(data.get("status") or "")
    code = data.get("errorCode") or None
    amount = data.get("amount")
    paid = data.get("datePaid")
    return Answer(
        status=codec.outcome_of(status, code) if status.upper() != "VALIDATED" else "created",
        reference=data.get("id"),
        amount=codec.parse_amount(amount) if amount not in (None, "") else None,
        payment_reference=data.get("paymentReference") or None,
        paid_on=_date(paid) if paid else None,
        error_code=code,
        error_message=data.get("errorMessage") or None,
        raw={k: (str(v) if isinstance(v, Decimal) else v) for k, v in data.items()},
    )


def _date(text: str) -> date:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _json(response: httpx.Response) -> dict[str, Any]:
    data = json.loads(response.content, parse_float=Decimal)
    if not isinstance(data, dict):
        raise ProviderUnavailable(f"Swish answered {response.status_code} with no object")
    return data


def _codes(response: httpx.Response) -> list[str]:
    try:
        errors = response.json()
    except ValueError:
        return []
    return [str(e.get("errorCode")) for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 300:
        return
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise ProviderUnavailable(f"Swish answered {response.status_code}")
    if response.status_code == 422:
        try:
            first = response.json()[0]
            raise ProviderRefused(str(first.get("errorCode")), str(first.get("errorMessage") or ""))
        except (ValueError, IndexError, KeyError, AttributeError, TypeError):
            pass
    if response.status_code == 404:
        raise ProviderRefused("NOT_FOUND", "Swish does not know this request")
    raise ProviderRefused(f"HTTP{response.status_code}", response.text[:200] or "refused")


@dataclass(frozen=True)
class Credentials:
    cert: str | None
    key: str | None
    ca: str | None


def credentials_for(tenant: Tenant, settings: Settings | None = None) -> Credentials:
    """The tenant's own Swish certificate, key and CA where it has them: files in
    ``KVITT_SWISH_CERTS_DIR/<organisation number, digits>/`` (``client.pem``, ``client.key``,
    ``ca.pem``); each one it lacks is the installation's (``KVITT_SWISH_CERT``/``KEY``/``CA``)."""
    settings = settings or get_settings()
    own = (
        Path(settings.swish_certs_dir) / "".join(ch for ch in tenant.org_number if ch.isdigit())
        if settings.swish_certs_dir
        else None
    )

    def pick(name: str, default: str | None) -> str | None:
        return str(own / name) if own is not None and (own / name).is_file() else default

    return Credentials(
        pick("client.pem", settings.swish_cert),
        pick("client.key", settings.swish_key),
        pick("ca.pem", settings.swish_ca),
    )


def factory(tenant: Tenant) -> SwishClient:
    """One client per job or callback, with the tenant's certificate (else the installation's)."""
    settings = get_settings()
    found = credentials_for(tenant, settings)
    return SwishClient(settings.swish_url, tls_context(found.cert, found.key, found.ca))
