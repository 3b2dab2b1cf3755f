"""``/api/v1/billing-runs`` and the test clock ``/api/v1/test-clock``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from kvitt.billing import service
from kvitt.billing.jobs import POSTGRESQL_PARTITIONS
from kvitt.billing.models import BillingRun
from kvitt.billing.schemas import BillingRunCreate, BillingRunOut, ClockAdvance, ClockOut
from kvitt.core import outbox
from kvitt.core.api import PathId, QueryId, TenantRoute, request_session, request_tenant, writes_on_read
from kvitt.core.db import Database, is_postgresql
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.tenants.models import Tenant
from kvitt.testclock import service as testclock

router = APIRouter(tags=["billing"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def run_out(run: BillingRun) -> BillingRunOut:
    return BillingRunOut(
        id=run.id,
        date=run.run_date,
        state=run.state,
        actor=run.actor,
        partitions=run.partitions,
        partitions_done=run.partitions_done,
        subscriptions_due=run.subscriptions_due,
        invoices=run.invoices,
        periods_without_charge=run.periods_without_charge,
        net=run.net,
        vat=run.vat,
        total=run.total,
        error_count=run.error_count,
        errors=run.errors,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=service.duration_seconds(run),
    )


@router.post("/billing-runs", response_model=BillingRunOut, status_code=202)
def create_billing_run(body: BillingRunCreate, session: SessionDep, tenant: TenantDep) -> JSONResponse:
    """Start a run for a date: its batches are queued for the workers; poll the run to follow it."""
    partitions = body.partitions or (POSTGRESQL_PARTITIONS if is_postgresql(session) else 1)
    run = service.start_run(session, tenant, body.date, actor="api", partitions=partitions)
    return JSONResponse(run_out(run).model_dump(mode="json"), status_code=202)


@router.get("/billing-runs", response_model=ListResponse[BillingRunOut])
def list_billing_runs(
    session: SessionDep, tenant: TenantDep, limit: Limit = DEFAULT_LIMIT, starting_after: QueryId = None
) -> ListResponse[BillingRunOut]:
    page = service.list_page(session, tenant, limit=limit, starting_after=starting_after)
    return ListResponse[BillingRunOut](data=[run_out(r) for r in page.items], has_more=page.has_more)


@router.get("/billing-runs/{run_id}", response_model=BillingRunOut)
def get_billing_run(run_id: PathId, session: SessionDep, tenant: TenantDep) -> BillingRunOut:
    return run_out(service.get(session, tenant, run_id))


def clock_out(session: Session, tenant: Tenant) -> ClockOut:
    clock = testclock.get(session, tenant)
    return ClockOut(
        tenant=tenant.id,
        date=testclock.today_for(session, tenant),
        running=clock is not None,
        failed_jobs=testclock.failed_jobs(session, tenant),
    )


@router.get("/test-clock", response_model=ClockOut)
@writes_on_read
def get_test_clock(session: SessionDep, tenant: TenantDep) -> ClockOut:
    testclock.require_test_tenant(tenant)
    return clock_out(session, tenant)


@router.post("/test-clock/advance", response_model=ClockOut)
def advance_test_clock(request: Request, body: ClockAdvance, session: SessionDep, tenant: TenantDep) -> ClockOut:
    """Move a test tenant's date to ``to``, running each day's jobs (billing, overdue, dunning ...).

    Each simulated day runs in its own transactions, as the worker's days do; the request's own
    transaction only reads. Only for test tenants.
    """
    testclock.require_test_tenant(tenant)
    tenant_id = tenant.id
    # End the request's (read-only) transaction first: on SQLite it holds the write lock the
    # simulated days need.
    session.rollback()
    db: Database = request.app.state.db
    # The API runs the days' jobs with the process's job runner (kvitt.worker provides it).
    testclock.advance(db, tenant_id, body.to, run_jobs=outbox.runner_for(db), start=body.start)
    tenant = session.get(Tenant, tenant_id) or tenant
    return clock_out(session, tenant)
