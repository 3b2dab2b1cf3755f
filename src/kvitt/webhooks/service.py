"""Webhook use cases: endpoints, fan-out of domain events, attempts and their retry schedule.

Nothing here makes an HTTP request: deliveries (one per event and endpoint, the log the back
office shows) are sent by outbox jobs (``jobs.py``) enqueued in the transaction of the event,
one job per endpoint and request's worth of deliveries (``deliveries_per_job``), and the unique
keys on events and deliveries make a replayed fan-out a no-op. The fan-out (``publish_many``), the planning of a
batch of attempts (``plan_attempts``) and their record (``record_outcomes``) are set-based: a
fixed number of statements per batch, whatever its size.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, Text, bindparam, delete, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from kvitt.core.db import any_of, bulk_insert, utcnow
from kvitt.core.errors import NotFound
from kvitt.core.outbox import PENDING as OUTBOX_PENDING
from kvitt.core.outbox import OutboxJob, enqueue, enqueue_rows
from kvitt.core.pagination import Page, paginate
from kvitt.formats import billogram
from kvitt.tenants.models import Tenant
from kvitt.webhooks import catalogue, signing
from kvitt.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from kvitt.webhooks.objects import object_of, objects_of
from kvitt.webhooks.schemas import EndpointCreate, EndpointUpdate
from kvitt.webhooks.sender import Outcome, Outgoing

DELIVER_JOB = "webhooks.deliver"
KVITT_FORMAT = "kvitt"
BILLOGRAM_FORMAT = "billogram"  # Billogram v2 callbacks (the Billogram API's settings.callbacks)
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


def create_endpoint(
    session: Session, tenant: Tenant, data: EndpointCreate, *, body_format: str = KVITT_FORMAT
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        tenant_id=tenant.id,
        url=data.url,
        description=data.description,
        events=data.events,
        enabled=data.enabled,
        max_batch_size=data.max_batch_size,
        secret=new_secret(),
        previous_secrets=[],
        format=body_format,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def endpoint_of_format(session: Session, tenant: Tenant, body_format: str) -> WebhookEndpoint | None:
    """The tenant's first endpoint that takes bodies of ``body_format`` (the Billogram API's
    callback endpoint is the tenant's one ``billogram`` endpoint)."""
    return session.scalar(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant.id, WebhookEndpoint.format == body_format)
        .order_by(WebhookEndpoint.id)
        .limit(1)
    )


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
    """Enqueue a delivery of a domain event to each of the tenant's endpoints that wants it."""
    return publish_many(session, tenant.id, [event])


def publish_many(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> int:
    """Fan a batch of one tenant's domain events out to the endpoints that want them.

    Set-based: the endpoints are read once, the stored events, their objects, the deliveries and
    their jobs are read and written a statement (or COPY) at a time for the whole batch, so the
    statements do not grow with the number of events. A rerun of the same event jobs finds the
    events (unique per tenant and source key) and deliveries (unique per endpoint and event) it
    made and creates nothing new. Returns how many deliveries were created.
    """
    endpoints = list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled.is_(True))
            .order_by(WebhookEndpoint.id)
        )
    )
    if not endpoints:
        return 0
    wanted: list[tuple[dict[str, Any], list[WebhookEndpoint]]] = []
    for event in events:
        matching = [e for e in endpoints if catalogue.matches(e.events, str(event.get("type", "")))]
        if matching:
            wanted.append((event, matching))
    if not wanted:
        return 0
    recorded = record_events(session, tenant_id, [event for event, _ in wanted])
    pairs = [
        (endpoint.id, event_id, is_new)
        for (_, matching), (event_id, is_new) in zip(wanted, recorded, strict=True)
        for endpoint in matching
    ]
    return _deliver_many(session, tenant_id, pairs, {e.id: deliveries_per_job(e) for e in endpoints})


def deliveries_per_job(endpoint: WebhookEndpoint) -> int:
    """How many deliveries one deliver job carries: one request's worth for the endpoint.

    An endpoint that takes list bodies gets a job per list (not one per event: a billing day's
    three events per invoice were three outbox jobs each claimed, run and finished); an endpoint
    that takes one event a request keeps a job per event. So a job is still one request, and a
    worker batch of N jobs makes at most N requests, whose timeouts its lease was sized for.
    """
    if endpoint.format == BILLOGRAM_FORMAT:
        return 1
    return max(1, endpoint.max_batch_size)


def delivery_ids_of(payload: dict[str, Any]) -> list[int]:
    """The deliveries a deliver job attempts, in order (a job enqueued before batches names one)."""
    ids = payload.get("delivery_ids")
    return [int(i) for i in ids] if ids is not None else [int(payload["delivery_id"])]


def _deliver_jobs(
    tenant_id: int, per_endpoint: dict[int, list[int]], sizes: dict[int, int], *, run_at: datetime, attempt: int
) -> list[dict[str, Any]]:
    """The deliver jobs (outbox rows) for deliveries grouped per endpoint, ``sizes`` per job.

    The dedupe key names the job's first delivery and attempt, as it did when a job carried one
    delivery: a delivery is in one job per attempt, so no two jobs share a key.
    """
    rows: list[dict[str, Any]] = []
    for endpoint_id, delivery_ids in per_endpoint.items():
        size = sizes.get(endpoint_id, 1)
        for start in range(0, len(delivery_ids), size):
            chunk = delivery_ids[start : start + size]
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "kind": DELIVER_JOB,
                    "payload": {"delivery_ids": chunk, "replay": False},
                    "run_at": run_at,
                    "dedupe_key": f"{DELIVER_JOB}:{chunk[0]}:{attempt}",
                    # HTTP failures are recorded and rescheduled by the handler itself; these
                    # attempts are only for the database failing under it.
                    "max_attempts": 5,
                }
            )
    return rows


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
    now = utcnow()
    row = _event_row(tenant.id, event_type, event, object_of(session, tenant, event), source_key, now, extra)
    sent = WebhookEvent(**row)
    session.add(sent)
    session.flush()
    return sent


def record_events(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> list[tuple[int, bool]]:
    """The stored event of each domain event, in order, as ``(webhook event id, made now)``.

    Events stored by an earlier run of the same jobs are found by their source key; the rest
    are written in one bulk insert with their objects read in bulk (``objects_of``).
    """
    keys = [event_source_key(event) for event in events]
    named = {key for key in keys if key is not None}
    existing: dict[str, int] = {}
    if named:
        found = session.execute(
            select(WebhookEvent.source_key, WebhookEvent.id).where(
                WebhookEvent.tenant_id == tenant_id, any_of(session, WebhookEvent.source_key, named)
            )
        )
        existing = {str(key): int(event_id) for key, event_id in found}
    # A source key twice in one batch (the same event handed over twice) is stored once.
    fresh: dict[str, int] = {}  # source key (or a made-up one) -> index into new_events
    new_events: list[tuple[int, dict[str, Any]]] = []
    for index, (event, key) in enumerate(zip(events, keys, strict=True)):
        if key is not None and (key in existing or key in fresh):
            continue
        fresh[key if key is not None else f"#{index}"] = len(new_events)
        new_events.append((index, event))
    public_ids: list[str] = []
    made: dict[str, int] = {}
    if new_events:
        tenant = _tenant(session, tenant_id)
        objects = objects_of(session, tenant, [event for _, event in new_events])
        now = utcnow()
        rows = [
            _event_row(tenant_id, str(event.get("type", "")), event, obj, keys[index], now, None)
            for (index, event), obj in zip(new_events, objects, strict=True)
        ]
        bulk_insert(session, WebhookEvent, rows)
        public_ids = [row["public_id"] for row in rows]
        made = {
            str(public_id): int(event_id)
            for public_id, event_id in session.execute(
                select(WebhookEvent.public_id, WebhookEvent.id).where(
                    WebhookEvent.tenant_id == tenant_id, any_of(session, WebhookEvent.public_id, public_ids)
                )
            )
        }
    out: list[tuple[int, bool]] = []
    for index, key in enumerate(keys):
        if key is not None and key in existing:
            out.append((existing[key], False))
        else:
            position = fresh[key if key is not None else f"#{index}"]
            out.append((int(made[public_ids[position]]), True))
    return out


def _event_row(
    tenant_id: int,
    event_type: str,
    event: dict[str, Any],
    obj: dict[str, Any] | None,
    source_key: str | None,
    now: datetime,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    public_id = "evt_" + secrets.token_hex(12)
    data: dict[str, Any] = {"object": obj, "details": event.get("data") or {}}
    data.update(extra or {})
    payload = {"id": public_id, "object": "event", "type": event_type, "created": int(now.timestamp()), "data": data}
    return {
        "tenant_id": tenant_id,
        "public_id": public_id,
        "type": event_type,
        "source_key": source_key,
        "payload": payload,
        "created_at": now,
    }


def _tenant(session: Session, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}", param="tenant")
    return tenant


def deliver_event_to(session: Session, tenant: Tenant, endpoint: WebhookEndpoint, sent: WebhookEvent) -> int:
    """Send one event to one endpoint whatever it subscribes to (event chains' webhook action)."""
    return _deliver_many(session, tenant.id, [(endpoint.id, sent.id, False)], {})


def _deliver_many(session: Session, tenant_id: int, pairs: list[tuple[int, int, bool]], sizes: dict[int, int]) -> int:
    """A delivery for each (endpoint, event) that has none yet, and the jobs of their first
    attempts: one per endpoint and ``sizes[endpoint]`` deliveries (1 for an endpoint not named).

    ``pairs`` hold (endpoint id, webhook event id, whether the event was made in this batch):
    only an event found again can already have deliveries, so only those are looked up.
    """
    wanted = list(dict.fromkeys((endpoint_id, event_id) for endpoint_id, event_id, _ in pairs))
    older = {event_id for _, event_id, is_new in pairs if not is_new}
    if older:
        done = {
            (int(endpoint_id), int(event_id))
            for endpoint_id, event_id in session.execute(
                select(WebhookDelivery.endpoint_id, WebhookDelivery.event_id).where(
                    WebhookDelivery.tenant_id == tenant_id, any_of(session, WebhookDelivery.event_id, older)
                )
            )
        }
        wanted = [pair for pair in wanted if pair not in done]
    if not wanted:
        return 0
    now = utcnow()
    bulk_insert(
        session,
        WebhookDelivery,
        [
            {
                "tenant_id": tenant_id,
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "state": PENDING,
                "attempts": 0,
                "replays": 0,
                "next_attempt_at": now,
            }
            for endpoint_id, event_id in wanted
        ],
    )
    wanted_set = set(wanted)
    per_endpoint: dict[int, list[int]] = {}
    made = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.endpoint_id, WebhookDelivery.event_id)
        .where(
            WebhookDelivery.tenant_id == tenant_id,
            any_of(session, WebhookDelivery.event_id, {event_id for _, event_id in wanted}),
        )
        .order_by(WebhookDelivery.id)
    )
    for delivery_id, endpoint_id, event_id in made:
        if (endpoint_id, event_id) in wanted_set:
            per_endpoint.setdefault(int(endpoint_id), []).append(int(delivery_id))
    enqueue_rows(session, _deliver_jobs(tenant_id, per_endpoint, sizes, run_at=now, attempt=1))
    return sum(len(ids) for ids in per_endpoint.values())


def _enqueue_attempt(
    session: Session, delivery: WebhookDelivery, *, run_at: datetime | None, key: str, replay: bool = False
) -> None:
    enqueue(
        session,
        DELIVER_JOB,
        {"delivery_ids": [delivery.id], "replay": replay},
        tenant_id=delivery.tenant_id,
        run_at=run_at,
        dedupe_key=key,
        # HTTP failures are recorded and rescheduled by the handler itself; these attempts
        # are only for the database failing under it.
        max_attempts=5,
    )
    delivery.next_attempt_at = run_at or utcnow()


# --- attempts -------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One deliver job's attempt at one delivery."""

    job_id: int
    delivery: WebhookDelivery
    replay: bool


@dataclass
class Request:
    """One HTTP request: one event, or several for an endpoint that takes list bodies."""

    outgoing: Outgoing
    attempts: list[Attempt]
    per_job: int = 1  # deliveries a retry job of its endpoint may carry (deliveries_per_job)


def plan_attempts(session: Session, tenant_id: int, jobs: list[OutboxJob]) -> list[Request]:
    """What a batch of deliver jobs sends, read with three queries (deliveries, endpoints, events).

    A job names one delivery or several (one endpoint's list body, ``deliveries_per_job``);
    each delivery is an attempt of its own in the log.

    A job whose delivery is gone (its endpoint deleted), already succeeded (unless the job is a
    replay) has nothing to send. A delivery to a switched-off endpoint is marked failed instead
    (the only write here). Events to an endpoint with ``max_batch_size`` > 1 go together, up to
    that many per request, in one list body; every other event is a request of its own.
    """
    delivery_ids = {delivery_id for job in jobs for delivery_id in delivery_ids_of(job.payload)}
    deliveries = {
        d.id: d
        for d in session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.tenant_id == tenant_id, any_of(session, WebhookDelivery.id, delivery_ids)
            )
        )
    }
    if not deliveries:
        return []
    endpoint_ids = {d.endpoint_id for d in deliveries.values()}
    endpoints = {
        e.id: e
        for e in session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id.in_(endpoint_ids))
        )
    }
    events = bodies_of(session, tenant_id, [d.event_id for d in deliveries.values()])
    per_endpoint: dict[int, list[tuple[Attempt, bytes]]] = {}
    for job in sorted(jobs, key=lambda j: j.id):
        replay = bool(job.payload.get("replay"))
        for delivery_id in delivery_ids_of(job.payload):
            delivery = deliveries.get(delivery_id)
            if delivery is None or (delivery.state == SUCCEEDED and not replay):
                continue  # the endpoint was deleted, or an earlier attempt or a replay got through
            endpoint, sent = endpoints.get(delivery.endpoint_id), events.get(delivery.event_id)
            if endpoint is None or sent is None:
                continue
            if not endpoint.enabled and not replay:
                # Switched off: no more automatic attempts; a replay after switching on sends it.
                delivery.state, delivery.next_attempt_at = FAILED, None
                delivery.last_error = "the endpoint is disabled"
                continue
            per_endpoint.setdefault(endpoint.id, []).append((Attempt(job.id, delivery, replay), sent))
    now = utcnow()
    requests: list[Request] = []
    for endpoint_id, items in per_endpoint.items():
        endpoint = endpoints[endpoint_id]
        size = deliveries_per_job(endpoint)
        if endpoint.format == BILLOGRAM_FORMAT:
            requests += [
                Request(billogram_callback(endpoint, json.loads(sent), now), [attempt]) for attempt, sent in items
            ]
            continue
        if endpoint.max_batch_size <= 1:
            requests += [Request(signed(endpoint, sent, now), [attempt]) for attempt, sent in items]
            continue
        for start in range(0, len(items), endpoint.max_batch_size):
            chunk = items[start : start + endpoint.max_batch_size]
            body = list_of_bodies([sent for _, sent in chunk])
            requests.append(Request(signed(endpoint, body, now), [attempt for attempt, _ in chunk], size))
    return requests


def bodies_of(session: Session, tenant_id: int, event_ids: list[int]) -> dict[int, bytes]:
    """The stored events by id as the JSON text the database holds, sent as it is.

    Not parsed and written again: an event's body is its stored JSON, the same bytes on every
    attempt and replay and inside a list body. Parsing the payloads and encoding them again for
    every request was a fifth of sending's time on a billing day (bench/RESULTS.md, issue 11).
    """
    rows = session.execute(
        select(WebhookEvent.id, sql_cast(WebhookEvent.payload, Text)).where(
            WebhookEvent.tenant_id == tenant_id, any_of(session, WebhookEvent.id, event_ids)
        )
    )
    return {int(event_id): str(text).encode() for event_id, text in rows}


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def event_body(sent: WebhookEvent) -> bytes:
    return _json(sent.payload)


def list_body(payloads: list[dict[str, Any]]) -> bytes:
    """Several events in one request: ``{"object": "list", "data": [event, ...]}``, oldest first."""
    return list_of_bodies([_json(payload) for payload in payloads])


def list_of_bodies(bodies: list[bytes]) -> bytes:
    """:func:`list_body` of events already in JSON (each exactly as it goes alone)."""
    return b'{"object":"list","data":[' + b",".join(bodies) + b"]}"


def outgoing(endpoint: WebhookEndpoint, sent: WebhookEvent, now: datetime) -> Outgoing:
    return signed(endpoint, event_body(sent), now)


def billogram_callback(endpoint: WebhookEndpoint, sent: dict[str, Any], now: datetime) -> Outgoing:
    """The event as a Billogram v2 callback (one per request), signed in its body as Billogram
    signs it (md5 of callback_id + the endpoint's secret) and in Kvitt-Signature as well."""
    body = billogram.dumps(billogram.callback(sent, endpoint.secret, endpoint.description or ""))
    return signed(endpoint, body, now)


def signed(endpoint: WebhookEndpoint, body: bytes, now: datetime) -> Outgoing:
    timestamp = int(now.timestamp())
    return Outgoing(
        url=endpoint.url,
        body=body,
        headers={signing.HEADER: signing.header(body, signing_secrets(endpoint, now), timestamp)},
    )


@dataclass
class _Logged:
    """A delivery's columns as the attempts of one batch leave them."""

    id: int
    tenant_id: int
    endpoint_id: int
    state: str
    attempts: int
    first_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_status_code: int | None = None
    last_error: str | None = None


def record_outcomes(session: Session, sent: list[tuple[Request, Outcome]]) -> None:
    """Log each attempt once, with the outcome of the request that carried it; after a failure
    schedule the delivery's next attempt while its three days last.

    Set-based: the attempts are one bulk insert, the deliveries one executemany UPDATE and the
    retries one bulk insert of jobs, whatever the batch's size (no unit of work per delivery).
    The deliveries of a failed list request are retried together: one job per endpoint, retry
    time and ``Request.per_job`` deliveries, each delivery still logged and scheduled alone.
    """
    now = utcnow()
    logged: dict[int, _Logged] = {}
    attempt_rows: list[dict[str, Any]] = []
    retries: dict[tuple[int, int, datetime, int], list[int]] = {}  # (tenant, endpoint, when, attempt) -> ids
    per_job: dict[int, int] = {}
    for request, outcome in sent:
        for attempt in request.attempts:
            d = attempt.delivery
            per_job[d.endpoint_id] = request.per_job
            row = logged.setdefault(
                d.id,
                _Logged(d.id, d.tenant_id, d.endpoint_id, d.state, d.attempts, d.first_attempt_at, d.next_attempt_at),
            )
            row.attempts += 1
            row.first_attempt_at = row.first_attempt_at or now
            row.last_status_code, row.last_error = outcome.status_code, outcome.error
            attempt_rows.append(
                {
                    "tenant_id": row.tenant_id,
                    "delivery_id": row.id,
                    "number": row.attempts,
                    "replay": attempt.replay,
                    "status_code": outcome.status_code,
                    "duration_ms": outcome.duration_ms,
                    "error": outcome.error,
                    "response_excerpt": outcome.response_excerpt,
                    "at": now,
                }
            )
            retry_at = _after(session, row, outcome, replay=attempt.replay, now=now)
            if retry_at is not None:
                retries.setdefault((row.tenant_id, row.endpoint_id, retry_at, row.attempts + 1), []).append(row.id)
    bulk_insert(session, WebhookAttempt, attempt_rows)
    if logged:
        table = cast(Table, WebhookDelivery.__table__)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                state=bindparam("b_state"),
                attempts=bindparam("b_attempts"),
                first_attempt_at=bindparam("b_first"),
                next_attempt_at=bindparam("b_next"),
                last_status_code=bindparam("b_status"),
                last_error=bindparam("b_error"),
                updated_at=bindparam("b_now"),
            ),
            [
                {
                    "b_id": row.id,
                    "b_state": row.state,
                    "b_attempts": row.attempts,
                    "b_first": row.first_attempt_at,
                    "b_next": row.next_attempt_at,
                    "b_status": row.last_status_code,
                    "b_error": row.last_error,
                    "b_now": now,
                }
                for row in logged.values()
            ],
        )
    enqueue_rows(
        session,
        [
            job
            for (tenant_id, endpoint_id, retry_at, number), delivery_ids in retries.items()
            for job in _deliver_jobs(tenant_id, {endpoint_id: delivery_ids}, per_job, run_at=retry_at, attempt=number)
        ],
    )


def _after(session: Session, row: _Logged, outcome: Outcome, *, replay: bool, now: datetime) -> datetime | None:
    """The delivery's state after an attempt; when its next attempt is due if one is (a retry)."""
    if outcome.ok:
        row.state, row.next_attempt_at = SUCCEEDED, None
        return None
    if row.state == SUCCEEDED:
        return None  # a replay of a delivered event failed: it was delivered all the same
    if replay:
        # A failed replay adds no retries of its own; the automatic ones, if any are left, go on.
        scheduled = _scheduled_attempt(session, row.tenant_id, row.id)
        row.state, row.next_attempt_at = (PENDING if scheduled else FAILED), scheduled
        return None
    next_at = now + retry_delay(row.attempts)
    assert row.first_attempt_at is not None
    if next_at - row.first_attempt_at > RETRY_WINDOW:
        row.state, row.next_attempt_at = FAILED, None
        return None
    row.state, row.next_attempt_at = PENDING, next_at
    return next_at


def _scheduled_attempt(session: Session, tenant_id: int, delivery_id: int) -> datetime | None:
    """When the next queued attempt at a delivery runs, if one is queued.

    A job names its deliveries in its payload (a list since jobs carry a list body's worth), so
    the tenant's queued deliver jobs are read and looked into here. Only a failed replay asks
    this, for one delivery; the queue of one tenant's deliver jobs is short outside a billing
    day, and a replay during one reads it once.
    """
    queued = session.execute(
        select(OutboxJob.run_at, OutboxJob.payload).where(
            OutboxJob.tenant_id == tenant_id, OutboxJob.state == OUTBOX_PENDING, OutboxJob.kind == DELIVER_JOB
        )
    )
    return min((run_at for run_at, payload in queued if delivery_id in delivery_ids_of(payload)), default=None)


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
