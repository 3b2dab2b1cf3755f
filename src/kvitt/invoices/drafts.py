"""Draft invoices: lines from items or free text, totals, the optional invoice fee."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from kvitt.catalog import service as catalog
from kvitt.core.errors import NotFound, ValidationFailed
from kvitt.core.money import milli_to_quantity, quantity_to_milli
from kvitt.core.schemas import MAX_AMOUNT
from kvitt.core.tokens import new_web_token
from kvitt.customers import service as customers
from kvitt.invoices import states
from kvitt.invoices.models import Invoice, InvoiceLine
from kvitt.invoices.schemas import InvoiceCreate, InvoiceUpdate, LineIn
from kvitt.invoices.timeline import Happening, record
from kvitt.invoices.totals import LineInput, Totals, compute_totals
from kvitt.ledger.accounts import INVOICE_FEES
from kvitt.ledger.service import chart_for
from kvitt.tenants.models import Tenant

FEE_TEXT = {"sv": "Fakturaavgift", "en": "Invoice fee"}


def create_drafts(session: Session, tenant: Tenant, inputs: list[InvoiceCreate], *, actor: str) -> list[Invoice]:
    """Create draft invoices (one or many: batch callers save round trips)."""
    customer_map = customers.get_many(session, tenant, {data.customer for data in inputs})
    item_map = catalog.get_many(session, tenant, {line.item for d in inputs for line in d.lines if line.item})
    invoices = []
    for data in inputs:
        customer = customer_map.get(data.customer)
        if customer is None:
            raise NotFound(f"no customer {data.customer}", param="customer")
        invoice = Invoice(
            tenant_id=tenant.id,
            customer_id=customer.id,
            kind="invoice",
            state=states.DRAFT,
            token=new_web_token(),
            currency=data.currency,
            invoice_date=data.invoice_date,
            due_date=data.due_date,
            payment_terms_days=data.payment_terms_days,
            with_invoice_fee=wants_fee(tenant, data.invoice_fee),
            notes=data.notes,
            info=[block.model_dump() for block in data.info],
            metadata_=data.metadata,
            paid=0,
            credited=0,
            written_off=0,
            remaining=0,
        )
        _set_lines(tenant, invoice, data.lines, item_map, customer.language)
        invoices.append(invoice)
    session.add_all(invoices)
    session.flush()
    record(session, tenant.id, [Happening(inv.id, "created", actor) for inv in invoices])
    return invoices


def update_draft(session: Session, tenant: Tenant, invoice: Invoice, data: InvoiceUpdate, *, actor: str) -> Invoice:
    states.require_action(invoice.kind, invoice.state, "update")
    changes = data.model_dump(exclude_unset=True)
    if "customer" in changes:
        invoice.customer_id = customers.get(session, tenant, data.customer or 0).id
    for field in ("invoice_date", "due_date", "payment_terms_days", "notes"):
        if field in changes:
            setattr(invoice, field, changes[field])
    if invoice.invoice_date and invoice.due_date and invoice.due_date < invoice.invoice_date:
        param = "due_date" if "due_date" in changes else "invoice_date"
        raise ValidationFailed("due_date is before invoice_date", param=param)
    if "info" in changes:
        invoice.info = changes["info"] or []
    if "metadata" in changes:
        invoice.metadata_ = changes["metadata"] or {}
    if "invoice_fee" in changes:
        invoice.with_invoice_fee = wants_fee(tenant, data.invoice_fee)
    lines = data.lines if data.lines is not None else [_line_in(line) for line in invoice.lines if line.kind == "item"]
    item_map = catalog.get_many(session, tenant, {line.item for line in lines if line.item})
    language = customers.get(session, tenant, invoice.customer_id).language
    _set_lines(tenant, invoice, lines, item_map, language)
    session.flush()
    record(session, tenant.id, [Happening(invoice.id, "updated", actor, {"fields": sorted(changes)})])
    return invoice


def delete_draft(session: Session, invoice: Invoice) -> None:
    states.require_action(invoice.kind, invoice.state, "delete")
    session.delete(invoice)
    session.flush()


def wants_fee(tenant: Tenant, asked: bool | None) -> bool:
    return tenant.invoice_fee > 0 if asked is None else asked and tenant.invoice_fee > 0


def price_lines(
    tenant: Tenant, lines: list[LineIn], items: dict[int, Any], language: str, *, with_fee: bool
) -> tuple[list[dict[str, Any]], Totals]:
    """The line rows (columns of ``invoice_lines``, with ``net``) and the totals of an invoice."""
    rows = [_line_row(tenant, index, line, items) for index, line in enumerate(lines)]
    if with_fee and rows:
        rows.append(_fee_row(tenant, len(rows), rows, language))
    totals = compute_totals(
        [LineInput(r["quantity_milli"], r["unit_price"], r["vat_rate"], r["discount_bp"]) for r in rows],
        round_to_krona_total=tenant.round_to_krona,
    )
    if abs(totals.total) > MAX_AMOUNT or any(abs(net) > MAX_AMOUNT for net in totals.line_nets):
        raise ValidationFailed(
            f"an invoice may come to at most {MAX_AMOUNT} öre", param="lines", code="amount_too_large"
        )
    for row, net in zip(rows, totals.line_nets, strict=True):
        row["net"] = net
        row["tenant_id"] = tenant.id
    return rows, totals


def _set_lines(tenant: Tenant, invoice: Invoice, lines: list[LineIn], items: dict[int, Any], language: str) -> None:
    rows, totals = price_lines(tenant, lines, items, language, with_fee=invoice.with_invoice_fee)
    invoice.lines = [InvoiceLine(**row) for row in rows]
    invoice.net, invoice.vat = totals.net, totals.vat
    invoice.rounding, invoice.total = totals.rounding, totals.total
    invoice.vat_summary = [group.as_dict() for group in totals.vat_summary]


def _line_row(tenant: Tenant, index: int, line: LineIn, items: dict[int, Any]) -> dict[str, Any]:
    item = None
    if line.item is not None:
        item = items.get(line.item)
        if item is None:
            raise NotFound(f"no item {line.item}", param=f"lines[{index}].item")
    return {
        "position": index + 1,
        "kind": "item",
        "item_id": item.id if item else None,
        "article_no": item.article_no if item else None,
        "description": line.description or (item.title if item else ""),
        "quantity_milli": quantity_to_milli(line.quantity),
        "unit": line.unit or (item.unit if item else None),
        "unit_price": line.unit_price if line.unit_price is not None else item.unit_price,
        "discount_bp": int((line.discount_percent or Decimal(0)) * 100),
        "vat_rate": line.vat_rate if line.vat_rate is not None else item.vat_rate,
        "account": line.account or (item.account if item else None),
    }


def _fee_row(tenant: Tenant, index: int, rows: list[dict[str, Any]], language: str) -> dict[str, Any]:
    # An invoice fee is part of the payment for the main supply and so takes its VAT rate
    # (Skatteverket's rule on ancillary charges; check): the rate carrying the most money.
    main_rate: Counter[int] = Counter()
    for r in rows:
        main_rate[r["vat_rate"]] += r["quantity_milli"] * r["unit_price"] + 1
    return {
        "position": index + 1,
        "kind": "fee",
        "item_id": None,
        "article_no": None,
        "description": FEE_TEXT.get(language, FEE_TEXT["sv"]),
        "quantity_milli": 1000,
        "unit": None,
        "unit_price": tenant.invoice_fee,
        "discount_bp": 0,
        "vat_rate": main_rate.most_common(1)[0][0],
        "account": chart_for(tenant)[INVOICE_FEES],
    }


def _line_in(line: InvoiceLine) -> LineIn:
    return LineIn(
        item=line.item_id,
        description=line.description,
        quantity=milli_to_quantity(line.quantity_milli),
        unit=line.unit,
        unit_price=line.unit_price,
        vat_rate=line.vat_rate,  # type: ignore[arg-type]
        discount_percent=Decimal(line.discount_bp) / 100 if line.discount_bp else None,
        account=line.account,
    )
