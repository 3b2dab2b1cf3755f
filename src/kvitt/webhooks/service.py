"""Webhook use cases: endpoints, fan-out of domain events, attempts and their retry schedule.

Nothing here makes an HTTP request: deliveries are outbox jobs (``jobs.py``) enqueued in the
transaction of the event, one per (event, endpoint), and the unique keys on events and
deliveries make a replayed fan-out a no-op.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kvitt.core.db import utcnow
from kvitt.core.errors import NotFound
from kvitt.core.outbox import PENDING as OUTBOX_PENDING
from kvitt.core.outbox import OutboxJob, enqueue
from kvitt.core.pagination import Page, paginate
from kvitt.tenants.models import Tenant
from kvitt.webhooks import catalogue, signing
from kvitt.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from kvitt.webhooks.objects import object_of
from kvitt.webhooks.schemas import EndpointCreate, EndpointUpdate
from kvitt.webhooks.sender import Outcome, Outgoing

DELIVER_JOB = "webhooks.deliver"
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
# Retries go on for three days after the first attempt (Stripe's window), ever further apart.
RETRY_WINDOW = timedelta(days=3)
_FIRST_RETRY_SECONDS = 30
_LONGEST_WAIT_SECONDS = 12 * 3600


def retry_delay(failed_attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: 30 s, 2 min, 8 min, 32 min, 2 h 8 min, 8.5 h, then 12 h."""
    return timedelta(seconds=min(_FIRST_RETRY_SECONDS * 4 ** (failed_attempts - 1), _LONGEST_WAIT_SECONDS))


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# --- endpoints ------------------------------------------------------------------------------------


def create_endpoint(session: Session, tenant: Tenant, data: EndpointCreate) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        tenant_id=tenant.id,
        url=data.url,
        description=data.description,
        events=data.events,
        enabled=data.enabled,
        secret=new_secret(),
        previous_secrets=[],
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def get_endpoint(session: Session, tenant: Tenant, endpoint_id: int, *, param: str | None = None) -> WebhookEndpoint:
    endpoint = session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant.id, WebhookEndpoint.id == endpoint_id)
    )
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}", param=param)
    return endpoint


def list_endpoints(session: Session, tenant: Tenant, *, limit: int, starting_after: int | None) -> Page[Any]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant.id)
    return paginate(session, query, WebhookEndpoint.id, limit=limit, starting_after=starting_after)


def update_endpoint(session: Session, tenant: Tenant, endpoint_id: int, data: EndpointUpdate) -> WebhookEndpoint:
    endpoint = get_endpoint(session, tenant, endpoint_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field != "description":
            continue
        setattr(endpoint, field, value)
    session.flush()
    return endpoint


def delete_endpoint(session: Session, tenant: Tenant, endpoint_id: int) -> None:
    """The endpoint and its delivery log go; pending attempts find no delivery and do nothing."""
    endpoint = get_endpoint(session, tenant, endpoint_id)
    deliveries = select(WebhookDelivery.id).where(
        WebhookDelivery.tenant_id == tenant.id, WebhookDelivery.endpoint_id == endpoint.id
    )
    session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant.id, WebhookDelivery.endpoint_id == endpoint.id
        )
    )
    session.delete(endpoint)
    session.flush()


def rotate_secret(session: Session, tenant: Tenant, endpoint_id: int, *, expires_in_hours: int) -> WebhookEndpoint:
    """A new secret at once; the current one keeps signing too for ``expires_in_hours``."""
    endpoint = get_endpoint(session, tenant, endpoint_id)
    now = utcnow()
    kept = [s for s in endpoint.previous_secrets if datetime.fromisoformat(s["expires_at"]) > now]
    if expires_in_hours > 0:
        kept.insert(0, {"secret": endpoint.secret, "expires_at": (now + timedelta(hours=expires_in_hours)).isoformat()})
    endpoint.previous_secrets = kept
    endpoint.secret = new_secret()
    session.flush()
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret first, then rotated ones that have not yet expired."""
    older = [s["secret"] for s in endpoint.previous_secrets if datetime.fromisoformat(s["expires_at"]) > now]
    return [endpoint.secret, *older]


def previous_secret_valid_until(endpoint: WebhookEndpoint, now: datetime | None = None) -> datetime | None:
    now = now or utcnow()
    times = [datetime.fromisoformat(s["expires_at"]) for s in endpoint.previous_secrets]
    valid = [t for t in times if t > now]
    return max(valid) if valid else None


# --- fan-out --------------------------------------------------------------------------------------


def publish(session: Session, tenant: Tenant, event: dict[str, Any]) -> int:
    """Enqueue a delivery of a domain event to each of the tenant's endpoints that wants it.

    Returns how many deliveries were created (0 when a replay finds them all made already).
    """
    event_type = str(event.get("type", ""))
    endpoints = [
        e
        for e in session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant.id, WebhookEndpoint.enabled.is_(True))
        )
        if catalogue.matches(e.events, event_type)
    ]
    if not endpoints:
        return 0
    source = event_source_key(event)
    sent = record_event(session, tenant, event_type, event, source_key=source)
    return sum(_deliver_once(session, tenant, endpoint, sent) for endpoint in endpoints)


def event_source_key(event: dict[str, Any]) -> str | None:
    """The name of a domain event that stays the same when its outbox job runs again."""
    job_id = event.get("event_job_id")
    return None if job_id is None else f"job:{job_id}"


def record_event(
    session: Session,
    tenant: Tenant,
    event_type: str,
    event: dict[str, Any],
    *,
    source_key: str | None,
    extra: dict[str, Any] | None = None,
) -> WebhookEvent:
    """The event as it will be sent, made once per source (found again on a replay)."""
    if source_key is not None:
        existing = session.scalar(
            select(WebhookEvent).where(WebhookEvent.tenant_id == tenant.id, WebhookEvent.source_key == source_key)
        )
        if existing is not None:
            return existing
    public_id = "evt_" + secrets.token_hex(12)
    now = utcnow()
    data: dict[str, Any] = {"object": object_of(session, tenant, event), "details": event.get("data") or {}}
    data.update(extra or {})
    payload = {"id": public_id, "object": "event", "type": event_type, "created": int(now.timestamp()), "data": data}
    sent = WebhookEvent(
        tenant_id=tenant.id,
        public_id=public_id,
        type=event_type,
        source_key=source_key,
        payload=payload,
        created_at=now,
    )
    session.add(sent)
    session.flush()
    return sent


def deliver_event_to(session: Session, tenant: Tenant, endpoint: WebhookEndpoint, sent: WebhookEvent) -> int:
    """Send one event to one endpoint whatever it subscribes to (event chains' webhook action)."""
    return _deliver_once(session, tenant, endpoint, sent)


def _deliver_once(session: Session, tenant: Tenant, endpoint: WebhookEndpoint, sent: WebhookEvent) -> int:
    exists = session.scalar(
        select(WebhookDelivery.id).where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == sent.id
        )
    )
    if exists is not None:
        return 0
    delivery = WebhookDelivery(tenant_id=tenant.id, endpoint_id=endpoint.id, event_id=sent.id, state=PENDING)
    session.add(delivery)
    session.flush()
    _enqueue_attempt(session, delivery, run_at=None, key=f"{DELIVER_JOB}:{delivery.id}:1")
    return 1


def _enqueue_attempt(
    session: Session, delivery: WebhookDelivery, *, run_at: datetime | None, key: str, replay: bool = False
) -> None:
    enqueue(
        session,
        DELIVER_JOB,
        {"delivery_id": delivery.id, "replay": replay},
        tenant_id=delivery.tenant_id,
        run_at=run_at,
        dedupe_key=key,
        # HTTP failures are recorded and rescheduled by the handler itself; these attempts
        # are only for the database failing under it.
        max_attempts=5,
    )
    delivery.next_attempt_at = run_at or utcnow()


# --- attempts -------------------------------------------------------------------------------------


def outgoing(endpoint: WebhookEndpoint, sent: WebhookEvent, now: datetime) -> Outgoing:
    body = json.dumps(sent.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(now.timestamp())
    return Outgoing(
        url=endpoint.url,
        body=body,
        headers={signing.HEADER: signing.header(body, signing_secrets(endpoint, now), timestamp)},
    )


def record_outcome(session: Session, delivery: WebhookDelivery, outcome: Outcome, *, replay: bool) -> None:
    """Log the attempt; after a failure schedule the next one while the three days last."""
    now = utcnow()
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    session.add(
        WebhookAttempt(
            tenant_id=delivery.tenant_id,
            delivery_id=delivery.id,
            number=delivery.attempts,
            replay=replay,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
            response_excerpt=outcome.response_excerpt,
            at=now,
        )
    )
    if outcome.ok:
        delivery.state = SUCCEEDED
        delivery.next_attempt_at = None
        return
    if delivery.state == SUCCEEDED:
        return  # a replay of a delivered event failed: it was delivered all the same
    if replay:
        # A failed replay adds no retries of its own; the automatic ones, if any are left, go on.
        scheduled = _scheduled_attempt(session, delivery)
        delivery.state = PENDING if scheduled else FAILED
        delivery.next_attempt_at = scheduled
        return
    next_at = now + retry_delay(delivery.attempts)
    if next_at - delivery.first_attempt_at > RETRY_WINDOW:
        delivery.state = FAILED
        delivery.next_attempt_at = None
        return
    delivery.state = PENDING
    _enqueue_attempt(session, delivery, run_at=next_at, key=f"{DELIVER_JOB}:{delivery.id}:{delivery.attempts + 1}")


def _scheduled_attempt(session: Session, delivery: WebhookDelivery) -> datetime | None:
    return session.scalar(
        select(func.min(OutboxJob.run_at)).where(
            OutboxJob.tenant_id == delivery.tenant_id,
            OutboxJob.state == OUTBOX_PENDING,
            OutboxJob.dedupe_key.like(f"{DELIVER_JOB}:{delivery.id}:%"),
        )
    )


# --- the delivery log ------------------------------------------------------------------------------


def list_deliveries(
    session: Session, tenant: Tenant, endpoint_id: int, *, limit: int, starting_after: int | None
) -> Page[Any]:
    endpoint = get_endpoint(session, tenant, endpoint_id)
    query = select(WebhookDelivery).where(
        WebhookDelivery.tenant_id == tenant.id, WebhookDelivery.endpoint_id == endpoint.id
    )
    return paginate(session, query, WebhookDelivery.id, limit=limit, starting_after=starting_after)


def get_delivery(session: Session, tenant: Tenant, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant.id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.id == delivery_id,
        )
    )
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    return delivery


def attempts_of(session: Session, tenant: Tenant, delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    rows = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.tenant_id == tenant.id, WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.id)
    )
    for row in rows:
        found[row.delivery_id].append(row)
    return found


def events_of(session: Session, tenant: Tenant, event_ids: list[int]) -> dict[int, WebhookEvent]:
    rows = session.scalars(
        select(WebhookEvent).where(WebhookEvent.tenant_id == tenant.id, WebhookEvent.id.in_(event_ids))
    )
    return {row.id: row for row in rows}


def replay(session: Session, tenant: Tenant, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    """Send the same event (same id, same body, a fresh signature) to the endpoint once more."""
    get_endpoint(session, tenant, endpoint_id)
    delivery = get_delivery(session, tenant, endpoint_id, delivery_id)
    delivery.replays += 1
    if delivery.state == FAILED:
        delivery.state = PENDING
    _enqueue_attempt(
        session, delivery, run_at=None, key=f"{DELIVER_JOB}:{delivery.id}:replay:{delivery.replays}", replay=True
    )
    session.flush()
    return delivery
