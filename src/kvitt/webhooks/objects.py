"""The object an event is about, in the same shape the API gives it (``data.object``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.config import get_settings, web_base_url
from kvitt.tenants.models import Tenant


def object_of(session: Session, tenant: Tenant, event: dict[str, Any]) -> dict[str, Any] | None:
    """The invoice, payment or customer the event names, as the API shows it; None if gone."""
    return objects_of(session, tenant, [event])[0]


def objects_of(session: Session, tenant: Tenant, events: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """:func:`object_of` for many events, in their order, with one query per kind of object
    (invoices with their lines, payments with their allocations, customers), not one per event."""
    subjects = [_subject(event) for event in events]
    wanted: dict[str, set[int]] = {"invoice": set(), "payment": set(), "customer": set()}
    for subject in subjects:
        if subject is not None:
            wanted[subject[0]].add(subject[1])
    found: dict[str, dict[int, dict[str, Any]]] = {
        "invoice": _invoices(session, tenant, wanted["invoice"]) if wanted["invoice"] else {},
        "payment": _payments(session, tenant, wanted["payment"]) if wanted["payment"] else {},
        "customer": _customers(session, tenant, wanted["customer"]) if wanted["customer"] else {},
    }
    return [None if subject is None else found[subject[0]].get(subject[1]) for subject in subjects]


def _subject(event: dict[str, Any]) -> tuple[str, int] | None:
    for kind in ("invoice", "payment", "customer"):
        value = event.get(f"{kind}_id")
        if value is not None:
            try:
                return kind, int(value)
            except (TypeError, ValueError):
                return None
    return None


def _invoices(session: Session, tenant: Tenant, ids: set[int]) -> dict[int, dict[str, Any]]:
    from kvitt.invoices.api import to_out
    from kvitt.invoices.models import Invoice

    base_url = web_base_url(get_settings())
    # Invoice.lines loads "selectin": one more statement for the lines of all of them.
    rows = session.scalars(select(Invoice).where(Invoice.tenant_id == tenant.id, Invoice.id.in_(ids)))
    return {invoice.id: to_out(invoice, base_url).model_dump(mode="json", exclude={"events"}) for invoice in rows}


def _payments(session: Session, tenant: Tenant, ids: set[int]) -> dict[int, dict[str, Any]]:
    from kvitt.payments.api import payment_out
    from kvitt.payments.models import Payment

    payments = list(session.scalars(select(Payment).where(Payment.tenant_id == tenant.id, Payment.id.in_(ids))))
    return {out.id: out.model_dump(mode="json") for out in payment_out(session, tenant, payments)} if payments else {}


def _customers(session: Session, tenant: Tenant, ids: set[int]) -> dict[int, dict[str, Any]]:
    from kvitt.customers import service as customers
    from kvitt.customers.schemas import CustomerOut

    return {
        customer_id: CustomerOut.model_validate(customer).model_dump(mode="json")
        for customer_id, customer in customers.get_many(session, tenant, ids).items()
    }
