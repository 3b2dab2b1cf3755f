"""What the worker does for checkout: send requests to the provider, poll the ones still open.

A provider that cannot be reached (or answers 5xx) makes the job fail and run again with the
outbox's backoff; a provider's refusal ends the request. Calling a provider twice for one
request is harmless: Swish refuses a second PUT of the same instruction id (RP09, then Kvitt
fetches it) and Stripe answers a repeated create with the same idempotency key with the same
PaymentIntent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kvitt.checkout import adapters, providers, refunds, service
from kvitt.checkout.models import CREATED
from kvitt.checkout.providers import ProviderRefused
from kvitt.core.outbox import OutboxJob, handles
from kvitt.tenants.models import Tenant

assert adapters  # registers the real adapters


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


@handles(refunds.SEND_JOB)
def send_refund(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    refunds.send(session, tenant, int(job.payload["refund"]))


@handles(refunds.POLL_JOB)
def poll_refund(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    refunds.poll(session, tenant, int(job.payload["refund"]), int(job.payload.get("attempt", 0)))
