"""GET of one invoice as rows, not ORM objects: the API's hottest read (issue 20).

The invoice with its lines (one statement, joined) and its events (a second one) are read with
SQLAlchemy Core, so no identity map, no instance state, no relationship loading; the answer is
built as a dict in ``InvoiceOut``'s field order and serialized once with pydantic-core's JSON
writer, the writer FastAPI's ``response_model`` uses: the same bytes as ``to_out`` +
``InvoiceOut`` (tests/invoices/test_reads.py compares them), without validating the model and
then validating it again as the response.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_core import to_json
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from kvitt.core.errors import NotFound
from kvitt.core.money import format_quantity
from kvitt.invoices import states
from kvitt.invoices.models import Invoice, InvoiceEvent, InvoiceLine

_INVOICES = Invoice.__table__.c
_LINES = InvoiceLine.__table__.c
_EVENTS = InvoiceEvent.__table__.c

_INVOICE_COLUMNS = (
    _INVOICES.id,
    _INVOICES.kind,
    _INVOICES.number,
    _INVOICES.ocr,
    _INVOICES.state,
    _INVOICES.currency,
    _INVOICES.invoice_date,
    _INVOICES.due_date,
    _INVOICES.customer_id,
    _INVOICES.buyer,
    _INVOICES.vat_summary,
    _INVOICES.net,
    _INVOICES.vat,
    _INVOICES.rounding,
    _INVOICES.total,
    _INVOICES.paid,
    _INVOICES.credited,
    _INVOICES.written_off,
    _INVOICES.remaining,
    _INVOICES.token,
    _INVOICES.credited_invoice_id,
    _INVOICES.notes,
    _INVOICES.info,
    _INVOICES.metadata,
    _INVOICES.created_at,
    _INVOICES.issued_at,
)
_LINE_COLUMNS = (
    _LINES.id.label("line_id"),
    _LINES.kind.label("line_kind"),
    _LINES.item_id.label("line_item_id"),
    _LINES.article_no.label("line_article_no"),
    _LINES.description.label("line_description"),
    _LINES.quantity_milli.label("line_quantity_milli"),
    _LINES.unit.label("line_unit"),
    _LINES.unit_price.label("line_unit_price"),
    _LINES.discount_bp.label("line_discount_bp"),
    _LINES.vat_rate.label("line_vat_rate"),
    _LINES.account.label("line_account"),
    _LINES.net.label("line_net"),
)


# Built once, with bound parameters: a request only binds its tenant and id (the compiled form
# is cached by SQLAlchemy either way; building the statement object per request is not free).
_ONE_INVOICE = (
    select(*_INVOICE_COLUMNS, *_LINE_COLUMNS)
    .select_from(
        Invoice.__table__.outerjoin(
            InvoiceLine.__table__, and_(_LINES.invoice_id == _INVOICES.id, _LINES.tenant_id == _INVOICES.tenant_id)
        )
    )
    .where(_INVOICES.tenant_id == bindparam("tenant_id"), _INVOICES.id == bindparam("invoice_id"))
    .order_by(_LINES.position)
)
_ITS_EVENTS = (
    select(_EVENTS.id, _EVENTS.type, _EVENTS.at, _EVENTS.actor, _EVENTS.data)
    .where(_EVENTS.tenant_id == bindparam("tenant_id"), _EVENTS.invoice_id == bindparam("invoice_id"))
    .order_by(_EVENTS.id)
)


def invoice_json(session: Session, tenant_id: int, invoice_id: int, base_url: str) -> bytes:
    """``GET /api/v1/invoices/{id}``'s body: the tenant's invoice, its lines and its events."""
    # Straight on the session's connection: Core statements without the ORM's execution layer.
    connection = session.connection()
    params = {"tenant_id": tenant_id, "invoice_id": invoice_id}
    rows = connection.execute(_ONE_INVOICE, params).all()
    if not rows:
        raise NotFound(f"no invoice {invoice_id}", param="invoice")
    events = connection.execute(_ITS_EVENTS, params).all()
    return to_json(invoice_dict(rows, events, base_url))


def invoice_dict(rows: Sequence[Any], events: Sequence[Any], base_url: str) -> dict[str, Any]:
    """``InvoiceOut``'s fields, in its order, from the joined rows (one per line) and the events."""
    row = rows[0]
    return {
        "id": row.id,
        "object": "invoice",
        "kind": row.kind,
        "number": row.number,
        "ocr": row.ocr,
        "state": row.state,
        "currency": row.currency,
        "invoice_date": row.invoice_date,
        "due_date": row.due_date,
        "customer": row.customer_id,
        "buyer": row.buyer,
        "lines": [_line(line) for line in rows if line.line_id is not None],
        "vat_summary": [{"rate": g["rate"], "net": g["net"], "vat": g["vat"]} for g in row.vat_summary],
        "net": row.net,
        "vat": row.vat,
        "rounding": row.rounding,
        "total": row.total,
        "paid": row.paid,
        "credited": row.credited,
        "written_off": row.written_off,
        "remaining": row.remaining,
        "url": f"{base_url}/i/{row.token}",
        "credited_invoice": row.credited_invoice_id,
        "notes": row.notes,
        "info": row.info,
        "metadata": row.metadata,
        "available_actions": states.available_actions(row.kind, row.state),
        "events": [_event(event) for event in events],
        "created_at": row.created_at,
        "issued_at": row.issued_at,
    }


def _line(row: Any) -> dict[str, Any]:
    return {
        "id": row.line_id,
        "kind": row.line_kind,
        "item": row.line_item_id,
        "article_no": row.line_article_no,
        "description": row.line_description,
        "quantity": format_quantity(row.line_quantity_milli),
        "unit": row.line_unit,
        "unit_price": row.line_unit_price,
        "discount_percent": f"{row.line_discount_bp / 100:.2f}" if row.line_discount_bp else None,
        "vat_rate": row.line_vat_rate,
        "account": row.line_account,
        "net": row.line_net,
    }


def _event(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "invoice_event",
        "type": row.type,
        "at": row.at,
        "actor": row.actor,
        "data": row.data,
    }
