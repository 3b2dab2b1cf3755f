"""Pausing dunning for an invoice or a whole customer, with a reason and an optional end date."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kvitt.core.db import utcnow
from kvitt.core.errors import NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.customers import service as customers
from kvitt.dunning.models import DunningPause
from kvitt.invoices import service as invoices
from kvitt.tenants.models import Tenant


def pause(
    session: Session,
    tenant: Tenant,
    *,
    invoice_id: int | None = None,
    customer_id: int | None = None,
    reason: str,
    until: date | None = None,
    actor: str = "system",
) -> DunningPause:
    if (invoice_id is None) == (customer_id is None):
        raise ValidationFailed("name either an invoice or a customer", param="invoice")
    if not reason.strip():
        raise ValidationFailed("a pause needs a reason", param="reason")
    if invoice_id is not None:
        invoices.get(session, tenant, invoice_id)
    if customer_id is not None:
        customers.get(session, tenant, customer_id)
    row = DunningPause(
        tenant_id=tenant.id,
        invoice_id=invoice_id,
        customer_id=customer_id,
        reason=reason.strip()[:500],
        until=until,
        actor=actor[:100],
    )
    session.add(row)
    session.flush()
    return row


def end(session: Session, tenant: Tenant, pause_id: int) -> DunningPause:
    row = get(session, tenant, pause_id)
    if row.ended_at is None:
        row.ended_at = utcnow()
        session.flush()
    return row


def get(session: Session, tenant: Tenant, pause_id: int) -> DunningPause:
    row = session.scalar(select(DunningPause).where(DunningPause.tenant_id == tenant.id, DunningPause.id == pause_id))
    if row is None:
        raise NotFound(f"no dunning pause {pause_id}", param="dunning_pause")
    return row


def is_active(row: DunningPause, today: date) -> bool:
    return row.ended_at is None and (row.until is None or row.until >= today)


def list_page(
    session: Session,
    tenant: Tenant,
    *,
    limit: int,
    starting_after: int | None,
    invoice: int | None = None,
    customer: int | None = None,
) -> Page[DunningPause]:
    query = select(DunningPause).where(DunningPause.tenant_id == tenant.id)
    if invoice is not None:
        query = query.where(DunningPause.invoice_id == invoice)
    if customer is not None:
        query = query.where(or_(DunningPause.customer_id == customer))
    return paginate(session, query, DunningPause.id, limit=limit, starting_after=starting_after)
