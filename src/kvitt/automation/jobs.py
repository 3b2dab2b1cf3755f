"""What the worker does for event chains: match domain events to rules, run firings."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from kvitt.automation import service
from kvitt.core.clock import daily_job
from kvitt.core.events import subscribe_batch
from kvitt.core.outbox import OutboxJob, handles, handles_batch
from kvitt.tenants.models import Tenant

# After billing (10), the overdue sweep (20) and dunning (30): "3 days later, if still unpaid".
daily_job(service.DUE_ON_TEST_CLOCK_JOB, order=40)


# Events per set-based step (a batch of event bundles can hold far more than an IN list should).
CHUNK = 500


@subscribe_batch("")
def match_rules(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), CHUNK):
        service.on_events(session, tenant_id, events[start : start + CHUNK])


@handles_batch(service.RUN_JOB)
def run_firings(session: Session, jobs: list[OutboxJob]) -> None:
    # One tenant's firings that are due, at once; if one raises (not an action failing, which
    # is recorded), the worker runs each job alone.
    tenant = session.get(Tenant, jobs[0].tenant_id)
    if tenant is not None:
        for start in range(0, len(jobs), CHUNK):
            chunk = jobs[start : start + CHUNK]
            service.run_firings(session, tenant, [int(job.payload["firing_id"]) for job in chunk])


@handles(service.DUE_ON_TEST_CLOCK_JOB)
def run_due_on_test_clock(session: Session, job: OutboxJob) -> None:
    tenant = session.get(Tenant, job.tenant_id)
    if tenant is not None:
        service.run_due_on_test_clock(session, tenant, date.fromisoformat(job.payload["date"]))
