"""The object an event is about, in the same shape the API gives it (``data.object``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kvitt.core.config import get_settings, web_base_url
from kvitt.core.errors import NotFound
from kvitt.tenants.models import Tenant


def object_of(session: Session, tenant: Tenant, event: dict[str, Any]) -> dict[str, Any] | None:
    """The invoice, payment or customer the event names, as the API shows it; None if gone."""
    try:
        if event.get("invoice_id") is not None:
            return _invoice(session, tenant, int(event["invoice_id"]))
        if event.get("payment_id") is not None:
            return _payment(session, tenant, int(event["payment_id"]))
        if event.get("customer_id") is not None:
            return _customer(session, tenant, int(event["customer_id"]))
    except NotFound:
        return None
    return None


def _invoice(session: Session, tenant: Tenant, invoice_id: int) -> dict[str, Any]:
    from kvitt.invoices import service as invoices
    from kvitt.invoices.api import to_out

    invoice = invoices.get(session, tenant, invoice_id)
    return to_out(invoice, web_base_url(get_settings())).model_dump(mode="json", exclude={"events"})


def _payment(session: Session, tenant: Tenant, payment_id: int) -> dict[str, Any]:
    from kvitt.payments import service as payments
    from kvitt.payments.api import payment_out

    payment = payments.get(session, tenant, payment_id)
    return payment_out(session, tenant, [payment])[0].model_dump(mode="json")


def _customer(session: Session, tenant: Tenant, customer_id: int) -> dict[str, Any]:
    from kvitt.customers import service as customers
    from kvitt.customers.schemas import CustomerOut

    return CustomerOut.model_validate(customers.get(session, tenant, customer_id)).model_dump(mode="json")
