"""The object an event is about, in the same shape the API gives it (``data.object``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from kvitt.core.config import get_settings, web_base_url
from kvitt.core.db import any_of
from kvitt.invoices import reads
from kvitt.tenants.models import Tenant


def object_of(session: Session, tenant: Tenant, event: dict[str, Any]) -> dict[str, Any] | None:
    """The invoice, payment or customer the event names, as the API shows it; None if gone."""
    return objects_of(session, tenant, [event])[0]


def objects_of(session: Session, tenant: Tenant, events: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """:func:`object_of` for many events, in their order, with one query per kind of object
    (invoices with their lines, payments with their allocations, customers), not one per event."""
    subjects = [_subject(event) for event in events]
    wanted: dict[str, set[int]] = {"invoice": set(), "payment": set(), "customer": set()}
    for subject in subjects:
        if subject is not None:
            wanted[subject[0]].add(subject[1])
    found: dict[str, dict[int, dict[str, Any]]] = {
        "invoice": _invoices(session, tenant, wanted["invoice"]) if wanted["invoice"] else {},
        "payment": _payments(session, tenant, wanted["payment"]) if wanted["payment"] else {},
        "customer": _customers(session, tenant, wanted["customer"]) if wanted["customer"] else {},
    }
    return [None if subject is None else found[subject[0]].get(subject[1]) for subject in subjects]


def _subject(event: dict[str, Any]) -> tuple[str, int] | None:
    for kind in ("invoice", "payment", "customer"):
        value = event.get(f"{kind}_id")
        if value is not None:
            try:
                return kind, int(value)
            except (TypeError, ValueError):
                return None
    return None


def _invoices(session: Session, tenant: Tenant, ids: set[int]) -> dict[int, dict[str, Any]]:
    from kvitt.invoices.models import Invoice

    base_url = web_base_url(get_settings())
    # The lines are read as columns by a query of their own, not through Invoice.lines: its
    # "selectin" load sends the ids as an IN list psycopg parses anew every batch, and builds
    # an ORM object per line that is only read here (bench/RESULTS.md, issue 11).
    invoices = list(
        session.scalars(
            select(Invoice)
            .options(lazyload(Invoice.lines))
            .where(Invoice.tenant_id == tenant.id, any_of(session, Invoice.id, ids))
        )
    )
    lines = _lines_of(session, tenant.id, [invoice.id for invoice in invoices])
    return {invoice.id: invoice_object(invoice, base_url, lines.get(invoice.id, [])) for invoice in invoices}


def _lines_of(session: Session, tenant_id: int, invoice_ids: list[int]) -> dict[int, list[Sequence[Any]]]:
    """The lines of each invoice in their order, as their values in ``reads.LINE_COLUMNS``' order."""
    from kvitt.invoices.models import InvoiceLine as Line

    found: dict[int, list[Sequence[Any]]] = {}
    if not invoice_ids:
        return found
    rows = session.execute(
        select(Line.invoice_id, *reads.LINE_COLUMNS)
        .where(Line.tenant_id == tenant_id, any_of(session, Line.invoice_id, invoice_ids))
        .order_by(Line.invoice_id, Line.position)
    )
    for row in rows:
        found.setdefault(row[0], []).append(row[1:])
    return found


def invoice_object(invoice: Any, base_url: str, lines: list[Sequence[Any]] | None = None) -> dict[str, Any]:
    """The invoice as the API shows it (``invoices.api.to_out``, without ``events``), as JSON
    values, built by ``invoices.reads.invoice_dict`` (the GET's builder) instead of through the
    pydantic model: a third of the fan-out's time went there (bench/RESULTS.md).
    ``tests/webhooks/test_objects.py`` checks it equal to ``to_out(...).model_dump(mode="json")``
    for invoices of every kind of line and state. ``lines``: the invoice's lines read beforehand
    (values in ``reads.LINE_COLUMNS``' order), else its own."""
    values = [reads.line_values(line) for line in invoice.lines] if lines is None else lines
    fields = reads.invoice_dict(invoice, values, base_url)
    # JSON values for the fields that are not JSON already (pydantic_core.to_jsonable_python
    # of the whole would do it at twice the cost of building the dict), and copies of the
    # loaded object's mutable JSON columns.
    fields["invoice_date"], fields["due_date"] = _date(invoice.invoice_date), _date(invoice.due_date)
    fields["created_at"], fields["issued_at"] = _datetime(invoice.created_at), _datetime(invoice.issued_at)
    fields["buyer"], fields["metadata"] = dict(invoice.buyer), dict(invoice.metadata_)
    fields["info"] = [dict(item) for item in invoice.info]
    fields["available_actions"] = list(fields["available_actions"])
    return fields


def _date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _datetime(value: datetime | None) -> str | None:
    """As pydantic writes an aware datetime in JSON: ISO 8601, "Z" for UTC."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _payments(session: Session, tenant: Tenant, ids: set[int]) -> dict[int, dict[str, Any]]:
    from kvitt.payments.api import payment_out
    from kvitt.payments.models import Payment

    payments = list(session.scalars(select(Payment).where(Payment.tenant_id == tenant.id, Payment.id.in_(ids))))
    return {out.id: out.model_dump(mode="json") for out in payment_out(session, tenant, payments)} if payments else {}


def _customers(session: Session, tenant: Tenant, ids: set[int]) -> dict[int, dict[str, Any]]:
    from kvitt.customers import service as customers
    from kvitt.customers.schemas import CustomerOut

    return {
        customer_id: CustomerOut.model_validate(customer).model_dump(mode="json")
        for customer_id, customer in customers.get_many(session, tenant, ids).items()
    }
