"""The invoice jobs the worker runs."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from kvitt.core.clock import daily_job
from kvitt.core.events import dispatch
from kvitt.core.outbox import OutboxJob, handles
from kvitt.invoices.settlement import mark_overdue
from kvitt.invoices.timeline import DOMAIN_EVENT_JOB
from kvitt.tenants.models import Tenant

MARK_OVERDUE_JOB = "invoices.mark_overdue"
daily_job(MARK_OVERDUE_JOB, order=20)


@handles(DOMAIN_EVENT_JOB)
def publish_domain_event(session: Session, job: OutboxJob) -> None:
    # The job's id names the event: subscribers that must act once per event (webhooks, event
    # chains) dedupe on it when a job runs again.
    dispatch(session, job.tenant_id, {**job.payload, "event_job_id": job.id})


@handles(MARK_OVERDUE_JOB)
def run_mark_overdue(session: Session, job: OutboxJob) -> None:
    tenant = session.get(Tenant, job.tenant_id)
    if tenant is not None:
        mark_overdue(session, tenant, today=date.fromisoformat(job.payload["date"]))
