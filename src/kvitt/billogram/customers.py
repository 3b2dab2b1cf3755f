"""``customer``: Billogram's customer register over ``kvitt.customers.service``.

Billogram fields Kvitt has no column for (the contact's name, the delivery address, notes, a
foreign customer's organisation number) are kept in the customer's ``attributes`` under
``billogram``; docs/billogram-compat.md maps every field."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.billogram import fields, listing
from kvitt.billogram.errors import READ_ONLY_PARAMETER, BillogramError, invalid, not_found
from kvitt.billogram.route import BillogramJSON, BillogramRoute, Body, SessionDep, TenantDep, check_user, ok
from kvitt.customers import service
from kvitt.customers.models import Customer
from kvitt.customers.schemas import CustomerCreate, CustomerUpdate
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/customer", route_class=BillogramRoute, dependencies=[Depends(check_user)])

EXTRA = "billogram"  # the key in Customer.attributes
WRITABLE = (
    "customer_no",
    "name",
    "company_type",
    "org_no",
    "vat_no",
    "contact",
    "address",
    "delivery_address",
    "notes",
)
READ_ONLY = ("created_at", "updated_at")
CONTACT = ("name", "email", "phone")
ADDRESS = ("careof", "use_careof_as_attention", "street_address", "zipcode", "city", "country")
DELIVERY = ("name", "careof", "street_address", "zipcode", "city", "country")
COMPANY_TYPES = {"individual": "individual", "business": "company", "foreign": "company"}
NAMES: dict[str, tuple[str, list[Any] | None]] = {
    "id_number": ("org_no", None),
    "type": ("company_type", None),
    "email": ("email", ["contact"]),
    "phone": ("phone", ["contact"]),
    "address_line1": ("street_address", ["address"]),
    "address_line2": ("careof", ["address"]),
    "postal_code": ("zipcode", ["address"]),
    "city": ("city", ["address"]),
    "country": ("country", ["address"]),
}
SPEC = listing.Spec(
    fields={
        "customer_no": listing.Field(Customer.customer_no),
        "name": listing.Field(Customer.name),
        "org_no": listing.Field(Customer.id_number),
        "contact:email": listing.Field(Customer.email),
        "contact:phone": listing.Field(Customer.phone),
        "address:city": listing.Field(Customer.city),
        "address:zipcode": listing.Field(Customer.postal_code),
        "created_at": listing.Field(Customer.created_at),
        "updated_at": listing.Field(Customer.updated_at),
    },
    search=[Customer.customer_no, Customer.name, Customer.email],
    id_column=Customer.id,
)


def customer_no_out(number: str) -> int | str:
    """Billogram's customer numbers are whole numbers; Kvitt's may be any text."""
    return int(number) if number.isdigit() and (number == "0" or not number.startswith("0")) else number


def customer_out(customer: Customer) -> dict[str, Any]:
    extra: dict[str, Any] = dict(customer.attributes.get(EXTRA) or {})
    company_type = extra.get("company_type") or ("business" if customer.type == "company" else "individual")
    return {
        "customer_no": customer_no_out(customer.customer_no),
        "name": customer.name,
        "company_type": company_type,
        "org_no": customer.id_number or extra.get("org_no") or "",
        "vat_no": extra.get("vat_no") or "",
        "contact": {
            "name": extra.get("contact_name") or "",
            "email": customer.email or "",
            "phone": customer.phone or "",
        },
        "address": {
            "careof": customer.address_line2 or "",
            "use_careof_as_attention": bool(extra.get("use_careof_as_attention", False)),
            "street_address": customer.address_line1 or "",
            "zipcode": customer.postal_code or "",
            "city": customer.city or "",
            "country": customer.country,
        },
        "delivery_address": {key: (extra.get("delivery_address") or {}).get(key, "") for key in DELIVERY},
        "notes": extra.get("notes") or "",
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }


def find(session: Session, tenant: Tenant, customer_no: str) -> Customer:
    customer = service.find_by_number(session, tenant, customer_no)
    if customer is None:
        raise not_found(f"no customer {customer_no}")
    return customer


def _columns(body: dict[str, Any], company_type: str) -> dict[str, Any]:
    """The v1 fields of a Billogram customer body (only those given)."""
    values: dict[str, Any] = {}
    if "name" in body:
        values["name"] = fields.text(body, "name")
    if "org_no" in body and company_type != "foreign":
        values["id_number"] = fields.text(body, "org_no") or None
    contact = fields.as_object(body.get("contact"), ["contact"])
    fields.check_keys(contact, CONTACT, path=["contact"])
    for key in ("email", "phone"):
        if key in contact:
            values[key] = fields.text(contact, key, ["contact"]) or None
    address = fields.as_object(body.get("address"), ["address"])
    fields.check_keys(address, ADDRESS, path=["address"])
    names = {"street_address": "address_line1", "careof": "address_line2", "zipcode": "postal_code", "city": "city"}
    for key, column in names.items():
        if key in address:
            values[column] = fields.text(address, key, ["address"]) or None
    if "country" in address:
        values["country"] = (fields.text(address, "country", ["address"]) or "").upper()
    return values


def _extra(body: dict[str, Any], old: dict[str, Any], company_type: str) -> dict[str, Any]:
    extra = dict(old)
    extra["company_type"] = company_type
    if "notes" in body:
        extra["notes"] = fields.text(body, "notes") or ""
    if "vat_no" in body:
        extra["vat_no"] = fields.text(body, "vat_no") or ""
    if company_type == "foreign" and "org_no" in body:
        extra["org_no"] = fields.text(body, "org_no") or ""
    contact = fields.as_object(body.get("contact"), ["contact"])
    if "name" in contact:
        extra["contact_name"] = fields.text(contact, "name", ["contact"]) or ""
    address = fields.as_object(body.get("address"), ["address"])
    if "use_careof_as_attention" in address:
        extra["use_careof_as_attention"] = bool(fields.boolean(address, "use_careof_as_attention", ["address"]))
    if "delivery_address" in body:
        delivery = fields.as_object(body.get("delivery_address"), ["delivery_address"])
        fields.check_keys(delivery, DELIVERY, path=["delivery_address"])
        extra["delivery_address"] = {key: fields.text(delivery, key, ["delivery_address"]) or "" for key in delivery}
    return extra


def _company_type(body: dict[str, Any], default: str) -> str:
    company_type = fields.text(body, "company_type") or default
    if company_type not in COMPANY_TYPES:
        raise invalid("company_type must be individual, business or foreign", "company_type")
    return company_type


@router.get("")
def list_customers(
    session: SessionDep, tenant: TenantDep, params: listing.ListQuery = Depends(listing.list_query)
) -> BillogramJSON:
    rows, total = listing.run(session, select(Customer).where(Customer.tenant_id == tenant.id), SPEC, params)
    return ok([customer_out(customer) for customer in rows], total_count=total)


@router.post("")
def create_customer(body: Body, session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    data = fields.writable_object(body, WRITABLE, READ_ONLY)
    company_type = _company_type(data, "individual")
    number = fields.number_text(data, "customer_no")
    if not number:
        raise invalid("customer_no is needed (Kvitt does not number customers itself)", "customer_no")
    values = _columns(data, company_type)
    values.update(
        customer_no=number, type=COMPANY_TYPES[company_type], attributes={EXTRA: _extra(data, {}, company_type)}
    )
    return ok(customer_out(service.create(session, tenant, fields.kvitt_input(CustomerCreate, values, NAMES))))


@router.get("/{customer_no}")
def get_customer(customer_no: str, session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    return ok(customer_out(find(session, tenant, customer_no)))


@router.put("/{customer_no}")
def update_customer(customer_no: str, body: Body, session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    customer = find(session, tenant, customer_no)
    data = fields.writable_object(body, WRITABLE, READ_ONLY)
    if "customer_no" in data and fields.number_text(data, "customer_no") != customer.customer_no:
        raise BillogramError(READ_ONLY_PARAMETER, "customer_no cannot be changed", field="customer_no")
    old = dict(customer.attributes.get(EXTRA) or {})
    current = old.get("company_type") or ("business" if customer.type == "company" else "individual")
    company_type = _company_type(data, current)
    if COMPANY_TYPES[company_type] != customer.type:
        raise invalid("an individual cannot become a company (create a new customer)", "company_type")
    values = _columns(data, company_type)
    values["attributes"] = {**customer.attributes, EXTRA: _extra(data, old, company_type)}
    update = fields.kvitt_input(CustomerUpdate, values, NAMES)
    return ok(customer_out(service.update(session, tenant, customer.id, update)))


@router.delete("/{customer_no}")
def delete_customer(customer_no: str, session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    customer = find(session, tenant, customer_no)
    out = customer_out(customer)
    service.delete(session, tenant, customer.id)
    return ok(out)
