"""The segments' daily job: every segment counted again, so that its count stays current while
customers and their behaviour change (a segment is also counted whenever it is saved)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kvitt.core.clock import daily_job
from kvitt.core.outbox import OutboxJob, handles
from kvitt.segments import service
from kvitt.tenants.models import Tenant

RECOUNT_JOB = "segments.recount"
daily_job(RECOUNT_JOB, order=95)  # after the day's billing, overdue sweep and dunning


@handles(RECOUNT_JOB)
def run_recount(session: Session, job: OutboxJob) -> None:
    tenant = session.get(Tenant, job.tenant_id)
    if tenant is not None:
        service.recount_all(session, tenant)
