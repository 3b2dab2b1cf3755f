"""Setting up invoices to dun, and driving days."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from kvitt.core.db import Database
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.dunning import service
from kvitt.dunning.tick import TickResult
from kvitt.invoices import service as invoices
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.tenants.models import Tenant
from tests.conftest import TENANT_A, make_tenant


def tenant_with(db: Database, **settings: Any) -> int:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        for key, value in settings.items():
            setattr(tenant, key, value)
    return tenant_id


def load(session: Any, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    return tenant


def add_customers(db: Database, tenant_id: int, count: int, *, prefix: str = "K", **fields: Any) -> list[int]:
    with db.transaction() as session:
        tenant = load(session, tenant_id)
        return [
            customers.create(
                session, tenant, CustomerCreate(customer_no=f"{prefix}{n}", name=f"Kund {prefix}{n}", **fields)
            ).id
            for n in range(count)
        ]


def issue(
    db: Database, tenant_id: int, customer_ids: list[int], *, amount: int, invoice_date: date, due_date: date
) -> list[int]:
    """One invoice of ``amount`` öre (0 % VAT, so the total is the amount) per customer."""
    with db.transaction() as session:
        tenant = load(session, tenant_id)
        inputs = [
            InvoiceCreate(
                customer=customer_id,
                lines=[LineIn(description="Medlemsavgift", quantity=Decimal(1), unit_price=amount, vat_rate=0)],
                invoice_date=invoice_date,
                due_date=due_date,
                invoice_fee=False,
            )
            for customer_id in customer_ids
        ]
        return invoices.create_and_issue(session, tenant, inputs, today=invoice_date, actor="test")


def tick(db: Database, tenant_id: int, day: date) -> TickResult:
    with db.transaction() as session:
        tenant = load(session, tenant_id)
        invoices.mark_overdue(session, tenant, today=day)
        return service.run(session, tenant, today=day)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]
