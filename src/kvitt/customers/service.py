"""Customer use cases; every query scoped to the tenant."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kvitt.core import identity
from kvitt.core.db import any_of, bulk_insert, reserve_ids
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.customers.models import Customer
from kvitt.customers.schemas import CustomerCreate, CustomerUpdate
from kvitt.tenants.models import Tenant


def get(session: Session, tenant: Tenant, customer_id: int) -> Customer:
    # By primary key: a customer this session has loaded already costs no statement; another
    # tenant's customer is as missing as one that does not exist.
    customer = session.get(Customer, customer_id)
    if customer is None or customer.tenant_id != tenant.id:
        raise NotFound(f"no customer {customer_id}", param="customer")
    return customer


def get_many(session: Session, tenant: Tenant, customer_ids: Iterable[int]) -> dict[int, Customer]:
    ids = set(customer_ids)
    rows = session.scalars(select(Customer).where(Customer.tenant_id == tenant.id, Customer.id.in_(ids)))
    return {customer.id: customer for customer in rows}


def find_by_number(session: Session, tenant: Tenant, customer_no: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.tenant_id == tenant.id, Customer.customer_no == customer_no))


def create(session: Session, tenant: Tenant, data: CustomerCreate) -> Customer:
    if find_by_number(session, tenant, data.customer_no) is not None:
        raise Conflict(
            f"customer number {data.customer_no} is already used", param="customer_no", code="duplicate_customer_no"
        )
    values = data.model_dump()
    values["delivery_method"] = data.delivery_method or tenant.default_delivery
    customer = Customer(tenant_id=tenant.id, **values)
    session.add(customer)
    session.flush()
    return customer


def update(session: Session, tenant: Tenant, customer_id: int, data: CustomerUpdate) -> Customer:
    customer = get(session, tenant, customer_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("id_number"):
        try:
            changes["id_number"] = identity.customer_id_number(changes["id_number"], customer.type)
        except ValueError as exc:
            raise ValidationFailed(str(exc), param="id_number") from exc
    for field in ("name", "country", "delivery_method", "language", "attributes"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"{field} cannot be removed", param=field)
    for field, value in changes.items():
        setattr(customer, field, value)
    session.flush()
    return customer


def set_attributes(session: Session, tenant: Tenant, customer_id: int, attributes: dict[str, Any]) -> Customer:
    """Replace a customer's attributes, written at the next flush with the rest of the unit of
    work (an event chain tagging a batch of customers sends their UPDATEs together)."""
    customer = get(session, tenant, customer_id)
    customer.attributes = attributes
    return customer


def delete(session: Session, tenant: Tenant, customer_id: int) -> None:
    customer = get(session, tenant, customer_id)
    try:
        # The foreign keys of invoices and ledger postings keep a billed customer in the books.
        with session.begin_nested():
            session.delete(customer)
    except IntegrityError:
        raise Conflict("a customer with invoices cannot be deleted", code="customer_has_invoices") from None


def list_page(
    session: Session,
    tenant: Tenant,
    *,
    limit: int,
    starting_after: int | None,
    customer_no: str | None = None,
    email: str | None = None,
) -> Page[Customer]:
    query = select(Customer).where(Customer.tenant_id == tenant.id)
    if customer_no is not None:
        query = query.where(Customer.customer_no == customer_no)
    if email is not None:
        query = query.where(Customer.email == email)
    return paginate(session, query, Customer.id, limit=limit, starting_after=starting_after)


@dataclass
class Upserted:
    ids: dict[str, int]  # customer number -> id
    created: int
    updated: int


def upsert_by_number(session: Session, tenant: Tenant, inputs: list[CustomerCreate]) -> Upserted:
    """Create or update many customers by customer number at once (billing files).

    The fields set on an input replace the stored ones, the fields left out are kept; a new
    customer without a delivery method gets the tenant's default. New customers are written
    with one bulk insert (COPY on PostgreSQL). With one number given twice, the last wins.
    """
    wanted = {data.customer_no: data for data in inputs}
    query = select(Customer).where(Customer.tenant_id == tenant.id, any_of(session, Customer.customer_no, wanted))
    existing = {customer.customer_no: customer for customer in session.scalars(query)}
    ids: dict[str, int] = {}
    new_rows: list[dict[str, Any]] = []
    updated = 0
    for number, data in wanted.items():
        customer = existing.get(number)
        if customer is None:
            values = data.model_dump()
            values["delivery_method"] = data.delivery_method or tenant.default_delivery
            new_rows.append({"tenant_id": tenant.id, **values})
            continue
        changes = data.model_dump(exclude_unset=True, exclude={"customer_no", "type"})
        changed = {field: value for field, value in changes.items() if getattr(customer, field) != value}
        for field, value in changed.items():
            setattr(customer, field, value)
        updated += bool(changed)
        ids[number] = customer.id
    for row, new_id in zip(new_rows, reserve_ids(session, Customer, len(new_rows)), strict=True):
        row["id"] = new_id
        ids[row["customer_no"]] = new_id
    session.flush()
    bulk_insert(session, Customer, new_rows)
    return Upserted(ids, len(new_rows), updated)


def ids_by_number(session: Session, tenant: Tenant, numbers: Iterable[str]) -> dict[str, int]:
    query = select(Customer.customer_no, Customer.id).where(
        Customer.tenant_id == tenant.id, any_of(session, Customer.customer_no, numbers)
    )
    return {number: customer_id for number, customer_id in session.execute(query)}
