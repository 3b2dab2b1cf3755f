"""Item use cases; every query scoped to the tenant."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kvitt.catalog.models import Item
from kvitt.catalog.schemas import ItemCreate, ItemUpdate
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.tenants.models import Tenant


def get(session: Session, tenant: Tenant, item_id: int) -> Item:
    item = session.scalar(select(Item).where(Item.tenant_id == tenant.id, Item.id == item_id))
    if item is None:
        raise NotFound(f"no item {item_id}", param="item")
    return item


def get_many(session: Session, tenant: Tenant, item_ids: Iterable[int]) -> dict[int, Item]:
    ids = set(item_ids)
    if not ids:  # a draft of free-text lines: no statement (inside SQLite's write gate, issue 20)
        return {}
    rows = session.scalars(select(Item).where(Item.tenant_id == tenant.id, Item.id.in_(ids)))
    return {item.id: item for item in rows}


def create(session: Session, tenant: Tenant, data: ItemCreate) -> Item:
    exists = session.scalar(select(Item.id).where(Item.tenant_id == tenant.id, Item.article_no == data.article_no))
    if exists is not None:
        raise Conflict(
            f"article number {data.article_no} is already used", param="article_no", code="duplicate_article_no"
        )
    item = Item(tenant_id=tenant.id, active=True, **data.model_dump())
    session.add(item)
    session.flush()
    return item


def update(session: Session, tenant: Tenant, item_id: int, data: ItemUpdate) -> Item:
    item = get(session, tenant, item_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field != "account":
            raise ValidationFailed(f"{field} cannot be removed", param=field)
        setattr(item, field, value)
    session.flush()
    return item


def delete(session: Session, tenant: Tenant, item_id: int) -> None:
    item = get(session, tenant, item_id)
    try:
        # An item on an invoice line stays (deactivate it instead).
        with session.begin_nested():
            session.delete(item)
    except IntegrityError:
        raise Conflict("an item used on invoices cannot be deleted; set active to false", code="item_in_use") from None


def list_page(
    session: Session, tenant: Tenant, *, limit: int, starting_after: int | None, active: bool | None = None
) -> Page[Item]:
    query = select(Item).where(Item.tenant_id == tenant.id)
    if active is not None:
        query = query.where(Item.active == active)
    return paginate(session, query, Item.id, limit=limit, starting_after=starting_after)
