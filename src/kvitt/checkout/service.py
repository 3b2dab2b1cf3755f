"""Payment requests: asked for, sent through the outbox, settled once from the provider's answer.

- ``create_request``: the invoice's remaining amount, decided here; refused for an invoice that
  is not open. The call to the provider is a job (``checkout.send``) in the same transaction.
- ``settle``: what the provider says now (fetched by Kvitt, never taken from a callback). A
  request is booked at most once: its row is locked, and a request already ``paid`` changes
  nothing; paid money becomes an ordinary payment through ``payments.receive`` (journal lines,
  allocation, the invoice's ``paid`` event, domain events, webhooks), on the bank account for
  Swish and the card clearing account (BAS 1580) for cards. Money that arrives for a request
  that had ended (expired, declined) is still booked: it is real.
- Every outcome writes one log line that says what happened to the money.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.checkout.models import CANCELLED, CREATED, EXPIRED, FINAL, PAID, PaymentRequest
from kvitt.checkout.providers import Answer, ProviderRefused, Start
from kvitt.core import clock, outbox
from kvitt.core.bas import BANK, CARD_CLEARING
from kvitt.core.config import get_settings
from kvitt.core.db import utcnow
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.formats import swish_commerce as codec
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.payments import service as payments
from kvitt.payments.models import Payment
from kvitt.tenants.models import Tenant

log = structlog.get_logger("kvitt.checkout")
ACTOR = "checkout"
SEND_JOB = "checkout.send"
POLL_JOB = "checkout.poll"
CANCEL_JOB = "checkout.cancel"
METHODS = ("swish", "card")
# Seconds between polls of a request no callback has ended (the last one repeats).
POLL_DELAYS = (2, 3, 5, 10, 20, 30, 60)
# A request still open after this is given up as expired (Swish ends its own after 3 minutes).
GIVE_UP_AFTER = timedelta(minutes=30)
# A payer is waiting on the page: the send job and the polls go ahead of a backlog of a
# billing day's deliveries by the outbox's priority (claimed higher first, then oldest first).
PAYER_WAITING = outbox.PERSON_WAITING
_NOT_PAYABLE = {
    states.DRAFT: ("invoice_not_issued", "is a draft: issue it first"),
    states.PAID: ("invoice_paid", "is already paid"),
    states.CREDITED: ("invoice_credited", "is credited"),
    states.WRITTEN_OFF: ("invoice_written_off", "is written off"),
}


@dataclass
class Asked:
    method: str
    payer_alias: str | None = None


def create_request(
    session: Session, tenant: Tenant, invoice_id: int, asked: Asked, *, callback_base: str, actor: str
) -> PaymentRequest:
    """A payment request for what is left on the invoice; the provider is called by a job."""
    invoice = invoices.get(session, tenant, invoice_id, for_update=True)
    payable(invoice)
    request = PaymentRequest(
        tenant_id=tenant.id,
        invoice_id=invoice.id,
        method=asked.method,
        state=CREATED,
        amount=invoice.remaining,
        currency=tenant.currency or "SEK",
        refunded=0,
        details={"callback_base": callback_base.rstrip("/"), "actor": actor},
    )
    if asked.method == "swish":
        _swish_request(tenant, request, asked)
    elif asked.method == "card":
        _card_request(request, asked)
    else:
        raise ValidationFailed(f"method must be one of {', '.join(METHODS)}", param="method")
    session.add(request)
    session.flush()
    outbox.enqueue(
        session,
        SEND_JOB,
        {"request": request.id},
        tenant_id=tenant.id,
        dedupe_key=f"{SEND_JOB}:{request.id}",
        priority=PAYER_WAITING,
    )
    log.info("checkout.requested", request=request.id, invoice=invoice.id, method=request.method, amount=request.amount)
    return request


def payable(invoice: Invoice) -> None:
    """Refuse a request for an invoice that is not open (or is a credit note)."""
    if invoice.kind != "invoice":
        raise Conflict(f"invoice {invoice.id} is a credit note: nothing to pay", code="invoice_not_payable")
    if invoice.state in _NOT_PAYABLE or invoice.remaining <= 0:
        code, why = _NOT_PAYABLE.get(invoice.state, ("invoice_paid", "has nothing left to pay"))
        raise Conflict(f"invoice {invoice.number or invoice.id} {why}; nothing to pay", code=code, param="invoice")


def _swish_request(tenant: Tenant, request: PaymentRequest, asked: Asked) -> None:
    payee = tenant.swish_number or get_settings().swish_payee_alias
    if not payee:
        raise Conflict("Swish is not set up: the tenant has no Swish number", code="swish_not_enabled")
    if request.amount > codec.MAX_AMOUNT_ORE:
        raise Conflict("the amount is larger than Swish can carry", code="amount_too_large")
    alias = None
    if asked.payer_alias:
        try:
            alias = codec.payer_alias(asked.payer_alias)
        except codec.SwishFieldError:
            raise ValidationFailed(
                "payer_alias: a Swedish mobile number, e.g. 46701234567 or 070-123 45 67", param="payer_alias"
            ) from None
    request.flow = "ecommerce" if alias else "mcommerce"
    request.payer_alias = alias
    request.provider_reference = uuid.uuid4().hex.upper()
    request.details = {**request.details, "payee_alias": "".join(ch for ch in payee if ch.isdigit())}


def _card_request(request: PaymentRequest, asked: Asked) -> None:
    if asked.payer_alias:
        raise ValidationFailed("payer_alias is for Swish only", param="payer_alias")
    if not get_settings().stripe_secret_key:
        raise Conflict("card payments are not set up (KVITT_STRIPE_SECRET_KEY)", code="card_not_enabled")
    request.flow = "card"


# --- reading ------------------------------------------------------------------------------------


def get(session: Session, tenant: Tenant, request_id: int, *, for_update: bool = False) -> PaymentRequest:
    query = select(PaymentRequest).where(PaymentRequest.tenant_id == tenant.id, PaymentRequest.id == request_id)
    if for_update:
        query = query.with_for_update()
    request = session.scalar(query)
    if request is None:
        raise NotFound(f"no payment request {request_id}", param="payment_request")
    return request


def for_invoice(session: Session, tenant: Tenant, invoice_id: int) -> list[PaymentRequest]:
    invoices.get(session, tenant, invoice_id)
    return list(
        session.scalars(
            select(PaymentRequest)
            .where(PaymentRequest.tenant_id == tenant.id, PaymentRequest.invoice_id == invoice_id)
            .order_by(PaymentRequest.id)
        )
    )


def find_for_invoice(session: Session, tenant_id: int, invoice_id: int, request_id: int) -> PaymentRequest | None:
    """A request of this invoice (the web invoice's token names the invoice, the path the request)."""
    return session.scalar(
        select(PaymentRequest).where(
            PaymentRequest.tenant_id == tenant_id,
            PaymentRequest.invoice_id == invoice_id,
            PaymentRequest.id == request_id,
        )
    )


def paid_by(session: Session, tenant: Tenant, payment_id: int) -> PaymentRequest | None:
    """The request whose booking made this payment (none for bankgiro or manual money)."""
    return session.scalar(
        select(PaymentRequest)
        .where(PaymentRequest.tenant_id == tenant.id, PaymentRequest.payment_id == payment_id)
        .order_by(PaymentRequest.id)
        .limit(1)
    )


def by_provider_reference(session: Session, method: str, reference: str) -> PaymentRequest | None:
    """The request a provider's callback names (the provider's id is unique per method)."""
    return session.scalar(
        select(PaymentRequest).where(PaymentRequest.method == method, PaymentRequest.provider_reference == reference)
    )


# --- the provider's side ------------------------------------------------------------------------


def start_of(session: Session, tenant: Tenant, request: PaymentRequest) -> Start:
    invoice = invoices.get(session, tenant, request.invoice_id)
    reference = invoice.ocr or str(invoice.number)
    base = request.details.get("callback_base", "")
    return Start(
        amount=request.amount,
        currency=request.currency,
        reference=reference,
        message=f"Faktura {invoice.number} {tenant.name}",
        payee_alias=request.details.get("payee_alias"),
        payer_alias=request.payer_alias,
        callback_url=f"{base}/callbacks/{request.method}",
        invoice_id=invoice.id,
        tenant_id=tenant.id,
    )


def sent(session: Session, request: PaymentRequest, answer: Answer) -> None:
    """The provider took the request: keep its id and token, and poll it until it ends."""
    request.sent_at = utcnow()
    request.provider_reference = answer.reference or request.provider_reference
    request.provider_token = answer.token
    log.info("checkout.sent", request=request.id, method=request.method, reference=request.provider_reference)
    schedule_poll(session, request, 0)


def refused(request: PaymentRequest, exc: ProviderRefused) -> None:
    """The provider refused the request for good: it ends, nothing is booked."""
    _end(request, exc.status, exc.code, exc.message)
    log.warning("checkout.refused", request=request.id, code=exc.code, outcome="not booked: refused by the provider")


def schedule_poll(session: Session, request: PaymentRequest, attempt: int) -> None:
    delay = POLL_DELAYS[min(attempt, len(POLL_DELAYS) - 1)]
    outbox.enqueue(
        session,
        POLL_JOB,
        {"request": request.id, "attempt": attempt},
        tenant_id=request.tenant_id,
        run_at=utcnow() + timedelta(seconds=delay),
        dedupe_key=f"{POLL_JOB}:{request.id}:{attempt}",
        priority=PAYER_WAITING,
    )


def settle(session: Session, tenant: Tenant, request_id: int, answer: Answer, *, via: str) -> str:
    """Act on the provider's answer, once. Returns ``booked``, ``ended``, ``pending`` or ``unchanged``."""
    request = get(session, tenant, request_id, for_update=True)
    if request.state == PAID:
        log.info("checkout.unchanged", request=request.id, via=via, outcome="already booked: nothing to do")
        return "unchanged"
    if answer.status == PAID:
        _book(session, tenant, request, answer, via=via)
        return "booked"
    if request.state in FINAL:
        log.info("checkout.unchanged", request=request.id, via=via, state=request.state, outcome="already ended")
        return "unchanged"
    request.provider_status = str(answer.raw.get("status") or answer.status)[:40]
    if answer.status == CREATED:
        return "pending"
    _end(request, answer.status, answer.error_code, answer.error_message)
    log.info("checkout.ended", request=request.id, via=via, state=request.state, code=request.error_code)
    return "ended"


# --- cancelling requests for an invoice that was settled another way --------------------------

# Why a request is cancelled, by the invoice event that made it pointless (its error code).
SETTLED_ANOTHER_WAY = "invoice_settled"
CANCEL_REASONS = {
    "invoice.paid": "the invoice was paid another way",
    "invoice.credited": "the invoice was credited",
    "invoice.written_off": "the invoice was written off",
}


def cancel_open_requests(session: Session, tenant_id: int, reasons: dict[int, str]) -> list[int]:
    """End the open requests of these invoices (invoice id -> why); returns the requests cancelled.

    A request the provider has not been sent yet simply ends here (its send job finds it ended);
    one that was sent is cancelled at the provider by a job (``checkout.cancel``), which acts on
    the provider's answer: ``cancelled``, or ``paid`` when the payer was quicker (the money is
    real, so it is booked: the customer's credit with an ``already_settled`` deviation).
    """
    if not reasons:
        return []
    open_requests = list(
        session.scalars(
            select(PaymentRequest)
            .where(
                PaymentRequest.tenant_id == tenant_id,
                PaymentRequest.invoice_id.in_(sorted(reasons)),
                PaymentRequest.state == CREATED,
            )
            .order_by(PaymentRequest.id)
            .with_for_update()
        )
    )
    for request in open_requests:
        why = reasons[request.invoice_id]
        if request.sent_at is None:
            _end(request, CANCELLED, SETTLED_ANOTHER_WAY, why)
            log.info("checkout.cancelled", request=request.id, why=why, outcome="not booked: never sent")
            continue
        request.details = {**request.details, "cancel_reason": why}
        outbox.enqueue(
            session,
            CANCEL_JOB,
            {"request": request.id},
            tenant_id=tenant_id,
            dedupe_key=f"{CANCEL_JOB}:{request.id}",
            priority=PAYER_WAITING,
        )
    return [request.id for request in open_requests]


def cancelled_at_provider(session: Session, tenant: Tenant, request_id: int, answer: Answer) -> str:
    """Act on the provider's answer to a cancel, as on any answer Kvitt fetched (``settle``)."""
    request = get(session, tenant, request_id)
    if answer.status == CANCELLED and not answer.error_message:
        answer.error_code = answer.error_code or SETTLED_ANOTHER_WAY
        answer.error_message = str(request.details.get("cancel_reason") or "cancelled by Kvitt")
    return settle(session, tenant, request_id, answer, via="cancel")


def expire(request: PaymentRequest) -> None:
    if request.state == CREATED:
        _end(request, EXPIRED, None, "no answer from the provider in time")
        log.warning("checkout.expired", request=request.id, outcome="not booked: no answer in time")


def is_overdue(request: PaymentRequest) -> bool:
    return utcnow() - request.created_at > GIVE_UP_AFTER


def _end(request: PaymentRequest, state: str, code: str | None, message: str | None) -> None:
    request.state = state if state in (CANCELLED, EXPIRED, "declined", "error") else "error"
    request.error_code = (code or None) and code[:40]
    request.error_message = (message or None) and message[:300]
    request.ended_at = utcnow()


def _book(session: Session, tenant: Tenant, request: PaymentRequest, answer: Answer, *, via: str) -> None:
    amount = answer.amount if answer.amount is not None else request.amount
    if amount != request.amount:
        log.warning("checkout.amount_differs", request=request.id, asked=request.amount, paid=amount)
    invoice = invoices.get(session, tenant, request.invoice_id, for_update=True)
    today = clock.today()
    movement = answer.payment_reference or request.provider_reference or str(request.id)
    incoming = payments.Incoming(
        amount,
        today,
        request.method,
        reference=invoice.ocr or str(invoice.number),
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        bank_serial=f"{request.method}:{movement}"[:40],
        payer_name=None,
        payer_account=request.payer_alias,
        details={"payment_request": request.id, "provider_reference": request.provider_reference},
        account=CARD_CLEARING if request.method == "card" else BANK,
    )
    received = payments.receive(session, tenant, [incoming], file_id=None, today=today, actor=ACTOR)
    payment_id = received.payments[0] if received.payments else _already_booked(session, tenant, incoming)
    request.state = PAID
    request.payment_id = payment_id
    request.paid_amount = amount
    request.error_code = request.error_message = None
    request.ended_at = utcnow()
    request.details = {**request.details, "payment_reference": movement, "paid_via": via}
    log.info("checkout.booked", request=request.id, payment=payment_id, amount=amount, via=via, outcome="booked")


def _already_booked(session: Session, tenant: Tenant, incoming: payments.Incoming) -> int | None:
    """The payment this movement already became (the bank key matched)."""
    key = payments.bank_key(incoming)
    found = session.scalar(select(Payment.id).where(Payment.tenant_id == tenant.id, Payment.bank_key == key))
    log.warning("checkout.duplicate_movement", payment=found, outcome="already booked: not booked again")
    return found
