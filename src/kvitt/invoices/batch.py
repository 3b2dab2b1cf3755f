"""Create and issue many invoices at once: the path billing runs and billing files take.

The same rules as a draft issued through the API (``drafts.price_lines``, ``issuing.issue_fields``,
``postings.document_entry``, ``timeline``), but without the ORM's unit of work: ids are reserved
up front, every row is built in memory, and each table is written once (COPY on PostgreSQL).
One call is one all-or-nothing step of the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from kvitt.catalog import service as catalog
from kvitt.core.db import bulk_insert, reserve_ids, utcnow
from kvitt.core.errors import NotFound, ValidationFailed
from kvitt.core.tokens import new_web_token
from kvitt.customers import service as customers
from kvitt.invoices.drafts import price_lines, wants_fee
from kvitt.invoices.issuing import issue_fields, issued_happening, take_numbers
from kvitt.invoices.models import Invoice, InvoiceLine
from kvitt.invoices.postings import document_entry
from kvitt.invoices.schemas import InvoiceCreate
from kvitt.invoices.timeline import Happening, record
from kvitt.ledger import service as ledger
from kvitt.tenants.models import Tenant


@dataclass(frozen=True)
class _Line:
    kind: str
    account: str | None
    vat_rate: int
    net: int


@dataclass(frozen=True)
class _Document:
    """An invoice's figures as ``postings.document_entry`` reads them."""

    id: int
    kind: str
    number: int | None
    invoice_date: date | None
    customer_id: int
    total: int
    rounding: int
    vat_summary: list[dict[str, int]]
    lines: list[_Line]


def create_and_issue(
    session: Session, tenant: Tenant, inputs: list[InvoiceCreate], *, today: date, actor: str
) -> list[int]:
    """Create and issue one invoice per input; returns their ids in input order."""
    if not inputs:
        return []
    buyers = customers.get_many(session, tenant, {data.customer for data in inputs})
    items = catalog.get_many(session, tenant, {line.item for d in inputs for line in d.lines if line.item})
    invoice_ids = reserve_ids(session, Invoice, len(inputs))
    numbers = take_numbers(session, tenant.id, len(inputs))
    now = utcnow()
    chart = ledger.chart_for(tenant)
    invoice_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    entries = []
    for index, (data, invoice_id, number) in enumerate(zip(inputs, invoice_ids, numbers, strict=True)):
        buyer = buyers.get(data.customer)
        if buyer is None:
            raise NotFound(f"no customer {data.customer}", param=f"[{index}].customer")
        if not data.lines:
            raise ValidationFailed(f"invoice [{index}] has no lines", param=f"[{index}].lines", code="invoice_empty")
        with_fee = wants_fee(tenant, data.invoice_fee)
        rows, totals = price_lines(tenant, data.lines, items, buyer.language, with_fee=with_fee)
        fields = issue_fields(
            tenant,
            number=number,
            invoice_date=data.invoice_date,
            due_date=data.due_date,
            terms=data.payment_terms_days,
            today=today,
            buyer=buyer,
            total=totals.total,
            issued_at=now,
        )
        vat_summary = [group.as_dict() for group in totals.vat_summary]
        for row in rows:
            row["invoice_id"] = invoice_id
        line_rows += rows
        invoice_rows.append(
            {
                "id": invoice_id,
                "tenant_id": tenant.id,
                "customer_id": buyer.id,
                "kind": "invoice",
                "token": new_web_token(),
                "currency": data.currency,
                "payment_terms_days": data.payment_terms_days,
                "net": totals.net,
                "vat": totals.vat,
                "rounding": totals.rounding,
                "total": totals.total,
                "paid": 0,
                "credited": 0,
                "written_off": 0,
                "vat_summary": vat_summary,
                "with_invoice_fee": with_fee,
                "credited_invoice_id": None,
                "notes": data.notes,
                "info": [block.model_dump() for block in data.info],
                "metadata": data.metadata,
                "created_at": now,
                "updated_at": now,
                **fields,
            }
        )
        document = _Document(
            id=invoice_id,
            kind="invoice",
            number=number,
            invoice_date=fields["invoice_date"],
            customer_id=buyer.id,
            total=totals.total,
            rounding=totals.rounding,
            vat_summary=vat_summary,
            lines=[_Line(r["kind"], r["account"], r["vat_rate"], r["net"]) for r in rows],
        )
        entries.append(document_entry(chart, document, receivable_of=invoice_id))
    bulk_insert(session, Invoice, invoice_rows)
    bulk_insert(session, InvoiceLine, line_rows)
    ledger.post(session, tenant.id, entries)
    happenings: list[Happening] = []
    for row in invoice_rows:
        happenings.append(Happening(row["id"], "created", actor))
        happenings.append(issued_happening(row["id"], row["number"], row["ocr"], row["total"], actor))
    record(session, tenant.id, happenings)
    return invoice_ids
