"""The test clock: move a test tenant's business date forward and run what each day brings.

For every day passed, the jobs registered with ``core.clock.daily_job`` are queued for the
tenant with ``{"date": day}`` (the same dedupe key the worker uses, so a day's job exists once)
and the job queue is run until idle, in the registered order: the billing run (10), the overdue
sweep (20), dunning (30) ... and whatever those jobs queue (invoice batches, domain events).
Each day is its own transactions, as the worker's would be; a clock stopped half-way (killed)
resumes from the last day it finished. Only tenants with ``is_test`` may have a clock: the
worker leaves tenants with a clock out of its wall-clock schedule.

This module does not import the worker: the caller (the CLI, the API) passes the job runner in,
so that features can ask a tenant's date (``today_for``) without an import cycle through it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.db import Database, utcnow
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.outbox import DEAD, PENDING, OutboxJob, enqueue
from kvitt.tenants.models import Tenant
from kvitt.testclock.models import TestClock

MAX_DAYS = 3 * 366


def today_for(session: Session, tenant: Tenant) -> date:
    """The tenant's business date: its test clock's, else today in Sweden."""
    current = session.scalar(select(TestClock.current_date).where(TestClock.tenant_id == tenant.id))
    return current or clock.today()


def get(session: Session, tenant: Tenant) -> TestClock | None:
    return session.scalar(select(TestClock).where(TestClock.tenant_id == tenant.id))


def require_test_tenant(tenant: Tenant) -> None:
    if not tenant.is_test:
        raise Conflict(
            "the test clock is only for test tenants (created with is_test, `kvitt init --test`); "
            "a live tenant's date is the real one",
            code="not_a_test_tenant",
        )


def advance(
    db: Database,
    tenant_id: int,
    to: date,
    *,
    run_jobs: Callable[[], object],
    start: date | None = None,
    progress: Callable[[date], None] | None = None,
) -> date:
    """Move the tenant's clock to ``to``, day by day, running each day's jobs; returns the date.

    ``run_jobs`` runs the job queue until it is idle (the caller's worker, e.g.
    ``lambda: Worker(db).run_until_idle(max_rounds=100_000)``). ``start`` sets where a tenant
    without a clock begins (default: today); that day's jobs are not run (advancing runs the
    days after the current one, up to and including ``to``).
    """
    with db.transaction() as session:
        current = _begin(session, tenant_id, to, start)
    while current < to:
        day = current + timedelta(days=1)
        # One kind at a time, each with all it queues (a run's batches, the invoices' events),
        # so that the day's billing is complete before the overdue sweep looks, and so on.
        for kind in clock.daily_jobs():
            with db.transaction() as session:
                _queue(session, tenant_id, day, kind)
            run_jobs()
        with db.transaction() as session:
            _set_date(session, tenant_id, day)
        current = day
        if progress is not None:
            progress(day)
    return current


def failed_jobs(session: Session, tenant: Tenant) -> int:
    """The tenant's jobs that failed and wait for a retry or are dead (to show after advancing)."""
    return int(
        session.scalar(
            select(func.count(OutboxJob.id)).where(
                OutboxJob.tenant_id == tenant.id,
                OutboxJob.state.in_([PENDING, DEAD]),
                OutboxJob.attempts > 0,
            )
        )
        or 0
    )


def _begin(session: Session, tenant_id: int, to: date, start: date | None) -> date:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}", param="tenant")
    require_test_tenant(tenant)
    existing = get(session, tenant)
    if existing is not None and start is not None and start != existing.current_date:
        raise Conflict(f"the clock already stands at {existing.current_date}; it only moves forward", param="start")
    current = existing.current_date if existing is not None else (start or clock.today())
    if to < current:
        raise ValidationFailed(f"the clock stands at {current}; it only moves forward", param="to")
    if (to - current).days > MAX_DAYS:
        raise ValidationFailed(f"advance at most {MAX_DAYS} days at a time", param="to")
    if existing is None:
        session.add(TestClock(tenant_id=tenant.id, current_date=current))
    return current


def _queue(session: Session, tenant_id: int, day: date, kind: str) -> None:
    key = f"{kind}:{tenant_id}:{day.isoformat()}"  # the worker's key: a day's job exists once
    if session.scalar(select(OutboxJob.id).where(OutboxJob.dedupe_key == key)) is None:
        enqueue(session, kind, {"date": day.isoformat()}, tenant_id=tenant_id, dedupe_key=key)


def _set_date(session: Session, tenant_id: int, day: date) -> None:
    """The day is done: a clock killed before this line redoes the day (its jobs exist once)."""
    test_clock = session.scalar(select(TestClock).where(TestClock.tenant_id == tenant_id).with_for_update())
    if test_clock is None:
        raise NotFound(f"tenant {tenant_id} has no test clock", param="tenant")
    test_clock.current_date = day
    test_clock.updated_at = utcnow()
