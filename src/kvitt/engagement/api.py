"""``/api/v1/placements`` and ``/api/v1/reports/engagement`` (JSON and CSV)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.api import PathId, QueryId, TenantRoute, request_session, request_tenant
from kvitt.core.errors import ValidationFailed
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.engagement import report, service
from kvitt.engagement.schemas import PlacementCreate, PlacementOut, PlacementUpdate, Report
from kvitt.tenants.models import Tenant

router = APIRouter(tags=["engagement"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
From = Annotated[date, Query(alias="from")]
To = Annotated[date, Query(alias="to")]
MAX_DAYS = 3660


@router.post("/placements", status_code=201, response_model=PlacementOut)
def create_placement(body: PlacementCreate, session: SessionDep, tenant: TenantDep) -> PlacementOut:
    return PlacementOut.model_validate(service.create(session, tenant, body))


@router.get("/placements", response_model=ListResponse[PlacementOut])
def list_placements(
    session: SessionDep, tenant: TenantDep, limit: Limit = DEFAULT_LIMIT, starting_after: QueryId = None
) -> ListResponse[PlacementOut]:
    page = service.list_page(session, tenant, limit=limit, starting_after=starting_after)
    return ListResponse[PlacementOut](data=[PlacementOut.model_validate(p) for p in page.items], has_more=page.has_more)


@router.get("/placements/{placement_id}", response_model=PlacementOut)
def get_placement(placement_id: PathId, session: SessionDep, tenant: TenantDep) -> PlacementOut:
    return PlacementOut.model_validate(service.get(session, tenant, placement_id))


@router.patch("/placements/{placement_id}", response_model=PlacementOut)
def update_placement(
    placement_id: PathId, body: PlacementUpdate, session: SessionDep, tenant: TenantDep
) -> PlacementOut:
    return PlacementOut.model_validate(service.update(session, tenant, placement_id, body))


@router.delete("/placements/{placement_id}", status_code=200)
def delete_placement(placement_id: PathId, session: SessionDep, tenant: TenantDep) -> dict[str, object]:
    service.delete(session, tenant, placement_id)
    return {"id": placement_id, "object": "placement", "deleted": True}


def _period(date_from: date, date_to: date) -> None:
    for param, day in (("from", date_from), ("to", date_to)):
        if (error := clock.report_day_error(day)) is not None:
            raise ValidationFailed(error, param=param)
    if date_to < date_from:
        raise ValidationFailed("to is before from", param="to")
    if (date_to - date_from).days > MAX_DAYS:
        raise ValidationFailed(f"at most {MAX_DAYS} days at a time", param="to")


@router.get("/reports/engagement", response_model=Report, response_model_by_alias=True)
def engagement_report(date_from: From, date_to: To, session: SessionDep, tenant: TenantDep) -> Report:
    """Per placement and segment: impressions, unique viewers, clicks, CTR, survey answers."""
    _period(date_from, date_to)
    data = report.rows(session, tenant, date_from, date_to)
    return Report(date_from=date_from.isoformat(), date_to=date_to.isoformat(), data=data)


@router.get("/reports/engagement.csv", response_class=Response)
def engagement_report_csv(date_from: From, date_to: To, session: SessionDep, tenant: TenantDep) -> Response:
    _period(date_from, date_to)
    text = report.csv_text(report.rows(session, tenant, date_from, date_to))
    name = f"engagement-{date_from.isoformat()}-{date_to.isoformat()}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
