"""What the worker does for payments: spend credit balances on newly issued invoices."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.events import subscribe
from kvitt.invoices import service as invoices
from kvitt.payments import service
from kvitt.tenants.models import Tenant


@subscribe("invoice.issued")
def spend_credit_on_new_invoice(session: Session, tenant_id: int | None, event: dict[str, Any]) -> None:
    tenant = session.get(Tenant, tenant_id) if tenant_id is not None else None
    if tenant is None:
        return
    invoice = invoices.get(session, tenant, int(event["invoice_id"]))
    if invoice.kind == "invoice":
        service.apply_credit(session, tenant, [invoice.customer_id], today=clock.today(), actor="system")
