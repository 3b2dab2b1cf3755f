"""What the worker does for event chains: match domain events to rules, run firings."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kvitt.automation import service
from kvitt.core.events import subscribe
from kvitt.core.outbox import OutboxJob, handles
from kvitt.tenants.models import Tenant


@subscribe("")
def match_rules(session: Session, tenant_id: int | None, event: dict[str, Any]) -> None:
    tenant = session.get(Tenant, tenant_id) if tenant_id is not None else None
    if tenant is not None:
        service.on_event(session, tenant, event)


@handles(service.RUN_JOB)
def run_firing(session: Session, job: OutboxJob) -> None:
    tenant = session.get(Tenant, job.tenant_id)
    if tenant is not None:
        service.run_firing(session, tenant, int(job.payload["firing_id"]))
