"""Billogram's ``billogram`` object from and to Kvitt's invoice (reads and input building; the
routes are in ``billograms.py``, the commands in ``commands.py``).

A billogram is one Kvitt invoice (kind ``invoice``); its credit notes show as ``Credit`` events
of it. Billogram fields Kvitt has no column for (each item's own description beside its title,
``automatic_reminders``) are kept in the invoice's ``metadata`` under ``billogram``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.billogram import fields
from kvitt.billogram.customers import customer_out
from kvitt.billogram.errors import READ_ONLY_PARAMETER, BillogramError, invalid, not_found
from kvitt.catalog.models import Item
from kvitt.core.money import MoneyError, format_quantity, parse_quantity
from kvitt.customers import service as customers
from kvitt.customers.models import Customer
from kvitt.formats.billogram import STATES, event_data, event_type
from kvitt.invoices import service as invoices
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.tenants.models import Tenant

EXTRA = "billogram"  # the key in Invoice.metadata
SEPARATOR = " – "  # between an item's title and its description on the printed line
KVITT_STATES: dict[str, list[str]] = {}
for _kvitt, _billogram in STATES.items():
    KVITT_STATES.setdefault(_billogram, []).append(_kvitt)
KNOWN_STATES = (*KVITT_STATES, "Deleted", "Factoring", "Sold", "Reminder")
WRITABLE = (
    "customer",
    "items",
    "currency",
    "invoice_date",
    "due_date",
    "due_days",
    "invoice_fee",
    "automatic_reminders",
    "info",
)
READ_ONLY = (
    "id",
    "invoice_no",
    "ocr_number",
    "state",
    "total_sum",
    "remaining_sum",
    "rounding_value",
    "url",
    "events",
    "created_at",
    "updated_at",
    "attested_at",
)
ITEM_FIELDS = ("item_no", "title", "description", "price", "vat", "unit", "count", "discount")
LINE_NAMES = {"unit_price": "price", "vat_rate": "vat", "quantity": "count", "description": "title", "item": "item_no"}
TOP_NAMES: dict[str, tuple[str, list[Any] | None]] = {
    "payment_terms_days": ("due_days", None),
    "invoice_date": ("invoice_date", None),
    "due_date": ("due_date", None),
    "notes": ("message", ["info"]),
    "lines": ("items", None),
}


# --- reading -----------------------------------------------------------------------------------


def find(session: Session, tenant: Tenant, billogram_id: str, *, for_update: bool = False) -> Invoice:
    if not billogram_id.isdigit() or len(billogram_id) > 18:
        raise not_found(f"no billogram {billogram_id}")
    invoice = session.scalar(
        _lock(
            select(Invoice).where(
                Invoice.tenant_id == tenant.id, Invoice.id == int(billogram_id), Invoice.kind == "invoice"
            ),
            for_update,
        )
    )
    if not isinstance(invoice, Invoice):
        raise not_found(f"no billogram {billogram_id}")
    return invoice


def _lock(query: Any, for_update: bool) -> Any:
    return query.with_for_update() if for_update else query


def credit_notes(session: Session, tenant: Tenant, invoice: Invoice) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.tenant_id == tenant.id, Invoice.credited_invoice_id == invoice.id)
            .order_by(Invoice.id)
        )
    )


def billogram_out(
    invoice: Invoice,
    customer: Customer,
    base_url: str,
    events: list[InvoiceEvent] | None = None,
) -> dict[str, Any]:
    extra: dict[str, Any] = dict(invoice.metadata_.get(EXTRA) or {})
    fee = sum(line.unit_price for line in invoice.lines if line.kind == "fee")
    out: dict[str, Any] = {
        "id": str(invoice.id),
        "invoice_no": invoice.number,
        "ocr_number": invoice.ocr or "",
        "state": STATES.get(invoice.state, invoice.state),
        "currency": invoice.currency,
        "customer": _customer_part(customer),
        "items": _items_out(invoice, extra),
        "invoice_date": invoice.invoice_date,
        "due_date": invoice.due_date,
        "due_days": _due_days(invoice),
        "invoice_fee": fields.kronor(fee),
        "automatic_reminders": bool(extra.get("automatic_reminders", True)),
        "info": {"message": invoice.notes or ""},
        "net_sum": fields.kronor(invoice.net),
        "vat_sum": fields.kronor(invoice.vat),
        "rounding_value": fields.kronor(invoice.rounding),
        "total_sum": fields.kronor(invoice.total),
        "remaining_sum": fields.kronor(invoice.remaining if invoice.state != "draft" else invoice.total),
        "url": f"{base_url}/i/{invoice.token}",
        "created_at": invoice.created_at,
        "updated_at": invoice.updated_at,
        "attested_at": invoice.issued_at,
    }
    if events is not None:
        out["events"] = [event_out(invoice, event) for event in events]
    return out


def _customer_part(customer: Customer) -> dict[str, Any]:
    full = customer_out(customer)
    return {key: full[key] for key in ("customer_no", "name", "company_type", "org_no", "contact", "address")}


def _due_days(invoice: Invoice) -> int | None:
    if invoice.payment_terms_days is not None:
        return invoice.payment_terms_days
    if invoice.invoice_date and invoice.due_date:
        return (invoice.due_date - invoice.invoice_date).days
    return None


def _items_out(invoice: Invoice, extra: dict[str, Any]) -> list[dict[str, Any]]:
    descriptions = list(extra.get("descriptions") or [])
    result = []
    for index, line in enumerate(line for line in invoice.lines if line.kind == "item"):
        description = descriptions[index] if index < len(descriptions) else ""
        title = line.description
        if description and title.endswith(SEPARATOR + description):
            title = title[: -len(SEPARATOR + description)]
        gross = Decimal(line.unit_price) * Decimal(line.quantity_milli) / 1000
        result.append(
            {
                "item_no": line.article_no or "",
                "title": title,
                "description": description,
                "price": fields.kronor(line.unit_price),
                "vat": line.vat_rate,
                "unit": line.unit or "",
                "count": Decimal(format_quantity(line.quantity_milli)),
                "discount": fields.kronor(int(gross) - line.net) if line.discount_bp else Decimal("0.00"),
                "total_sum": fields.kronor(line.net),
            }
        )
    return result


def event_out(invoice: Invoice, event: InvoiceEvent) -> dict[str, Any]:
    data = event_data(event.data or {})
    if event.type == "issued":
        data.update(letter_id=str(invoice.id), invoice_no=invoice.number)
    if event.type == "credited" and data.get("credit_note"):
        data.update(letter_id=str(data["credit_note"]), invoice_no=data.get("credit_note_number"))
    return {"type": event_type(event.type), "created_at": event.at, "data": data}


# --- input -------------------------------------------------------------------------------------


def invoice_values(session: Session, tenant: Tenant, body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The v1 ``InvoiceCreate``/``InvoiceUpdate`` fields of a billogram body (only those given)
    and the ``metadata`` to keep."""
    fields.check_keys(body, WRITABLE, read_only=READ_ONLY)
    currency = fields.text(body, "currency")
    if currency not in (None, "SEK"):
        raise invalid("Kvitt invoices in SEK only", "currency")
    values: dict[str, Any] = {}
    if "customer" in body or creating:
        values["customer"] = _customer_id(session, tenant, body.get("customer"))
    for key in ("invoice_date", "due_date"):
        if key in body:
            values[key] = _date(body, key)
    if "due_days" in body:
        values["payment_terms_days"] = _whole(body, "due_days")
    if "invoice_fee" in body:
        values["invoice_fee"] = _invoice_fee(tenant, body)
    info = fields.as_object(body.get("info"), ["info"])
    fields.check_keys(info, ("message",), path=["info"])
    if "message" in info:
        values["notes"] = fields.text(info, "message", ["info"]) or None
    if "items" in body or creating:
        lines, descriptions = _lines(session, tenant, body.get("items"))
        values["lines"] = lines
        values.setdefault("metadata", {})["descriptions"] = descriptions
    if "automatic_reminders" in body:
        values.setdefault("metadata", {})["automatic_reminders"] = fields.boolean(body, "automatic_reminders")
    return values


def _customer_id(session: Session, tenant: Tenant, value: Any) -> int:
    customer = fields.as_object(value, ["customer"])
    for key in customer:
        if key != "customer_no":
            raise BillogramError(
                READ_ONLY_PARAMETER, "only customer_no names the customer", field=key, field_path=["customer"]
            )
    number = fields.number_text(customer, "customer_no", ["customer"])
    if not number:
        raise invalid("customer.customer_no is needed", "customer_no", ["customer"])
    found = customers.find_by_number(session, tenant, number)
    if found is None:
        raise invalid(f"no customer {number}", "customer_no", ["customer"])
    return found.id


def _date(body: dict[str, Any], key: str) -> date | None:
    value = fields.text(body, key)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(f"{key} must be a date, YYYY-MM-DD", key) from None


def _whole(body: dict[str, Any], key: str, path: list[Any] | None = None) -> int | None:
    value = fields.decimal(body, key, path)
    if value is None:
        return None
    if value != value.to_integral_value():
        raise invalid(f"{key} must be a whole number", key, path)
    return int(value)


def _invoice_fee(tenant: Tenant, body: dict[str, Any]) -> bool:
    """Kvitt charges the tenant's invoice fee or none: ``invoice_fee`` must be 0 or that fee."""
    fee = fields.money(body, "invoice_fee")
    if fee is None or fee == 0:
        return False
    if fee != tenant.invoice_fee:
        raise invalid(
            f"invoice_fee must be 0 or the account's fee, {fields.kronor(tenant.invoice_fee)} (settings)",
            "invoice_fee",
        )
    return True


def _lines(session: Session, tenant: Tenant, value: Any) -> tuple[list[dict[str, Any]], list[str]]:
    if not isinstance(value, list) or not value:
        raise invalid("items must be a list of at least one item", "items")
    numbers = {
        str(entry.get("item_no")).strip()
        for entry in value
        if isinstance(entry, dict) and entry.get("item_no") not in (None, "")
    }
    register = {
        item.article_no: item
        for item in session.scalars(select(Item).where(Item.tenant_id == tenant.id, Item.article_no.in_(numbers)))
    }
    lines, descriptions = [], []
    for index, entry in enumerate(value):
        line, description = _line(fields.as_object(entry, ["items", index]), ["items", index], register)
        lines.append(line)
        descriptions.append(description)
    return lines, descriptions


def _line(entry: dict[str, Any], path: list[Any], register: dict[str, Item]) -> tuple[dict[str, Any], str]:
    """A v1 line (``LineIn`` fields) of one billogram item, and the item's own description."""
    fields.check_keys(entry, ITEM_FIELDS, path=path)
    quantity = _count(entry, path)
    item = _register_item(entry, path, register)
    description = fields.text(entry, "description", path) or ""
    shown = _shown_text(entry, path, item, description)
    line: dict[str, Any] = {"quantity": quantity}
    if item is not None:
        line["item"] = item.id
    if shown != (item.title if item else None):
        line["description"] = shown
    line.update(_price_and_vat(entry, path, item))
    unit = fields.text(entry, "unit", path)
    if unit:
        line["unit"] = unit
    discount = fields.money(entry, "discount", path)
    if discount:
        unit_price = line.get("unit_price", item.unit_price if item else 0)
        line["discount_percent"] = _discount_percent(discount, unit_price, quantity, path)
    return line, description


def _count(entry: dict[str, Any], path: list[Any]) -> Decimal:
    count = fields.decimal(entry, "count", path)
    if count is None:
        raise invalid("count is not set", "count", path)
    try:
        return parse_quantity(count)
    except MoneyError as exc:
        raise invalid(str(exc), "count", path) from None


def _register_item(entry: dict[str, Any], path: list[Any], register: dict[str, Item]) -> Item | None:
    number = fields.number_text(entry, "item_no", path)
    if not number:
        return None
    item = register.get(number)
    if item is None:
        raise invalid(f"no item {number} in the item register", "item_no", path)
    return item


def _price_and_vat(entry: dict[str, Any], path: list[Any], item: Item | None) -> dict[str, Any]:
    """``price`` and ``vat``: needed for an inline item, overrides for one from the register."""
    price = fields.money(entry, "price", path)
    rate = fields.vat(entry, "vat", path)
    if item is None and price is None:
        raise invalid("price is not set", "price", path)
    if item is None and rate is None:
        raise invalid("vat is not set", "vat", path)
    values: dict[str, Any] = {}
    if price is not None:
        values["unit_price"] = price
    if rate is not None:
        values["vat_rate"] = rate
    return values


def _shown_text(entry: dict[str, Any], path: list[Any], item: Item | None, description: str) -> str:
    """The line's printed text: the title (the register's when not given), then the description."""
    title = fields.text(entry, "title", path)
    if item is None and not title:
        raise invalid("Title not set", "title", path)
    shown = title or (item.title if item else "")
    return f"{shown}{SEPARATOR}{description}" if description else shown


def _discount_percent(discount: int, unit_price: int, quantity: Decimal, path: list[Any]) -> Decimal:
    """Billogram's discount is an amount; Kvitt's a percentage of the line. Taken when the
    percentage (two decimals) gives exactly that amount."""
    gross = Decimal(unit_price) * quantity
    if gross <= 0 or discount < 0 or discount > gross:
        raise invalid("discount must be between 0 and the item's price times its count", "discount", path)
    percent = Decimal(discount) * 100 / gross
    if percent != percent.quantize(Decimal("0.01")):
        raise invalid(
            f"a discount of {fields.kronor(discount)} is {percent:.4f} % of the item: Kvitt takes discounts "
            "as a percentage with two decimals (give an amount that is one)",
            "discount",
            path,
        )
    return percent.quantize(Decimal("0.01"))


def pydantic_error(exc: ValidationError) -> BillogramError:
    """The first error of a v1 invoice input, with Billogram's names (``items``/index/field)."""
    first = exc.errors()[0]
    loc = [part for part in first.get("loc", ()) if isinstance(part, str | int)]
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if len(loc) >= 2 and loc[0] == "lines" and isinstance(loc[1], int):
        field = LINE_NAMES.get(str(loc[2]), str(loc[2])) if len(loc) > 2 else None
        return invalid(f"{field}: {message}" if field else message, field, ["items", loc[1]])
    return fields.from_pydantic(exc, TOP_NAMES)


def customers_of(session: Session, tenant: Tenant, rows: list[Invoice]) -> dict[int, Customer]:
    return customers.get_many(session, tenant, {invoice.customer_id for invoice in rows})


def with_events(session: Session, tenant: Tenant, invoice: Invoice, base_url: str) -> dict[str, Any]:
    events = invoices.events_of(session, tenant, [invoice.id])[invoice.id]
    customer = customers.get(session, tenant, invoice.customer_id)
    return billogram_out(invoice, customer, base_url, events)
