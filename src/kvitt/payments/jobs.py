"""What the worker does for payments: spend credit balances on newly issued invoices."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.events import subscribe_batch
from kvitt.invoices.models import Invoice
from kvitt.payments import service
from kvitt.payments.models import Payment
from kvitt.tenants.models import Tenant

CHUNK = 500


@subscribe_batch("invoice.issued")
def spend_credit_on_new_invoice(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> None:
    """A customer with a credit balance pays their newly issued invoices from it.

    One query for the whole batch finds the customers of the issued invoices (not credit notes)
    that hold money; only those (usually none) go on to ``apply_credit``.
    """
    invoice_ids = sorted({int(event["invoice_id"]) for event in events if event.get("invoice_id") is not None})
    customer_ids: set[int] = set()
    # One query per 500 invoices (a batch of event bundles can name far more than an IN list holds).
    for start in range(0, len(invoice_ids), CHUNK):
        customer_ids |= _holding_credit(session, tenant_id, invoice_ids[start : start + CHUNK])
    if not customer_ids:
        return
    tenant = session.get(Tenant, tenant_id)
    if tenant is not None:
        service.apply_credit(session, tenant, sorted(customer_ids), today=clock.today(), actor="system")


def _holding_credit(session: Session, tenant_id: int, invoice_ids: list[int]) -> set[int]:
    """The customers of these invoices (not credit notes) that have money held as credit."""
    holding = (
        select(Payment.id)
        .where(
            Payment.tenant_id == tenant_id,
            Payment.customer_id == Invoice.customer_id,
            Payment.unallocated > 0,
        )
        .exists()
    )
    return set(
        session.scalars(
            select(Invoice.customer_id)
            .where(
                Invoice.tenant_id == tenant_id,
                Invoice.id.in_(invoice_ids),
                Invoice.kind == "invoice",
                holding,
            )
            .distinct()
        )
    )
