"""Invoice use cases: the only code that writes invoices. Each runs in the caller's transaction."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.errors import NotFound
from kvitt.core.pagination import Page, paginate
from kvitt.invoices.batch import create_and_issue
from kvitt.invoices.drafts import create_drafts, delete_draft, update_draft
from kvitt.invoices.issuing import issue, take_numbers
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.invoices.settlement import credit, mark_overdue, record_payment, write_off
from kvitt.tenants.models import Tenant

__all__ = [
    "create_and_issue",
    "create_drafts",
    "credit",
    "delete_draft",
    "events_of",
    "get",
    "get_many",
    "issue",
    "list_page",
    "mark_overdue",
    "record_payment",
    "take_numbers",
    "update_draft",
    "write_off",
]


def get(session: Session, tenant: Tenant, invoice_id: int, *, for_update: bool = False) -> Invoice:
    query = select(Invoice).where(Invoice.tenant_id == tenant.id, Invoice.id == invoice_id)
    if for_update:
        query = query.with_for_update()
    invoice = session.scalar(query)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}", param="invoice")
    return invoice


def get_many(session: Session, tenant: Tenant, invoice_ids: list[int]) -> list[Invoice]:
    found = list(session.scalars(select(Invoice).where(Invoice.tenant_id == tenant.id, Invoice.id.in_(invoice_ids))))
    missing = set(invoice_ids) - {inv.id for inv in found}
    if missing:
        raise NotFound(f"no invoice {min(missing)}", param="invoice")
    return found


def events_of(session: Session, tenant: Tenant, invoice_ids: list[int]) -> dict[int, list[InvoiceEvent]]:
    rows = session.scalars(
        select(InvoiceEvent)
        .where(InvoiceEvent.tenant_id == tenant.id, InvoiceEvent.invoice_id.in_(invoice_ids))
        .order_by(InvoiceEvent.id)
    )
    result: dict[int, list[InvoiceEvent]] = {invoice_id: [] for invoice_id in invoice_ids}
    for event in rows:
        result[event.invoice_id].append(event)
    return result


def list_page(
    session: Session,
    tenant: Tenant,
    *,
    limit: int,
    starting_after: int | None,
    state: str | None = None,
    customer: int | None = None,
    kind: str | None = None,
    invoice_date_from: date | None = None,
    invoice_date_to: date | None = None,
    due_date_from: date | None = None,
    due_date_to: date | None = None,
    number: int | None = None,
    ocr: str | None = None,
) -> Page[Invoice]:
    query = select(Invoice).where(Invoice.tenant_id == tenant.id)
    equal = {
        Invoice.state: state,
        Invoice.customer_id: customer,
        Invoice.kind: kind,
        Invoice.number: number,
        Invoice.ocr: ocr,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    ranges = [
        (Invoice.invoice_date, invoice_date_from, invoice_date_to),
        (Invoice.due_date, due_date_from, due_date_to),
    ]
    for column, low, high in ranges:
        if low is not None:
            query = query.where(column >= low)
        if high is not None:
            query = query.where(column <= high)
    return paginate(session, query, Invoice.id, limit=limit, starting_after=starting_after)
