"""Paying money back through the provider that took it (Swish refunds, Stripe refunds).

What can be paid back is what the payment still holds: money not allocated to invoices (paid
twice, paid too much, or kept as the customer's credit). The staff ask for it; a job sends it;
the ledger moves it (customer advances 2420 to the account it arrived on) only when the
provider says the refund is paid, once.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvitt.checkout import providers, service
from kvitt.checkout.models import CREATED, PAID, PaymentRequest, Refund
from kvitt.checkout.providers import Answer, ProviderRefused
from kvitt.core import clock, outbox
from kvitt.core.db import utcnow
from kvitt.core.errors import Conflict, NotFound
from kvitt.payments import service as payments
from kvitt.tenants.models import Tenant

log = structlog.get_logger("kvitt.checkout")
SEND_JOB = "checkout.refund.send"
POLL_JOB = "checkout.refund.poll"
POLL_DELAYS = (2, 5, 10, 30, 60)
MAX_POLLS = 60


def create_refund(
    session: Session, tenant: Tenant, request_id: int, amount: int | None, *, reason: str | None, actor: str
) -> Refund:
    request = service.get(session, tenant, request_id, for_update=True)
    if request.state != PAID or request.payment_id is None:
        raise Conflict(
            f"payment request {request.id} is {request.state}: only a paid one can be refunded", code="not_paid"
        )
    payment = payments.get(session, tenant, request.payment_id)
    available = payment.unallocated - _pending(session, tenant, request.id)
    wanted = available if amount is None else amount
    if available <= 0 or not 0 < wanted <= available:
        raise Conflict(
            f"the payment holds {max(available, 0)} öre not used for invoices; only that can be paid back "
            "(money that paid an invoice must first be freed by a credit note or a match)",
            code="nothing_to_refund",
            param="amount",
        )
    refund = Refund(
        tenant_id=tenant.id,
        request_id=request.id,
        method=request.method,
        amount=wanted,
        state=CREATED,
        reason=reason,
        actor=actor,
        booked=False,
        provider_reference=uuid.uuid4().hex.upper() if request.method == "swish" else None,
    )
    session.add(refund)
    session.flush()
    outbox.enqueue(session, SEND_JOB, {"refund": refund.id}, tenant_id=tenant.id, dedupe_key=f"{SEND_JOB}:{refund.id}")
    log.info("checkout.refund_requested", refund=refund.id, request=request.id, amount=wanted)
    return refund


def _pending(session: Session, tenant: Tenant, request_id: int) -> int:
    return int(
        session.scalar(  # type: ignore[arg-type]
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.tenant_id == tenant.id, Refund.request_id == request_id, Refund.state == CREATED
            )
        )
    )


def get(session: Session, tenant: Tenant, refund_id: int, *, for_update: bool = False) -> Refund:
    query = select(Refund).where(Refund.tenant_id == tenant.id, Refund.id == refund_id)
    refund = session.scalar(query.with_for_update() if for_update else query)
    if refund is None:
        raise NotFound(f"no refund {refund_id}", param="refund")
    return refund


def of_request(session: Session, tenant: Tenant, request_id: int) -> list[Refund]:
    return list(
        session.scalars(
            select(Refund).where(Refund.tenant_id == tenant.id, Refund.request_id == request_id).order_by(Refund.id)
        )
    )


def by_provider_reference(session: Session, method: str, reference: str) -> Refund | None:
    return session.scalar(select(Refund).where(Refund.method == method, Refund.provider_reference == reference))


def send(session: Session, tenant: Tenant, refund_id: int) -> None:
    refund = get(session, tenant, refund_id, for_update=True)
    if refund.state != CREATED or refund.booked:
        return
    request = service.get(session, tenant, refund.request_id)
    base = request.details.get("callback_base", "")
    provider = providers.for_method(refund.method, tenant)
    try:
        answer = provider.refund(request, refund, f"{base}/callbacks/{refund.method}/refunds")
    except ProviderRefused as exc:
        _end(refund, exc.code, exc.message)
        return
    finally:
        getattr(provider, "close", lambda: None)()
    refund.provider_reference = answer.reference or refund.provider_reference
    _schedule(session, refund, 0)
    if answer.status != CREATED:
        settle(session, tenant, refund.id, answer, via="send")


def poll(session: Session, tenant: Tenant, refund_id: int, attempt: int) -> None:
    refund = get(session, tenant, refund_id)
    if refund.state != CREATED or refund.provider_reference is None:
        return
    provider = providers.for_method(refund.method, tenant)
    try:
        answer = provider.fetch_refund(refund)
    finally:
        getattr(provider, "close", lambda: None)()
    if settle(session, tenant, refund.id, answer, via="poll") == "pending" and attempt < MAX_POLLS:
        _schedule(session, refund, attempt + 1)


def _schedule(session: Session, refund: Refund, attempt: int) -> None:
    delay = POLL_DELAYS[min(attempt, len(POLL_DELAYS) - 1)]
    outbox.enqueue(
        session,
        POLL_JOB,
        {"refund": refund.id, "attempt": attempt},
        tenant_id=refund.tenant_id,
        run_at=utcnow() + timedelta(seconds=delay),
        dedupe_key=f"{POLL_JOB}:{refund.id}:{attempt}",
    )


def settle(session: Session, tenant: Tenant, refund_id: int, answer: Answer, *, via: str) -> str:
    """Book a refund the provider says is paid, once; end one it refused."""
    refund = get(session, tenant, refund_id, for_update=True)
    if refund.booked or refund.state != CREATED:
        log.info("checkout.refund_unchanged", refund=refund.id, via=via, outcome="already settled")
        return "unchanged"
    if answer.status == CREATED:
        return "pending"
    if answer.status != PAID:
        _end(refund, answer.error_code or answer.status, answer.error_message)
        return "ended"
    request = service.get(session, tenant, refund.request_id, for_update=True)
    payment = payments.get(session, tenant, request.payment_id or 0)
    payments.refund_held(session, tenant, payment, refund.amount, today=clock.today(), actor=f"refund:{refund.actor}")
    refund.state = PAID
    refund.booked = True
    refund.ended_at = utcnow()
    request.refunded = (request.refunded or 0) + refund.amount
    log.info("checkout.refund_booked", refund=refund.id, request=request.id, amount=refund.amount, via=via)
    return "booked"


def _end(refund: Refund, code: str | None, message: str | None) -> None:
    refund.state = "error"
    refund.error_code = (code or None) and code[:40]
    refund.error_message = (message or None) and message[:300]
    refund.ended_at = utcnow()
    log.warning("checkout.refund_failed", refund=refund.id, code=code, outcome="not booked")


def request_of(session: Session, tenant: Tenant, refund: Refund) -> PaymentRequest:
    return service.get(session, tenant, refund.request_id)
