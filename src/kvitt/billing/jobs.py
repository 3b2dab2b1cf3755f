"""What the worker does for billing: the daily run per tenant, and the batches of a run."""

from __future__ import annotations

from datetime import date

import structlog
from sqlalchemy.orm import Session

from kvitt.billing import service
from kvitt.billing.models import BillingRun
from kvitt.core.clock import daily_job
from kvitt.core.db import is_postgresql
from kvitt.core.outbox import OutboxJob, handles
from kvitt.tenants.models import Tenant

DAILY_RUN_JOB = "billing.run"
daily_job(DAILY_RUN_JOB, order=10)
log = structlog.get_logger("kvitt.billing")

# Workers share a run partition by partition; SQLite has one writer, so one partition there.
POSTGRESQL_PARTITIONS = 4


@handles(DAILY_RUN_JOB)
def run_daily(session: Session, job: OutboxJob) -> None:
    """Start the day's run (its batches follow as jobs); a day with nothing due records no run."""
    tenant = session.get(Tenant, job.tenant_id)
    if tenant is None:
        return
    run_date = date.fromisoformat(job.payload["date"])
    if not service.count_due(session, tenant, run_date):
        return
    partitions = POSTGRESQL_PARTITIONS if is_postgresql(session) else 1
    run = service.start_run(session, tenant, run_date, actor="worker", partitions=partitions)
    log.info("billing run started", tenant=tenant.id, run=run.id, date=run_date.isoformat(), due=run.subscriptions_due)


@handles(service.PARTITION_JOB)
def run_batch(session: Session, job: OutboxJob) -> None:
    """One batch of one partition; queues the next batch in the same transaction."""
    run = session.get(BillingRun, int(job.payload["run"]))
    tenant = session.get(Tenant, job.tenant_id)
    if run is None or tenant is None or run.tenant_id != tenant.id:
        return
    partition = int(job.payload["partition"])
    after = int(job.payload["after"])
    outcome = service.bill_batch(session, tenant, run, partition=partition, after_id=after, limit=service.BATCH_SIZE)
    if outcome.last_id is None:
        service.finish_partition(session, run)
    else:
        service.queue_batch(session, run, partition, after_id=outcome.last_id)
