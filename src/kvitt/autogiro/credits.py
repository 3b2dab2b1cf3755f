"""Credits: money paid out to a payer by autogiro (TK32, "utbetalning"), and what their results do.

A credit pays back what the tenant holds for the customer (their credit balance: an overpayment,
a credited invoice that was paid): at most that balance less the credits already on their way.
It goes into the next order file as a TK32 dated the next banking day, then Bankgirot's payment
specification says whether it was paid (status 0: the refund is booked, customer advances 2420
to the bank, from the customer's payments that hold money, oldest first) or not (any other
status, or a rejected order: the credit fails and the money stays the customer's credit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvitt.autogiro import bankdays
from kvitt.autogiro import service as mandates
from kvitt.autogiro.models import Credit, Mandate
from kvitt.core import events
from kvitt.core.db import is_postgresql, utcnow
from kvitt.core.errors import Conflict, InvalidState, NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.customers import service as customers
from kvitt.ledger import service as ledger
from kvitt.ledger.accounts import BANK, CUSTOMER_ADVANCES
from kvitt.ledger.journal import EntryDraft
from kvitt.payments import service as payments
from kvitt.payments.models import Payment
from kvitt.tenants.models import Tenant

ON_THE_WAY = ("pending", "sent")
DEFAULT_REFERENCE = "ÅTERBETALNING"


def create(
    session: Session,
    tenant: Tenant,
    customer_id: int,
    amount: int,
    *,
    reference: str | None = None,
    reason: str | None = None,
    actor: str,
) -> Credit:
    """A credit to the customer's account through their active mandate, pending until the next file."""
    customers.get(session, tenant, customer_id)  # 404 for another tenant's customer
    mandate = mandates.active_mandate_for(session, tenant, customer_id)
    if mandate is None:
        raise Conflict(
            f"customer {customer_id} has no active autogiro mandate to pay out through",
            param="customer",
            code="no_active_mandate",
        )
    if amount <= 0:
        raise ValidationFailed("the amount must be greater than 0", param="amount")
    available = payments.credit_balance(session, tenant, customer_id) - on_the_way(session, tenant, customer_id)
    if amount > available:
        raise Conflict(
            f"the customer's credit balance less credits on their way is {max(available, 0)} öre; "
            "only that can be paid out",
            param="amount",
            code="nothing_to_refund",
        )
    text = (reference or DEFAULT_REFERENCE).strip()
    if not text or len(text) > 16:
        raise ValidationFailed("a reference is 1 to 16 characters", param="reference")
    try:
        text.encode("iso-8859-1")
    except UnicodeEncodeError:
        raise ValidationFailed("the reference must be written in ISO-8859-1 (Latin-1)", param="reference") from None
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
        raise ValidationFailed("the reference holds a control character", param="reference")
    credit = Credit(
        tenant_id=tenant.id,
        customer_id=customer_id,
        mandate_id=mandate.id,
        payer_number=mandate.payer_number,
        amount=amount,
        reference=text,
        reason=reason,
        status="pending",
        actor=actor[:120],
    )
    session.add(credit)
    session.flush()
    _publish(session, credit, "created")
    return credit


def on_the_way(session: Session, tenant: Tenant, customer_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Credit.amount), 0)).where(
            Credit.tenant_id == tenant.id, Credit.customer_id == customer_id, Credit.status.in_(ON_THE_WAY)
        )
    )
    return int(total or 0)


def get(session: Session, tenant: Tenant, credit_id: int) -> Credit:
    credit = session.scalar(select(Credit).where(Credit.tenant_id == tenant.id, Credit.id == credit_id))
    if credit is None:
        raise NotFound(f"no autogiro credit {credit_id}", param="id")
    return credit


def cancel(session: Session, tenant: Tenant, credit_id: int) -> Credit:
    """A credit not yet sent is dropped; one sent is Bankgirot's to answer."""
    credit = get(session, tenant, credit_id)
    if credit.status != "pending":
        raise InvalidState(f"autogiro credit {credit.id} is {credit.status}", available_actions=[])
    credit.status, credit.result_text = "cancelled", "cancelled before it was sent"
    session.flush()
    _publish(session, credit, "cancelled")
    return credit


def list_page(
    session: Session,
    tenant: Tenant,
    *,
    limit: int,
    starting_after: int | None,
    customer_id: int | None = None,
    status: str | None = None,
) -> Page[Credit]:
    return paginate(
        session,
        select(Credit).where(Credit.tenant_id == tenant.id),
        Credit.id,
        limit=limit,
        starting_after=starting_after,
        equal={Credit.customer_id: customer_id, Credit.status: status},
    )


def due(session: Session, tenant: Tenant, *, day: date) -> list[Credit]:
    """The pending credits that go into a file written on ``day`` (dated the next banking day).
    A credit whose mandate ended is cancelled; one whose mandate is changing payer number waits."""
    query = select(Credit).where(Credit.tenant_id == tenant.id, Credit.status == "pending").order_by(Credit.id)
    if is_postgresql(session):
        query = query.with_for_update(of=Credit)
    found = list(session.scalars(query))
    if not found:
        return []
    by_id = {
        m.id: m
        for m in session.scalars(
            select(Mandate).where(Mandate.tenant_id == tenant.id, Mandate.id.in_({c.mandate_id for c in found}))
        )
    }
    ready = []
    pay_on = bankdays.banking_days_after(day, 1)
    for credit in found:
        mandate = by_id.get(credit.mandate_id)
        if mandate is None or mandate.status != "active":
            credit.status, credit.result_text = "cancelled", "the mandate ended before the credit was sent"
            _publish(session, credit, "cancelled")
            continue
        if mandate.new_payer_number is not None:
            continue
        credit.payer_number, credit.pay_on = mandate.payer_number, pay_on
        ready.append(credit)
    session.flush()
    return ready


def mark_sent(credits: list[Credit]) -> None:
    now = utcnow()
    for credit in credits:
        credit.status, credit.sent_at = "sent", now


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One credit result from a file of Bankgirot (a TK32 of a specification or a rejected order)."""

    payer_number: str
    amount: int
    on: date | None
    ok: bool
    code: str
    text: str


def find(session: Session, tenant: Tenant, result: Result) -> Credit | None:
    query = select(Credit).where(
        Credit.tenant_id == tenant.id,
        Credit.payer_number == result.payer_number,
        Credit.amount == result.amount,
        Credit.status.in_(("sent", "paid", "failed")),
    )
    if result.on is not None:
        query = query.where(Credit.pay_on == result.on)
    candidates = list(session.scalars(query.order_by(Credit.id)))
    waiting = [c for c in candidates if c.status == "sent"]
    chosen = waiting or candidates
    return chosen[0] if chosen else None


def apply(session: Session, tenant: Tenant, results: list[Result], *, today: date, actor: str) -> dict[str, int]:
    """Book the paid credits as refunds, fail the others; a result applied before changes nothing."""
    counts = {"paid": 0, "failed": 0, "applied_before": 0, "unknown": 0}
    for result in results:
        credit = find(session, tenant, result)
        if credit is None:
            counts["unknown"] += 1
        elif credit.status != "sent":
            counts["applied_before"] += 1
        elif result.ok:
            _book(session, tenant, credit, on=min(result.on or today, today), actor=actor)
            credit.status, credit.result_code, credit.result_text = "paid", result.code, result.text
            _publish(session, credit, "paid")
            counts["paid"] += 1
        else:
            credit.status, credit.result_code, credit.result_text = "failed", result.code, result.text
            _publish(session, credit, "failed", code=result.code, reason=result.text)
            counts["failed"] += 1
    session.flush()
    return counts


def _book(session: Session, tenant: Tenant, credit: Credit, *, on: date, actor: str) -> None:
    """The money went out: from the customer's payments that hold money, oldest first; what they
    no longer hold (spent on an invoice since the credit was asked for) is booked against the
    customer's advances all the same (their balance then shows what they owe)."""
    holders = session.scalars(
        select(Payment)
        .where(Payment.tenant_id == tenant.id, Payment.customer_id == credit.customer_id, Payment.unallocated > 0)
        .order_by(Payment.date, Payment.id)
    )
    left = credit.amount
    for payment in holders:
        take = min(payment.unallocated, left)
        if take <= 0:
            break
        payments.refund_held(session, tenant, payment, take, today=on, actor=actor)
        left -= take
    if left > 0:
        chart = ledger.chart_for(tenant)
        entry = EntryDraft(on, "refund", f"Återbetalning autogiro {credit.reference} (utan innehållna medel)")
        entry.add(chart[CUSTOMER_ADVANCES], left, customer_id=credit.customer_id)
        entry.add(chart[BANK], -left)
        ledger.post(session, tenant.id, [entry])


def _publish(session: Session, credit: Credit, what: str, **data: Any) -> None:
    events.publish(
        session,
        credit.tenant_id,
        [
            {
                "type": f"autogiro.credit.{what}",
                "customer_id": credit.customer_id,
                "data": {
                    "credit": credit.id,
                    "amount": credit.amount,
                    "payer_number": credit.payer_number,
                    "status": credit.status,
                    **data,
                },
            }
        ],
    )
