"""Providers' callbacks: ``/callbacks/swish``, ``/callbacks/swish/refunds``, ``/callbacks/stripe``.

A callback is a hint, never the truth: Kvitt finds the request it names, asks the provider
again, and acts on that answer under the request's row lock (``service.settle``), so a
forged, repeated or late callback books nothing twice. Stripe's webhooks must also carry a
valid ``Stripe-Signature`` for the endpoint secret. Every callback ends in one log line that
says what happened to the money.
"""

from __future__ import annotations

import json
from typing import Any

import stripe
import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from kvitt.checkout import adapters, providers, refunds, service
from kvitt.checkout.models import Refund
from kvitt.checkout.providers import ProviderRefused, ProviderUnavailable
from kvitt.core.config import get_settings
from kvitt.core.db import Database
from kvitt.tenants.models import Tenant

log = structlog.get_logger("kvitt.checkout")
callbacks = APIRouter(include_in_schema=False)
assert adapters  # registers the real adapters
MAX_BODY = 64 * 1024
STRIPE_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled")


@callbacks.post("/callbacks/swish")
async def swish_payment_callback(request: Request) -> PlainTextResponse:
    """Swish posts the payment request as JSON when it ends."""
    reference = _swish_id(await request.body())
    if reference is None:
        return PlainTextResponse("unreadable", status_code=400)
    status, text = await run_in_threadpool(recheck_request, request.app.state.db, "swish", reference)
    return PlainTextResponse(text, status_code=status)


@callbacks.post("/callbacks/swish/refunds")
async def swish_refund_callback(request: Request) -> PlainTextResponse:
    reference = _swish_id(await request.body())
    if reference is None:
        return PlainTextResponse("unreadable", status_code=400)
    status, text = await run_in_threadpool(recheck_refund, request.app.state.db, "swish", reference)
    return PlainTextResponse(text, status_code=status)


@callbacks.post("/callbacks/stripe")
async def stripe_webhook(request: Request) -> PlainTextResponse:
    """Stripe's signed webhook: the event names an object; Kvitt retrieves that object itself."""
    payload = await request.body()
    secret = get_settings().stripe_webhook_secret
    try:
        event = stripe.Webhook.construct_event(payload, request.headers.get("stripe-signature"), secret)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        log.warning("checkout.webhook_refused", reason=str(exc)[:200], outcome="not booked: bad signature or body")
        return PlainTextResponse("bad signature", status_code=400)
    kind, obj = str(event["type"]), event.to_dict()["data"]["object"]
    db = request.app.state.db
    if kind in STRIPE_EVENTS:
        status, text = await run_in_threadpool(recheck_request, db, "card", str(obj["id"]))
    elif kind == "charge.refunded":
        status, text = await run_in_threadpool(recheck_card_refunds, db, str(obj.get("payment_intent") or ""))
    else:
        status, text = 200, "ignored"
    return PlainTextResponse(text, status_code=status)


def _swish_id(body: bytes) -> str | None:
    if len(body) > MAX_BODY:
        return None
    try:
        data = json.loads(body)
        reference = data["id"]
    except (ValueError, KeyError, TypeError):
        log.warning("checkout.callback_unreadable", outcome="not booked: no request id in the callback")
        return None
    return reference if isinstance(reference, str) and 0 < len(reference) <= 64 else None


def recheck_request(db: Database, method: str, reference: str) -> tuple[int, str]:
    """Fetch the request the callback names from the provider and act on that answer."""
    with db.transaction() as session:
        found = service.by_provider_reference(session, method, reference)
        if found is None:
            log.warning("checkout.callback_unknown", method=method, reference=reference, outcome="not booked: unknown")
            return 404, "unknown payment request"
        tenant = _tenant(session, found.tenant_id)
        provider = providers.for_method(method, tenant)
        try:
            answer = provider.fetch(found)
        except (ProviderUnavailable, ProviderRefused) as exc:
            log.warning("checkout.recheck_failed", request=found.id, reason=str(exc), outcome="not booked now: polled")
            return 503, "provider unavailable; will poll"
        finally:
            _close(provider)
        return 200, service.settle(session, tenant, found.id, answer, via="callback")


def recheck_refund(db: Database, method: str, reference: str) -> tuple[int, str]:
    with db.transaction() as session:
        found = refunds.by_provider_reference(session, method, reference)
        if found is None:
            log.warning("checkout.callback_unknown", method=method, refund=reference, outcome="not booked: unknown")
            return 404, "unknown refund"
        return _recheck_one_refund(session, found)


def recheck_card_refunds(db: Database, intent: str) -> tuple[int, str]:
    """``charge.refunded`` names the PaymentIntent: re-check its refunds still open."""
    with db.transaction() as session:
        found = service.by_provider_reference(session, "card", intent)
        if found is None:
            log.warning("checkout.callback_unknown", method="card", reference=intent, outcome="not booked: unknown")
            return 404, "unknown payment request"
        tenant = _tenant(session, found.tenant_id)
        outcomes = [
            _recheck_one_refund(session, refund)[1]
            for refund in refunds.of_request(session, tenant, found.id)
            if refund.state == "created" and refund.provider_reference
        ]
        return 200, ",".join(outcomes) or "unchanged"


def _recheck_one_refund(session: Session, refund: Refund) -> tuple[int, str]:
    tenant = _tenant(session, refund.tenant_id)
    provider = providers.for_method(refund.method, tenant)
    try:
        answer = provider.fetch_refund(refund)
    except (ProviderUnavailable, ProviderRefused) as exc:
        log.warning("checkout.recheck_failed", refund=refund.id, reason=str(exc), outcome="not booked now: polled")
        return 503, "provider unavailable; will poll"
    finally:
        _close(provider)
    return 200, refunds.settle(session, tenant, refund.id, answer, via="callback")


def _tenant(session: Session, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise LookupError(f"no tenant {tenant_id}")
    return tenant


def _close(provider: Any) -> None:
    getattr(provider, "close", lambda: None)()
