"""``/api/v1/segments``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from kvitt.core.api import PathId, QueryId, TenantRoute, point_read, request_session, request_tenant
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.customers.schemas import CustomerOut
from kvitt.segments import service
from kvitt.segments.schemas import PreviewIn, PreviewOut, SegmentCreate, SegmentExample, SegmentOut, SegmentUpdate
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/segments", tags=["segments"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.post("", status_code=201, response_model=SegmentOut)
def create_segment(body: SegmentCreate, session: SessionDep, tenant: TenantDep) -> SegmentOut:
    return SegmentOut.model_validate(service.create(session, tenant, body))


@router.get("", response_model=ListResponse[SegmentOut])
def list_segments(
    session: SessionDep, tenant: TenantDep, limit: Limit = DEFAULT_LIMIT, starting_after: QueryId = None
) -> ListResponse[SegmentOut]:
    page = service.list_page(session, tenant, limit=limit, starting_after=starting_after)
    return ListResponse[SegmentOut](data=[SegmentOut.model_validate(s) for s in page.items], has_more=page.has_more)


@router.post("/preview", response_model=PreviewOut)
def preview_segment(body: PreviewIn, session: SessionDep, tenant: TenantDep) -> PreviewOut:
    """How many customers a rule would hold now, with a few of them; nothing is saved."""
    found = service.preview(session, tenant, body.match, body.conditions)
    examples = [SegmentExample(id=c.id, customer_no=c.customer_no, name=c.name) for c in found.examples]
    return PreviewOut(count=found.count, examples=examples, text=found.text())


@router.get("/{segment_id}", response_model=SegmentOut)
@point_read
def get_segment(segment_id: PathId, session: SessionDep, tenant: TenantDep) -> SegmentOut:
    return SegmentOut.model_validate(service.get(session, tenant, segment_id))


@router.patch("/{segment_id}", response_model=SegmentOut)
def update_segment(segment_id: PathId, body: SegmentUpdate, session: SessionDep, tenant: TenantDep) -> SegmentOut:
    return SegmentOut.model_validate(service.update(session, tenant, segment_id, body))


@router.delete("/{segment_id}", status_code=200)
def delete_segment(segment_id: PathId, session: SessionDep, tenant: TenantDep) -> dict[str, object]:
    service.delete(session, tenant, segment_id)
    return {"id": segment_id, "object": "segment", "deleted": True}


@router.get("/{segment_id}/customers", response_model=ListResponse[CustomerOut])
def segment_customers(
    segment_id: PathId,
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
) -> ListResponse[CustomerOut]:
    """The segment's customers now, newest first (balance not filled in: see /customers/{id})."""
    page = service.customers_page(session, tenant, segment_id, limit=limit, starting_after=starting_after)
    return ListResponse[CustomerOut](data=[CustomerOut.model_validate(c) for c in page.items], has_more=page.has_more)
