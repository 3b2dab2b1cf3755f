"""``billogram``: create (items from the register or inline), read, list, update and delete
unsent ones, commands, and the PDF as Billogram's client expects it (JSON with base64)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from kvitt.billogram import commands, fields, listing
from kvitt.billogram.errors import NOT_AVAILABLE_YET, BillogramError, invalid, not_found
from kvitt.billogram.invoices import (
    EXTRA,
    KNOWN_STATES,
    KVITT_STATES,
    billogram_out,
    credit_notes,
    customers_of,
    find,
    invoice_values,
    pydantic_error,
    with_events,
)
from kvitt.billogram.route import BaseUrl, BillogramJSON, BillogramRoute, Body, SessionDep, TenantDep, check_user, ok
from kvitt.customers.models import Customer
from kvitt.documents.data import load
from kvitt.documents.pdf import render
from kvitt.invoices import service as invoices
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import InvoiceCreate, InvoiceUpdate
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/billogram", route_class=BillogramRoute, dependencies=[Depends(check_user)])
ACTOR = commands.ACTOR


def _spec(tenant: Tenant) -> listing.Spec:
    def states(names: list[str]) -> Any:
        unknown = [name for name in names if name not in KNOWN_STATES]
        if unknown:
            raise BillogramError("INVALID_QUERY_PARAMETER", f"unknown state {unknown[0]}", field="filter_value")
        return Invoice.state.in_([state for name in names for state in KVITT_STATES.get(name, [])])

    def customer_numbers(numbers: list[str]) -> Any:
        return Invoice.customer_id.in_(
            select(Customer.id).where(Customer.tenant_id == tenant.id, Customer.customer_no.in_(numbers))
        )

    return listing.Spec(
        fields={
            "id": listing.Field(Invoice.id, "int"),
            "invoice_no": listing.Field(Invoice.number, "int"),
            "ocr_number": listing.Field(Invoice.ocr),
            "invoice_date": listing.Field(Invoice.invoice_date, "date"),
            "due_date": listing.Field(Invoice.due_date, "date"),
            "created_at": listing.Field(Invoice.created_at),
            "updated_at": listing.Field(Invoice.updated_at),
            "total_sum": listing.Field(Invoice.total, "int"),
        },
        search=[Invoice.ocr, cast(Invoice.number, String)],
        id_column=Invoice.id,
        any_of={"state": states, "customer:customer_no": customer_numbers},
    )


@router.get("")
def list_billograms(
    session: SessionDep,
    tenant: TenantDep,
    base_url: BaseUrl,
    params: listing.ListQuery = Depends(listing.list_query),
) -> BillogramJSON:
    query = select(Invoice).where(Invoice.tenant_id == tenant.id, Invoice.kind == "invoice")
    rows, total = listing.run(session, query, _spec(tenant), params)
    people = customers_of(session, tenant, rows)
    return ok([billogram_out(row, people[row.customer_id], base_url) for row in rows], total_count=total)


@router.post("")
def create_billogram(body: Body, session: SessionDep, tenant: TenantDep, base_url: BaseUrl) -> BillogramJSON:
    data = fields.as_object(body)
    if "_event" in data:
        raise BillogramError(commands.NOT_SUPPORTED, "create with an _event is not supported", field="_event")
    values = invoice_values(session, tenant, data, creating=True)
    values["metadata"] = {EXTRA: values.pop("metadata", {})}
    try:
        create = InvoiceCreate(**values)
    except ValidationError as exc:
        raise pydantic_error(exc) from None
    (invoice,) = invoices.create_drafts(session, tenant, [create], actor=ACTOR)
    return ok(with_events(session, tenant, invoice, base_url))


@router.get("/{billogram_id}.pdf")
def billogram_pdf(
    billogram_id: str,
    request: Request,
    session: SessionDep,
    tenant: TenantDep,
    base_url: BaseUrl,
    letter_id: Annotated[str | None, Query()] = None,
    invoice_no: Annotated[str | None, Query()] = None,
) -> BillogramJSON:
    """The invoice's PDF, or one of its credit notes' (``letter_id`` or ``invoice_no`` from its
    ``Sent``/``Credit`` events), as ``{"content": <base64>, "file_type": "application/pdf"}``."""
    invoice = find(session, tenant, billogram_id)
    document = _document(session, tenant, invoice, letter_id, invoice_no)
    if document.state == "draft":
        raise BillogramError(NOT_AVAILABLE_YET, "an unattested billogram has no PDF yet", http_status=404)
    pdf = render(load(session, tenant.id, document.id, base_url=base_url))
    return ok({"content": base64.b64encode(pdf).decode("ascii"), "file_type": "application/pdf"})


def _document(
    session: Session, tenant: Tenant, invoice: Invoice, letter_id: str | None, invoice_no: str | None
) -> Invoice:
    if letter_id is None and invoice_no is None:
        return invoice
    for document in (invoice, *credit_notes(session, tenant, invoice)):
        if letter_id is not None and letter_id == str(document.id):
            return document
        if invoice_no is not None and invoice_no == str(document.number):
            return document
    raise not_found("no such letter or invoice on this billogram")


@router.get("/{billogram_id}")
def get_billogram(billogram_id: str, session: SessionDep, tenant: TenantDep, base_url: BaseUrl) -> BillogramJSON:
    return ok(with_events(session, tenant, find(session, tenant, billogram_id), base_url))


@router.put("/{billogram_id}")
def update_billogram(
    billogram_id: str, body: Body, session: SessionDep, tenant: TenantDep, base_url: BaseUrl
) -> BillogramJSON:
    invoice = find(session, tenant, billogram_id, for_update=True)
    values = invoice_values(session, tenant, fields.as_object(body), creating=False)
    extra = values.pop("metadata", None)
    if extra is not None:
        old = dict(invoice.metadata_.get(EXTRA) or {})
        values["metadata"] = {**invoice.metadata_, EXTRA: {**old, **extra}}
    try:
        update = InvoiceUpdate(**values)
    except ValidationError as exc:
        raise pydantic_error(exc) from None
    invoices.update_draft(session, tenant, invoice, update, actor=ACTOR)
    return ok(with_events(session, tenant, invoice, base_url))


@router.delete("/{billogram_id}")
def delete_billogram(billogram_id: str, session: SessionDep, tenant: TenantDep, base_url: BaseUrl) -> BillogramJSON:
    invoice = find(session, tenant, billogram_id, for_update=True)
    out = with_events(session, tenant, invoice, base_url)
    invoices.delete_draft(session, invoice)
    out["state"] = "Deleted"
    return ok(out)


@router.post("/{billogram_id}/command/{command}")
def run_command(
    billogram_id: str, command: str, body: Body, session: SessionDep, tenant: TenantDep, base_url: BaseUrl
) -> BillogramJSON:
    invoice = find(session, tenant, billogram_id, for_update=True)
    commands.run(session, tenant, invoice, command, fields.as_object(body))
    session.flush()
    return ok(with_events(session, tenant, invoice, base_url))


__all__ = ["invalid", "router"]
