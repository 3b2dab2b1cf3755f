"""What the worker does for checkout: send requests to the provider, poll the ones still open,
cancel the open requests of an invoice settled another way (a subscriber to invoice events),
and pay back through the provider the money a credit note freed (``payments.refund_by_method``).

A provider that cannot be reached (or answers 5xx) makes the job fail and run again with the
outbox's backoff; a provider's refusal ends the request. Calling a provider twice for one
request is harmless: Swish refuses a second PUT of the same instruction id (RP09, then Kvitt
fetches it) and Stripe answers a repeated create with the same idempotency key with the same
PaymentIntent.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.orm import Session

from kvitt.checkout import adapters, providers, refunds, service
from kvitt.checkout.models import CREATED
from kvitt.checkout.providers import ProviderRefused
from kvitt.core.errors import Conflict
from kvitt.core.events import subscribe_batch
from kvitt.core.outbox import OutboxJob, handles
from kvitt.payments import service as payments
from kvitt.tenants.models import Tenant

assert adapters  # registers the real adapters
log = structlog.get_logger("kvitt.checkout")
CHUNK = 500


def _tenant(session: Session, job: OutboxJob) -> Tenant:
    tenant = session.get(Tenant, job.tenant_id)
    if tenant is None:
        raise LookupError(f"no tenant {job.tenant_id}")
    return tenant


def _close(provider: Any) -> None:
    close = getattr(provider, "close", None)
    if close is not None:
        close()


@handles(service.SEND_JOB)
def send_request(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    request = service.get(session, tenant, int(job.payload["request"]), for_update=True)
    if request.state != CREATED or request.sent_at is not None:
        return
    start = service.start_of(session, tenant, request)
    provider = providers.for_method(request.method, tenant)
    try:
        answer = provider.start(request, start)
    except ProviderRefused as exc:
        service.refused(request, exc)
        return
    finally:
        _close(provider)
    service.sent(session, request, answer)
    if answer.status != CREATED:
        service.settle(session, tenant, request.id, answer, via="send")


@handles(service.POLL_JOB)
def poll_request(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    request = service.get(session, tenant, int(job.payload["request"]))
    attempt = int(job.payload.get("attempt", 0))
    if request.state != CREATED:
        return
    if request.sent_at is None:
        service.schedule_poll(session, request, attempt + 1)
        return
    provider = providers.for_method(request.method, tenant)
    try:
        answer = provider.fetch(request)
    finally:
        _close(provider)
    outcome = service.settle(session, tenant, request.id, answer, via="poll")
    if outcome == "pending":
        if service.is_overdue(request):
            service.expire(request)
        else:
            service.schedule_poll(session, request, attempt + 1)


@handles(service.CANCEL_JOB)
def cancel_request(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    request = service.get(session, tenant, int(job.payload["request"]), for_update=True)
    if request.state != CREATED:
        return
    provider = providers.for_method(request.method, tenant)
    try:
        answer = provider.cancel(request)
    except ProviderRefused as exc:
        # The provider does not know it (never arrived) or will not cancel it: ask what it is.
        log.warning("checkout.cancel_refused", request=request.id, code=exc.code)
        answer = provider.fetch(request)
    finally:
        _close(provider)
    outcome = service.cancelled_at_provider(session, tenant, request.id, answer)
    if outcome == "pending":
        raise RuntimeError(f"the provider still has request {request.id} open after the cancel")


@subscribe_batch("invoice.")
def cancel_requests_of_settled_invoices(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> None:
    """An invoice paid another way, credited or written off: its open requests are cancelled
    (one query per 500 invoices, which finds none nearly always)."""
    reasons = {
        int(event["invoice_id"]): service.CANCEL_REASONS[str(event["type"])]
        for event in events
        if event.get("type") in service.CANCEL_REASONS and event.get("invoice_id") is not None
    }
    ids = sorted(reasons)
    for start in range(0, len(ids), CHUNK):
        service.cancel_open_requests(session, tenant_id, {i: reasons[i] for i in ids[start : start + CHUNK]})


@handles(payments.REFUND_BY_METHOD_JOB)
def refund_freed_money(session: Session, job: OutboxJob) -> None:
    """Money freed by crediting a paid invoice goes back the way it came: a refund through the
    provider that took it. If that cannot be (the payment came through no request Kvitt knows,
    or the money was spent or refunded meanwhile), the ``refund_due`` deviation waits for a person."""
    tenant = _tenant(session, job)
    payment_id, amount = int(job.payload["payment"]), int(job.payload["amount"])
    deviation = payments.get_deviation(session, tenant, int(job.payload["deviation"]))
    if deviation.state != "open":
        log.info("checkout.refund_not_needed", deviation=deviation.id, outcome="a person resolved it already")
        return
    request = service.paid_by(session, tenant, payment_id)
    if request is None:
        log.warning("checkout.refund_left_to_staff", payment=payment_id, deviation=deviation.id, outcome="no request")
        return
    reason = f"Kreditering faktura {job.payload.get('invoice_number') or job.payload.get('invoice')}"
    try:
        refund = refunds.create_refund(session, tenant, request.id, amount, reason=reason, actor="credit")
    except Conflict as exc:
        log.warning("checkout.refund_left_to_staff", payment=payment_id, deviation=deviation.id, why=exc.message)
        return
    log.info("checkout.refund_after_credit", refund=refund.id, request=request.id, deviation=deviation.id)


@handles(refunds.SEND_JOB)
def send_refund(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    refunds.send(session, tenant, int(job.payload["refund"]))


@handles(refunds.POLL_JOB)
def poll_refund(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    refunds.poll(session, tenant, int(job.payload["refund"]), int(job.payload.get("attempt", 0)))
