"""The card adapter: Stripe PaymentIntents and refunds through the official ``stripe`` package.

Stripe (https://docs.stripe.com/api): ``POST /v1/payment_intents`` (``amount`` in öre,
``currency`` ``sek``, ``payment_method_types[]`` ``card``, ``metadata``), ``GET
/v1/payment_intents/{id}``, ``POST /v1/payment_intents/{id}/cancel``, ``POST /v1/refunds``
(``payment_intent``, ``amount``), ``GET /v1/refunds/{id}``. A PaymentIntent's ``status``:
``requires_payment_method`` (new, or after a declined card: then ``last_payment_error`` says
why), ``requires_confirmation``, ``requires_action``, ``processing``, ``succeeded``,
``canceled``. Every create carries an ``Idempotency-Key`` made of the request's id, so a retried
job makes no second PaymentIntent.
``KVITT_STRIPE_API_BASE`` points the client at Stripe or at ``kvitt simulate card``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import stripe

from kvitt.checkout.models import PaymentRequest, Refund
from kvitt.checkout.providers import Answer, ProviderRefused, ProviderUnavailable, Start
from kvitt.core.config import Settings, get_settings
from kvitt.tenants.models import Tenant

_INTENT_STATES = {"succeeded": "paid", "canceled": "cancelled"}
_REFUND_STATES = {"succeeded": "paid", "failed": "error", "canceled": "cancelled"}


class CardClient:
    method = "card"

    def __init__(self, api_key: str, api_base: str, *, installation: str = "kvitt") -> None:
        self._stripe = stripe.StripeClient(api_key, base_addresses={"api": api_base.rstrip("/")}, max_network_retries=0)
        self._installation = installation

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CardClient:
        settings = settings or get_settings()
        if not settings.stripe_secret_key:
            raise ProviderRefused("not_configured", "KVITT_STRIPE_SECRET_KEY is not set")
        return cls(settings.stripe_secret_key, settings.stripe_api_base)

    def close(self) -> None:
        pass

    def start(self, request: PaymentRequest, start: Start) -> Answer:
        params: dict[str, Any] = {
            "amount": start.amount,
            "currency": start.currency.lower(),
            "payment_method_types": ["card"],
            "description": start.message[:200],
            "metadata": {
                "invoice": str(start.invoice_id),
                "reference": start.reference,
                "payment_request": str(request.id),
                "tenant": str(start.tenant_id),
            },
        }
        key = f"kvitt-payment-request-{request.tenant_id}-{request.id}"
        intent = self._do(lambda: self._stripe.v1.payment_intents.create(params, {"idempotency_key": key}))  # type: ignore[arg-type]
        return intent_answer(intent)

    def fetch(self, request: PaymentRequest) -> Answer:
        intent = self._do(lambda: self._stripe.v1.payment_intents.retrieve(request.provider_reference or ""))
        return intent_answer(intent)

    def cancel(self, request: PaymentRequest) -> Answer:
        """``POST /v1/payment_intents/{id}/cancel``; one that has succeeded meanwhile cannot be
        cancelled (400 ``payment_intent_unexpected_state``): then what it is now."""
        try:
            intent = self._do(lambda: self._stripe.v1.payment_intents.cancel(request.provider_reference or ""))
        except ProviderRefused as exc:
            if exc.code != "payment_intent_unexpected_state":
                raise
            return self.fetch(request)
        return intent_answer(intent)

    def refund(self, request: PaymentRequest, refund: Refund, callback_url: str) -> Answer:
        params = {"payment_intent": request.provider_reference or "", "amount": refund.amount}
        key = f"kvitt-refund-{refund.tenant_id}-{refund.id}"
        made = self._do(lambda: self._stripe.v1.refunds.create(params, {"idempotency_key": key}))  # type: ignore[arg-type]
        return refund_answer(made)

    def fetch_refund(self, refund: Refund) -> Answer:
        return refund_answer(self._do(lambda: self._stripe.v1.refunds.retrieve(refund.provider_reference or "")))

    @staticmethod
    def _do(call: Any) -> Any:
        try:
            return call()
        except stripe.CardError as exc:
            raise ProviderRefused(exc.code or "card_declined", exc.user_message or str(exc), status="declined") from exc
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise ProviderUnavailable(f"Stripe could not be reached: {exc}") from exc
        except stripe.StripeError as exc:
            if (exc.http_status or 500) >= 500:
                raise ProviderUnavailable(f"Stripe answered {exc.http_status}: {exc}") from exc
            raise ProviderRefused(exc.code or f"HTTP{exc.http_status}", str(exc.user_message or exc)) from exc


def _plain(obj: Any) -> dict[str, Any]:
    """A Stripe object as a plain dict (the package's objects refuse dict methods)."""
    return dict(obj.to_dict()) if hasattr(obj, "to_dict") else dict(obj)


def intent_answer(stripe_intent: Any) -> Answer:
    intent = _plain(stripe_intent)
    status = str(intent["status"])
    error = intent.get("last_payment_error") or None
    state = _INTENT_STATES.get(status, "created")
    if status == "requires_payment_method" and error:
        state = "declined"
    charge = intent.get("latest_charge")
    return Answer(
        status=state,
        reference=str(intent["id"]),
        amount=int(intent.get("amount_received") or 0) if state == "paid" else int(intent["amount"]),
        payment_reference=str(charge) if charge else str(intent["id"]),
        paid_on=datetime.fromtimestamp(int(intent["created"]), UTC).date() if state == "paid" else None,
        token=intent.get("client_secret"),
        error_code=(error.get("decline_code") or error.get("code")) if error else None,
        error_message=error.get("message") if error else None,
        raw={"id": intent["id"], "status": status},
    )


def refund_answer(stripe_refund: Any) -> Answer:
    refund = _plain(stripe_refund)
    status = str(refund["status"])
    return Answer(
        status=_REFUND_STATES.get(status, "created"),
        reference=str(refund["id"]),
        amount=int(refund["amount"]),
        payment_reference=str(refund["id"]),
        error_code=refund.get("failure_reason") or None,
        raw={"id": refund["id"], "status": status},
    )


def factory(_tenant: Tenant) -> CardClient:
    return CardClient.from_settings()
