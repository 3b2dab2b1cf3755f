"""Invoice use cases: the only code that writes invoices. Each runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, lazyload

from kvitt.core.db import is_postgresql
from kvitt.core.errors import NotFound
from kvitt.core.pagination import Page, paginate
from kvitt.invoices import states
from kvitt.invoices.batch import create_and_issue
from kvitt.invoices.drafts import create_drafts, delete_draft, update_draft
from kvitt.invoices.issuing import issue, take_numbers
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.invoices.settlement import (
    apply_payments,
    credit,
    hand_to_collection,
    mark_overdue,
    provide_payment_release,
    return_from_collection,
    write_off,
)
from kvitt.tenants.models import Tenant

__all__ = [
    "apply_payments",
    "create_and_issue",
    "create_drafts",
    "credit",
    "delete_draft",
    "events_of",
    "get",
    "get_many",
    "get_with_events",
    "hand_to_collection",
    "issue",
    "list_page",
    "mark_overdue",
    "provide_payment_release",
    "return_from_collection",
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


def get_with_events(session: Session, tenant: Tenant, invoice_id: int) -> tuple[Invoice, list[InvoiceEvent]]:
    """An invoice with its lines (one statement, joined) and its timeline (a second one): what a
    read of one invoice needs, without the third round trip of the lines' own select."""
    invoice = session.scalar(
        select(Invoice)
        .options(joinedload(Invoice.lines))
        .where(Invoice.tenant_id == tenant.id, Invoice.id == invoice_id)
    )
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}", param="invoice")
    return invoice, events_of(session, tenant, [invoice.id])[invoice.id]


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


def by_ocr(session: Session, tenant: Tenant, references: Iterable[str]) -> dict[str, Invoice]:
    """Issued invoices by OCR reference (lines not loaded: matching needs the amounts only)."""
    wanted = {reference for reference in references if reference}
    if not wanted:
        return {}
    query = (
        select(Invoice).options(lazyload(Invoice.lines)).where(Invoice.tenant_id == tenant.id, Invoice.ocr.in_(wanted))
    )
    if is_postgresql(session):
        query = query.with_for_update(of=Invoice)
    return {invoice.ocr or "": invoice for invoice in session.scalars(query)}


def open_for_customers(session: Session, tenant: Tenant, customer_ids: Iterable[int]) -> dict[int, list[Invoice]]:
    """Each customer's open invoices, the one due first first."""
    ids = set(customer_ids)
    result: dict[int, list[Invoice]] = {customer_id: [] for customer_id in ids}
    if not ids:
        return result
    query = (
        select(Invoice)
        .options(lazyload(Invoice.lines))
        .where(
            Invoice.tenant_id == tenant.id,
            Invoice.customer_id.in_(ids),
            Invoice.kind == "invoice",
            Invoice.state.in_(states.OPEN_STATES),
        )
        .order_by(Invoice.due_date, Invoice.id)
    )
    if is_postgresql(session):
        query = query.with_for_update(of=Invoice)
    for invoice in session.scalars(query):
        result[invoice.customer_id].append(invoice)
    return result


def open_by_numbers(session: Session, tenant: Tenant, numbers: Iterable[int]) -> list[Invoice]:
    wanted = set(numbers)
    if not wanted:
        return []
    return list(
        session.scalars(
            select(Invoice)
            .options(lazyload(Invoice.lines))
            .where(Invoice.tenant_id == tenant.id, Invoice.number.in_(wanted), Invoice.state.in_(states.OPEN_STATES))
        )
    )


def open_with_remaining(session: Session, tenant: Tenant, amount: int, limit: int) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .options(lazyload(Invoice.lines))
            .where(Invoice.tenant_id == tenant.id, Invoice.remaining == amount, Invoice.state.in_(states.OPEN_STATES))
            .order_by(Invoice.due_date)
            .limit(limit)
        )
    )
