"""``item``: Billogram's item register over Kvitt's catalog (``kvitt.catalog.service``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.billogram import fields, listing
from kvitt.billogram.errors import READ_ONLY_PARAMETER, BillogramError, invalid, not_found
from kvitt.billogram.route import BillogramJSON, BillogramRoute, Body, SessionDep, TenantDep, check_user, ok
from kvitt.catalog import service
from kvitt.catalog.models import Item
from kvitt.catalog.schemas import ItemCreate, ItemUpdate
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/item", route_class=BillogramRoute, dependencies=[Depends(check_user)])

WRITABLE = ("item_no", "title", "description", "price", "vat", "unit", "bookkeeping")
READ_ONLY = ("created_at", "updated_at")
NAMES: dict[str, tuple[str, list[Any] | None]] = {
    "article_no": ("item_no", None),
    "unit_price": ("price", None),
    "vat_rate": ("vat", None),
    "account": ("income_account", ["bookkeeping"]),
}
SPEC = listing.Spec(
    fields={
        "item_no": listing.Field(Item.article_no),
        "title": listing.Field(Item.title),
        "unit": listing.Field(Item.unit),
        "vat": listing.Field(Item.vat_rate, "int"),
        "created_at": listing.Field(Item.created_at),
        "updated_at": listing.Field(Item.updated_at),
    },
    search=[Item.article_no, Item.title],
    id_column=Item.id,
)


def item_out(item: Item) -> dict[str, Any]:
    return {
        "item_no": item.article_no,
        "title": item.title,
        "description": "",
        "price": fields.kronor(item.unit_price),
        "vat": item.vat_rate,
        "unit": item.unit,
        "bookkeeping": {"income_account": item.account or "", "vat_account": ""},
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def find(session: Session, tenant: Tenant, item_no: str) -> Item:
    item = session.scalar(select(Item).where(Item.tenant_id == tenant.id, Item.article_no == item_no))
    if item is None:
        raise not_found(f"no item {item_no}")
    return item


def _values(body: dict[str, Any]) -> dict[str, Any]:
    """The v1 fields of a Billogram item body (only those given)."""
    if fields.text(body, "description"):
        raise invalid("Kvitt's items have no description: write it on the billogram's item", "description")
    bookkeeping = fields.as_object(body.get("bookkeeping"), ["bookkeeping"])
    fields.check_keys(bookkeeping, ("income_account", "vat_account"), path=["bookkeeping"])
    if fields.text(bookkeeping, "vat_account", ["bookkeeping"]):
        raise invalid("the VAT account follows the VAT rate in Kvitt", "vat_account", ["bookkeeping"])
    values: dict[str, Any] = {
        "article_no": fields.number_text(body, "item_no"),
        "title": fields.text(body, "title"),
        "unit": fields.text(body, "unit"),
        "unit_price": fields.money(body, "price"),
        "vat_rate": fields.vat(body, "vat"),
    }
    values = {key: value for key, value in values.items() if key in _given(body)}
    if "income_account" in bookkeeping:
        values["account"] = fields.text(bookkeeping, "income_account", ["bookkeeping"]) or None
    return values


def _given(body: dict[str, Any]) -> set[str]:
    names = {"item_no": "article_no", "title": "title", "unit": "unit", "price": "unit_price", "vat": "vat_rate"}
    return {names[key] for key in body if key in names}


@router.get("")
def list_items(
    session: SessionDep, tenant: TenantDep, params: listing.ListQuery = Depends(listing.list_query)
) -> BillogramJSON:
    rows, total = listing.run(session, select(Item).where(Item.tenant_id == tenant.id), SPEC, params)
    return ok([item_out(item) for item in rows], total_count=total)


@router.post("")
def create_item(body: Body, session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    data = fields.writable_object(body, WRITABLE, READ_ONLY)
    values = _values(data)
    values.setdefault("unit", "unit")
    return ok(item_out(service.create(session, tenant, fields.kvitt_input(ItemCreate, values, NAMES))))


@router.get("/{item_no}")
def get_item(item_no: str, session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    return ok(item_out(find(session, tenant, item_no)))


@router.put("/{item_no}")
def update_item(item_no: str, body: Body, session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    item = find(session, tenant, item_no)
    data = fields.writable_object(body, WRITABLE, READ_ONLY)
    values = _values(data)
    if values.pop("article_no", item.article_no) != item.article_no:
        raise BillogramError(READ_ONLY_PARAMETER, "item_no cannot be changed", field="item_no")
    return ok(item_out(service.update(session, tenant, item.id, fields.kvitt_input(ItemUpdate, values, NAMES))))


@router.delete("/{item_no}")
def delete_item(item_no: str, session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    item = find(session, tenant, item_no)
    out = item_out(item)
    service.delete(session, tenant, item.id)
    return ok(out)
