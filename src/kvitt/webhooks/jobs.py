"""What the worker does for webhooks: fan domain events out, and make each HTTP attempt."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.db import utcnow
from kvitt.core.events import subscribe
from kvitt.core.outbox import OutboxJob, handles
from kvitt.tenants.models import Tenant
from kvitt.webhooks import sender, service
from kvitt.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


@subscribe("")
def fan_out(session: Session, tenant_id: int | None, event: dict[str, Any]) -> None:
    tenant = session.get(Tenant, tenant_id) if tenant_id is not None else None
    if tenant is not None:
        service.publish(session, tenant, event)


@handles(service.DELIVER_JOB)
def deliver(session: Session, job: OutboxJob) -> None:
    replay = bool(job.payload.get("replay"))
    delivery = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == job.tenant_id, WebhookDelivery.id == int(job.payload["delivery_id"])
        )
    )
    if delivery is None or (delivery.state == service.SUCCEEDED and not replay):
        return  # the endpoint was deleted, or an earlier attempt or a replay got through
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    sent = session.get(WebhookEvent, delivery.event_id)
    if endpoint is None or sent is None:
        return
    if not endpoint.enabled and not replay:
        # Switched off: no more automatic attempts; a replay after switching on sends it.
        delivery.state, delivery.next_attempt_at = service.FAILED, None
        delivery.last_error = "the endpoint is disabled"
        return
    request = service.outgoing(endpoint, sent, utcnow())
    # End the read transaction before the network call: a slow endpoint must not hold the
    # database (on SQLite every transaction holds the write lock). Nothing has been written
    # yet, so this commits nothing; the job row is still ours (state running, our lease).
    assert not (session.new or session.dirty or session.deleted)
    session.commit()
    outcome = sender.post(request)
    service.record_outcome(session, delivery, outcome, replay=replay)
