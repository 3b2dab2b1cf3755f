"""What payments tells the features above it, synchronously, in the payment's own transaction.

A payment that reaches none of the customer's invoices (held as the customer's credit balance, or
a deviation's money given to a customer) publishes no ``invoice.`` event, yet a feature above
payments may keep something per customer that such a payment changes: segments' behaviour row
(how the customer paid last). That feature registers its function here when it is imported (the
app, the worker and the CLI import every feature); payments imports none of them, so the arrows
keep pointing down (docs/architecture.md). Without a registered function nothing is lost: the
daily rebuild computes the row again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy.orm import Session

CustomersPaid = Callable[[Session, int, date, Sequence[int]], None]
_customers_paid: list[CustomersPaid] = []


def on_customers_paid(hook: CustomersPaid) -> CustomersPaid:
    """Register ``hook(session, tenant_id, today, customer_ids)`` (once, whatever the imports)."""
    if hook not in _customers_paid:
        _customers_paid.append(hook)
    return hook


def customers_paid(session: Session, tenant_id: int, today: date, customer_ids: Sequence[int]) -> None:
    """Payments reached these customers but none of their invoices."""
    if customer_ids:
        for hook in _customers_paid:
            hook(session, tenant_id, today, customer_ids)
