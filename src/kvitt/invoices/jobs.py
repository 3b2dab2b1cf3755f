"""The invoice jobs the worker runs."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from kvitt.core.clock import daily_job
from kvitt.core.outbox import OutboxJob, handles
from kvitt.invoices.settlement import mark_overdue
from kvitt.tenants.models import Tenant

MARK_OVERDUE_JOB = "invoices.mark_overdue"
daily_job(MARK_OVERDUE_JOB, order=20)


@handles(MARK_OVERDUE_JOB)
def run_mark_overdue(session: Session, job: OutboxJob) -> None:
    tenant = session.get(Tenant, job.tenant_id)
    if tenant is not None:
        mark_overdue(session, tenant, today=date.fromisoformat(job.payload["date"]))
