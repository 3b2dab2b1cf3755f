"""``/api/v1/reports``: the accounts-receivable aging report and the KPIs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.api import QueryId, TenantRoute, request_session, request_tenant, writes_on_read
from kvitt.core.errors import ValidationFailed
from kvitt.reports import aging, kpis
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


# --- KPIs ---------------------------------------------------------------------------------------

FromDay = Annotated[date | None, Query(alias="from", description="first day (default: the first of `to`'s month)")]
ToDay = Annotated[date | None, Query(alias="to", description="last day, included (default: today, Swedish time)")]
Figure = Annotated[str | None, Query(description="one figure (a field of the KPI object); default: every figure")]


def kpi_period(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    for param, day in (("from", date_from), ("to", date_to)):
        if day is not None and (error := clock.report_day_error(day)) is not None:
            raise ValidationFailed(error, param=param)
    end = date_to or clock.today()
    start = date_from or kpis.month_start(end)
    if start > end:
        raise ValidationFailed(f"from ({start}) is after to ({end})", param="from")
    if (end - start).days >= kpis.MAX_PERIOD_DAYS:
        raise ValidationFailed(f"a period is at most {kpis.MAX_PERIOD_DAYS} days", param="from")
    return start, end


@router.get("/kpis", response_model=dict[str, Any])
@writes_on_read
def kpi_report(session: SessionDep, tenant: TenantDep, date_from: FromDay = None, date_to: ToDay = None) -> Any:
    """The back office's figures for a period: money issued and received, what is open and
    overdue at `to`, DSO, channels, payment methods, paid before the due date, support load.

    Figures come from daily aggregates kept current by the worker (and brought up to date
    before answering); money is öre, shares and averages exact fractions with a rounded
    decimal string (docs/reports.md defines every field).
    """
    start, end = kpi_period(date_from, date_to)
    return kpis.as_json(kpis.current(session, tenant, start, end))


@router.get(
    "/kpis.csv",
    response_class=Response,
    responses={200: {"description": "figure rows", "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
@writes_on_read
def kpi_csv(
    session: SessionDep, tenant: TenantDep, date_from: FromDay = None, date_to: ToDay = None, figure: Figure = None
) -> Response:
    """The same figures as CSV: one row per figure and key (`from,to,figure,key,value,numerator,denominator`)."""
    if figure is not None and figure not in kpis.FIGURES:
        raise ValidationFailed(f"figure must be one of {', '.join(kpis.FIGURES)}", param="figure")
    start, end = kpi_period(date_from, date_to)
    body = kpis.csv_text(kpis.current(session, tenant, start, end), figure)
    name = f"kpis-{figure or 'all'}-{start}-{end}.csv"
    return Response(
        body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
