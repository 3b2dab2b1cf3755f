"""``/api/v1/items``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from kvitt.catalog import service
from kvitt.catalog.schemas import ItemCreate, ItemOut, ItemUpdate
from kvitt.core.api import PathId, QueryId, TenantRoute, point_read, request_session, request_tenant
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/items", tags=["items"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]


@router.post("", status_code=201, response_model=ItemOut)
def create_item(body: ItemCreate, session: SessionDep, tenant: TenantDep) -> ItemOut:
    return ItemOut.model_validate(service.create(session, tenant, body))


@router.get("", response_model=ListResponse[ItemOut])
def list_items(
    session: SessionDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    active: bool | None = None,
) -> ListResponse[ItemOut]:
    page = service.list_page(session, tenant, limit=limit, starting_after=starting_after, active=active)
    return ListResponse[ItemOut](data=[ItemOut.model_validate(i) for i in page.items], has_more=page.has_more)


@router.get("/{item_id}", response_model=ItemOut)
@point_read
def get_item(item_id: PathId, session: SessionDep, tenant: TenantDep) -> ItemOut:
    return ItemOut.model_validate(service.get(session, tenant, item_id))


@router.patch("/{item_id}", response_model=ItemOut)
def update_item(item_id: PathId, body: ItemUpdate, session: SessionDep, tenant: TenantDep) -> ItemOut:
    return ItemOut.model_validate(service.update(session, tenant, item_id, body))


@router.delete("/{item_id}")
def delete_item(item_id: PathId, session: SessionDep, tenant: TenantDep) -> dict[str, object]:
    service.delete(session, tenant, item_id)
    return {"id": item_id, "object": "item", "deleted": True}
