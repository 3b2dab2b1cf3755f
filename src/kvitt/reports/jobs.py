"""What the worker does for the KPIs: mark the days events touched, and refresh them.

The subscriber only marks days (idempotent, so an event handled twice after a lost lease does no
harm). Who then recomputes them:

- every reader: the API and the Översikt refresh the tenant's marked days before they answer;
- after a bulk command (events that came in a bundle: a billing run, a billing file or a bank
  file publishes its events in bundles of up to 500), the worker, in one ``reports.refresh`` job
  per tenant and ten-second slot, due at once, so that the reader does not pay for a billing day.
  Its dedupe key names the slot: batches later in a slot whose job has already run leave their
  marks to the next slot's job, the reader or the daily run. Events of single API calls ask for
  no job (a reader's refresh of a few invoices is cheap);
- once a day the worker runs the same job for every tenant (a daily job, after the others), so
  whatever is still marked (migration 0016 marks an installation's whole history) is computed in
  the background.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kvitt.core.clock import daily_job
from kvitt.core.db import is_postgresql, utcnow
from kvitt.core.events import subscribe_batch
from kvitt.core.outbox import OutboxJob, handles
from kvitt.reports import facts
from kvitt.tenants.models import Tenant

REFRESH_JOB = "reports.refresh"
SLOT_SECONDS = 10
daily_job(REFRESH_JOB, order=95)


@subscribe_batch("invoice.")
def mark_touched_days(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> None:
    marked = facts.mark_dirty(session, tenant_id, facts.touched_days(session, tenant_id, events))
    if marked and any(from_bundle(event) for event in events):
        request_refresh(session, tenant_id)


def from_bundle(event: dict[str, Any]) -> bool:
    """Whether a bulk command published the event: a bundle's events are named ``<job id>.<index>``."""
    return isinstance(event.get("event_job_id"), str)


def request_refresh(session: Session, tenant_id: int, now: datetime | None = None) -> None:
    """One refresh job per tenant and ten-second slot, due now (a second request in the slot is a no-op)."""
    now = now or utcnow()
    epoch = int(now.timestamp())
    slot = epoch - epoch % SLOT_SECONDS
    dialect: Any = postgresql if is_postgresql(session) else sqlite
    values = {
        "tenant_id": tenant_id,
        "kind": REFRESH_JOB,
        "payload": {},
        "dedupe_key": f"{REFRESH_JOB}:{tenant_id}:{slot}",
        "state": "pending",
        "attempts": 0,
        "max_attempts": 8,
        "run_at": now,
        "created_at": now,
    }
    session.execute(dialect.insert(OutboxJob).values(**values).on_conflict_do_nothing())


@handles(REFRESH_JOB)
def run_refresh(session: Session, job: OutboxJob) -> None:
    tenant = session.scalar(select(Tenant).where(Tenant.id == job.tenant_id))
    if tenant is not None:
        facts.refresh(session, tenant)
