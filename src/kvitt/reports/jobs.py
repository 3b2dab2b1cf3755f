"""What the worker does for the KPIs: mark the days events touched, and refresh them soon after.

The subscriber marks days (idempotent, so a job run twice after a lost lease does no harm) and
asks for one ``reports.refresh`` job per tenant and ten-second slot, due at the slot's end: a
billing day's thousands of event batches for one invoice date cost one recomputation of that
day per slot, not one per batch. The same job also runs once a day for every tenant.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
# Also once a day, last: whatever is still marked (migration 0016 marks an installation's whole
# history) is computed by the worker in the background, not by the first request that reads it.
daily_job(REFRESH_JOB, order=95)


@subscribe_batch("invoice.")
def mark_touched_days(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> None:
    if facts.mark_dirty(session, tenant_id, facts.touched_days(session, tenant_id, events)):
        request_refresh(session, tenant_id)


def request_refresh(session: Session, tenant_id: int, now: datetime | None = None) -> None:
    """One refresh job per tenant and slot, due when the slot ends (a second request is a no-op)."""
    now = now or utcnow()
    epoch = int(now.timestamp())
    slot_end = datetime.fromtimestamp(epoch - epoch % SLOT_SECONDS + SLOT_SECONDS, UTC)
    dialect: Any = postgresql if is_postgresql(session) else sqlite
    values = {
        "tenant_id": tenant_id,
        "kind": REFRESH_JOB,
        "payload": {},
        "dedupe_key": f"{REFRESH_JOB}:{tenant_id}:{int(slot_end.timestamp())}",
        "state": "pending",
        "attempts": 0,
        "max_attempts": 8,
        "run_at": slot_end,
        "created_at": now,
    }
    session.execute(dialect.insert(OutboxJob).values(**values).on_conflict_do_nothing())


@handles(REFRESH_JOB)
def run_refresh(session: Session, job: OutboxJob) -> None:
    tenant = session.scalar(select(Tenant).where(Tenant.id == job.tenant_id))
    if tenant is not None:
        facts.refresh(session, tenant)
