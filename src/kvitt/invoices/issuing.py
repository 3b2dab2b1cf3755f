"""Issuing: number, OCR, dates, buyer snapshot and the ledger entry, in the caller's transaction.

The numbers come from one ``UPDATE number_series ... RETURNING``: the row lock it takes is
held until the transaction ends, so concurrent issues queue on it, and a transaction that
rolls back gives its numbers back. The series has no gaps and no duplicates.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kvitt.core.db import is_postgresql, utcnow
from kvitt.core.errors import ValidationFailed
from kvitt.customers import service as customers
from kvitt.customers.models import Customer
from kvitt.formats.ocr import make_reference
from kvitt.invoices import states
from kvitt.invoices.models import Invoice, NumberSeries
from kvitt.invoices.postings import document_entry
from kvitt.invoices.timeline import Happening, record
from kvitt.ledger import service as ledger
from kvitt.tenants.models import Tenant

INVOICE_SERIES = "invoice"


def take_numbers(session: Session, tenant_id: int, count: int, series: str = INVOICE_SERIES) -> list[int]:
    """Reserve the next ``count`` numbers of the series for this transaction."""
    after = session.scalar(
        update(NumberSeries)
        .where(NumberSeries.tenant_id == tenant_id, NumberSeries.name == series)
        .values(next_value=NumberSeries.next_value + count)
        .returning(NumberSeries.next_value)
        # The series row is never loaded as an object: no need to look through the session.
        .execution_options(synchronize_session=False)
    )
    if after is None:
        # A series starts at 1 the first time a number is taken. Two first issues at once: the
        # second insert waits for the first and does nothing, then both take turns on the row.
        session.execute(
            _insert(session).values(tenant_id=tenant_id, name=series, next_value=1).on_conflict_do_nothing()
        )
        return take_numbers(session, tenant_id, count, series)
    return list(range(after - count, after))


def _insert(session: Session) -> Any:
    if is_postgresql(session):
        return postgresql_insert(NumberSeries)
    return sqlite_insert(NumberSeries)


def issue(session: Session, tenant: Tenant, invoices: list[Invoice], *, today: date, actor: str) -> None:
    """Issue drafts (one or many) in one transaction: all of them, or none on any error."""
    for invoice in invoices:
        states.require_action(invoice.kind, invoice.state, "issue")
        if not invoice.lines:
            raise ValidationFailed(f"invoice {invoice.id} has no lines", param="lines", code="invoice_empty")
    invoices = sorted(invoices, key=lambda inv: inv.id)
    buyers = customers.get_many(session, tenant, {inv.customer_id for inv in invoices})
    numbers = take_numbers(session, tenant.id, len(invoices))
    issued_at = utcnow()
    for invoice, number in zip(invoices, numbers, strict=True):
        fields = issue_fields(
            tenant,
            number=number,
            invoice_date=invoice.invoice_date,
            due_date=invoice.due_date,
            terms=invoice.payment_terms_days,
            today=today,
            buyer=buyers[invoice.customer_id],
            total=invoice.total,
            issued_at=issued_at,
        )
        for name, value in fields.items():
            setattr(invoice, name, value)
    session.flush()
    chart = ledger.chart_for(tenant)
    ledger.post(session, tenant.id, [document_entry(chart, inv, receivable_of=inv.id) for inv in invoices])
    record(
        session, tenant.id, [issued_happening(inv.id, inv.number or 0, inv.ocr, inv.total, actor) for inv in invoices]
    )


def issue_fields(
    tenant: Tenant,
    *,
    number: int,
    invoice_date: date | None,
    due_date: date | None,
    terms: int | None,
    today: date,
    buyer: Customer,
    total: int,
    issued_at: datetime,
) -> dict[str, Any]:
    """What issuing sets on an invoice: number, OCR, dates, the buyer as of now, its state."""
    invoice_date = invoice_date or today
    due_date = due_date or invoice_date + timedelta(days=tenant.payment_terms_days if terms is None else terms)
    if due_date < invoice_date:
        raise ValidationFailed(f"due_date {due_date} is before the invoice date {invoice_date}", param="due_date")
    return {
        "number": number,
        "ocr": make_reference(number, length=tenant.ocr_length),
        "invoice_date": invoice_date,
        "due_date": due_date,
        "buyer": buyer_snapshot(buyer),
        # An invoice that rounds to 0 kr (or is discounted to nothing) has nothing to pay.
        "state": states.UNPAID if total else states.PAID,
        "remaining": total,
        "issued_at": issued_at,
    }


def issued_happening(invoice_id: int, number: int, ocr: str | None, total: int, actor: str) -> Happening:
    return Happening(invoice_id, "issued", actor, {"number": number, "ocr": ocr, "total": total})


def buyer_snapshot(customer: Customer) -> dict[str, Any]:
    return {
        "customer_no": customer.customer_no,
        "name": customer.name,
        "type": customer.type,
        "id_number": customer.id_number,
        "address_line1": customer.address_line1,
        "address_line2": customer.address_line2,
        "postal_code": customer.postal_code,
        "city": customer.city,
        "country": customer.country,
        "email": customer.email,
        "language": customer.language,
    }
