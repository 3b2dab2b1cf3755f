"""``/api/v1/reports``: the accounts-receivable aging report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.api import QueryId, TenantRoute, request_session, request_tenant
from kvitt.reports import aging
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/reports", tags=["reports"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]


class AgingAmounts(BaseModel):
    """Öre per bucket of days past due, and their sum."""

    current: int = Field(description="not yet due")
    days_1_30: int = Field(alias="1_30", description="1–30 days past due")
    days_31_60: int = Field(alias="31_60", description="31–60 days past due")
    days_61_90: int = Field(alias="61_90", description="61–90 days past due")
    over_90: int = Field(description="more than 90 days past due")
    total: int


class CustomerAgingOut(AgingAmounts):
    customer: int
    customer_no: str
    name: str


class AgingReportOut(BaseModel):
    object: Literal["aging_report"] = "aging_report"
    as_of: date
    currency: Literal["SEK"] = "SEK"
    buckets: list[str]
    total: AgingAmounts
    customers: list[CustomerAgingOut]
    has_more: bool


def _amounts(amounts: dict[str, int]) -> dict[str, Any]:
    return {**amounts, "total": sum(amounts.values())}


@router.get("/aging", response_model=AgingReportOut)
def aging_report(
    session: SessionDep,
    tenant: TenantDep,
    as_of: Annotated[
        date | None, Query(description="the date the report is taken on (default: today, Swedish time)")
    ] = None,
    customer: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=aging.MAX_PAGE)] = aging.MAX_PAGE,
    starting_after: QueryId = None,
) -> AgingReportOut:
    """What customers owe as of a date, by days past due: per customer (by id, paged) and in total.

    The totals cover every customer (or the one named by ``customer``), not only this page.
    """
    report = aging.aging(
        session,
        tenant,
        as_of=as_of or clock.today(),
        customer_id=customer,
        limit=limit,
        starting_after=starting_after,
    )
    return AgingReportOut(
        as_of=report.as_of,
        buckets=list(aging.BUCKETS),
        total=AgingAmounts.model_validate(_amounts(report.totals)),
        customers=[
            CustomerAgingOut.model_validate(
                {"customer": row.customer_id, "customer_no": row.customer_no, "name": row.name, **_amounts(row.amounts)}
            )
            for row in report.customers
        ],
        has_more=report.has_more,
    )
