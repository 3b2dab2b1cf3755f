"""GET of one invoice as rows, not ORM objects: the API's hottest read (issue 20).

The invoice with its lines (one statement, joined) and its events (a second one) are read with
SQLAlchemy Core, so no identity map, no instance state, no relationship loading; the answer is
built as a dict in ``InvoiceOut``'s field order and serialized once with pydantic-core's JSON
writer, the writer FastAPI's ``response_model`` uses: the same bytes as ``to_out`` +
``InvoiceOut`` (tests/invoices/test_reads.py compares them), without validating the model and
then validating it again as the response.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic_core import to_json
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from kvitt.core.errors import NotFound
from kvitt.core.money import format_percent_bp, format_quantity
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
    _INVOICES.metadata.label("metadata_"),  # the mapped attribute's name: rows and objects read alike
    _INVOICES.created_at,
    _INVOICES.issued_at,
)
# The columns an invoice's line shows, in the order ``line_fields`` takes their values: read
# with the invoice here (labelled, beside the invoice's own id and kind) and by the webhook
# fan-out for many invoices at once (webhooks/objects.py).
LINE_COLUMNS = (
    _LINES.id,
    _LINES.kind,
    _LINES.item_id,
    _LINES.article_no,
    _LINES.description,
    _LINES.quantity_milli,
    _LINES.unit,
    _LINES.unit_price,
    _LINES.discount_bp,
    _LINES.vat_rate,
    _LINES.account,
    _LINES.net,
)
_LINE_NAMES = tuple(column.key for column in LINE_COLUMNS)
_LINES_FROM = len(_INVOICE_COLUMNS)


# Built once, with bound parameters: a request only binds its tenant and id (the compiled form
# is cached by SQLAlchemy either way; building the statement object per request is not free).
_ONE_INVOICE = (
    select(*_INVOICE_COLUMNS, *(column.label(f"line_{column.key}") for column in LINE_COLUMNS))
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
    lines = [row[_LINES_FROM:] for row in rows if row.line_id is not None]
    return to_json(invoice_dict(rows[0], lines, base_url, events=[_event(event) for event in events]))


def line_values(line: InvoiceLine) -> tuple[Any, ...]:
    """A loaded line's values in ``LINE_COLUMNS``' order."""
    return tuple(getattr(line, name) for name in _LINE_NAMES)


def invoice_dict(
    invoice: Any, lines: Iterable[Sequence[Any]], base_url: str, *, events: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``InvoiceOut``'s fields, in its order, as Python values (``pydantic_core.to_json`` or
    ``to_jsonable_python`` makes them JSON as the API's model would): from an invoice row or a
    loaded ``Invoice`` (the same attribute names) and its lines' values in ``LINE_COLUMNS``'
    order. Without ``events``, no ``events`` field (a webhook's ``data.object``).
    tests/invoices/test_reads.py and tests/webhooks/test_objects.py hold it equal to
    ``invoices.api.to_out``."""
    fields = {
        "id": invoice.id,
        "object": "invoice",
        "kind": invoice.kind,
        "number": invoice.number,
        "ocr": invoice.ocr,
        "state": invoice.state,
        "currency": invoice.currency,
        "invoice_date": invoice.invoice_date,
        "due_date": invoice.due_date,
        "customer": invoice.customer_id,
        "buyer": invoice.buyer,
        "lines": [line_fields(values) for values in lines],
        "vat_summary": [{"rate": g["rate"], "net": g["net"], "vat": g["vat"]} for g in invoice.vat_summary],
        "net": invoice.net,
        "vat": invoice.vat,
        "rounding": invoice.rounding,
        "total": invoice.total,
        "paid": invoice.paid,
        "credited": invoice.credited,
        "written_off": invoice.written_off,
        "remaining": invoice.remaining,
        "url": f"{base_url}/i/{invoice.token}",
        "credited_invoice": invoice.credited_invoice_id,
        "notes": invoice.notes,
        "info": invoice.info,
        "metadata": invoice.metadata_,
        "available_actions": states.available_actions(invoice.kind, invoice.state),
    }
    if events is not None:
        fields["events"] = events
    fields["created_at"] = invoice.created_at
    fields["issued_at"] = invoice.issued_at
    return fields


def line_fields(values: Sequence[Any]) -> dict[str, Any]:
    """``InvoiceLineOut``'s fields from a line's values in ``LINE_COLUMNS``' order."""
    line_id, kind, item_id, article_no, description, milli, unit, price, discount_bp, vat, account, net = values
    return {
        "id": line_id,
        "kind": kind,
        "item": item_id,
        "article_no": article_no,
        "description": description,
        "quantity": format_quantity(milli),
        "unit": unit,
        "unit_price": price,
        "discount_percent": format_percent_bp(discount_bp) if discount_bp else None,
        "vat_rate": vat,
        "account": account,
        "net": net,
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
