"""Webhooks in batches: the fan-out of many events equals the events one by one, is set-based,
and is not repeated by a rerun; list bodies for endpoints that ask for them; a bounded pool."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from sqlalchemy import func, select

from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from kvitt.webhooks import jobs as webhook_jobs
from kvitt.webhooks import service
from kvitt.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from kvitt.webhooks.schemas import EndpointCreate
from kvitt.webhooks.signing import verify
from kvitt.worker import Worker
from tests.conftest import TENANT_A, TENANT_B, make_tenant
from tests.webhooks.batching import counting_statements, issue_many, pending_events
from tests.webhooks.receiver import running


def add_endpoint(db: Database, tenant_id: int, url: str, events: list[str], **fields: Any) -> tuple[int, str]:
    from kvitt.tenants.models import Tenant

    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        made = service.create_endpoint(session, tenant, EndpointCreate(url=url, events=events, **fields))
        return made.id, made.secret


def fanned_out(db: Database, tenant_id: int) -> list[tuple[str, str, Any, Any, Any]]:
    """What the fan-out made, without ids and times: (endpoint url, type, invoice number, total, details)."""
    with db.transaction() as session:
        rows = session.execute(
            select(WebhookEndpoint.url, WebhookEvent.payload)
            .join(WebhookDelivery, WebhookDelivery.event_id == WebhookEvent.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookEvent.tenant_id == tenant_id)
        )
        out = []
        for url, payload in rows:
            obj = payload["data"]["object"] or {}
            details = {k: v for k, v in payload["data"]["details"].items() if k not in ("invoice", "id")}
            out.append((url, payload["type"], obj.get("number"), obj.get("total"), json.dumps(details, sort_keys=True)))
        return sorted(out)


def counts(db: Database) -> tuple[int, int, int]:
    with db.transaction() as session:
        return (
            int(session.scalar(select(func.count(WebhookEvent.id))) or 0),
            int(session.scalar(select(func.count(WebhookDelivery.id))) or 0),
            int(session.scalar(select(func.count(OutboxJob.id)).where(OutboxJob.kind == service.DELIVER_JOB)) or 0),
        )


def test_a_batch_of_events_fans_out_as_the_events_one_by_one(db: Database) -> None:
    batched, _ = make_tenant(db, **TENANT_A)
    single, _ = make_tenant(db, **TENANT_B)
    for tenant_id in (batched, single):
        add_endpoint(db, tenant_id, "https://all.example.se/kvitt", ["*"])
        add_endpoint(db, tenant_id, "https://issued.example.se/kvitt", ["invoice.issued"])
        add_endpoint(db, tenant_id, "https://paid.example.se/kvitt", ["invoice.paid"])
        add_endpoint(db, tenant_id, "https://off.example.se/kvitt", ["*"], enabled=False)
        issue_many(db, tenant_id, 25)

    events = pending_events(db, batched)
    assert len(events) >= 25
    with db.transaction() as session:
        # invoice.created goes to "*", invoice.issued to "*" and "invoice.issued".
        assert service.publish_many(session, batched, events) == 3 * 25
    for one in pending_events(db, single):
        with db.transaction() as session:
            webhook_jobs.fan_out(session, single, [one])

    made = fanned_out(db, batched)
    assert made == fanned_out(db, single)
    assert len(made) == 75 and {m[0] for m in made} == {
        "https://all.example.se/kvitt",
        "https://issued.example.se/kvitt",
    }
    # Every stored event carries its invoice as the API shows it.
    assert all(m[2] is not None and m[3] == 12500 for m in made)
    assert sorted(m[1] for m in made).count("invoice.issued") == 50

    # The same event jobs again (a worker lost its lease): nothing new.
    before = counts(db)
    with db.transaction() as session:
        assert service.publish_many(session, batched, events) == 0
        assert service.publish_many(session, batched, events[:3] + events[:3]) == 0
    assert counts(db) == before


def test_the_fan_out_is_set_based(db: Database) -> None:
    """The statements of one batch do not grow with its events (3 or 60 events, same count)."""
    tenant_id, _ = make_tenant(db, **TENANT_A)
    add_endpoint(db, tenant_id, "https://all.example.se/kvitt", ["*"])
    add_endpoint(db, tenant_id, "https://issued.example.se/kvitt", ["invoice.issued"])
    issue_many(db, tenant_id, 3)
    small = pending_events(db, tenant_id)
    issue_many(db, tenant_id, 60, first=3)
    large = [e for e in pending_events(db, tenant_id) if e not in small]
    assert len(large) >= 20 * len(small)

    statements = []
    for events in (small, large):
        with db.transaction() as session, counting_statements(db) as seen:
            made = service.publish_many(session, tenant_id, events)
            session.flush()
        assert made == len(events) + sum(e["type"] == "invoice.issued" for e in events)
        statements.append(len(seen))
    assert statements[0] == statements[1], statements
    assert statements[0] <= 12, statements

    # A tenant without endpoints pays one statement per batch.
    other, _ = make_tenant(db, **TENANT_B)
    issue_many(db, other, 5)
    events = pending_events(db, other)
    with db.transaction() as session, counting_statements(db) as seen:
        service.publish_many(session, other, events)
    assert len(seen) == 1


def test_an_endpoint_that_takes_lists_gets_several_events_per_request(db: Database, settings: Settings) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with running() as lists, running() as singles:
        _, list_secret = add_endpoint(db, tenant_id, lists.url, ["invoice.issued"], max_batch_size=4)
        _, single_secret = add_endpoint(db, tenant_id, singles.url, ["invoice.issued"])
        invoice_ids = issue_many(db, tenant_id, 10)
        Worker(db, settings, worker_id="test-worker").run_until_idle()
    with db.transaction() as session:
        jobs = list(session.scalars(select(OutboxJob).where(OutboxJob.kind == service.DELIVER_JOB)))
    # A job per request's worth: the list endpoint's three lists, the other's ten events.
    assert sorted(len(service.delivery_ids_of(job.payload)) for job in jobs) == [1] * 10 + [2, 4, 4]

    # 10 events to the list endpoint: 4 + 4 + 2, each body signed as one.
    bodies = [verify(r.body, r.headers["Kvitt-Signature"], list_secret) for r in lists.requests]
    assert sorted(len(b["data"]) for b in bodies) == [2, 4, 4]
    assert all(b["object"] == "list" for b in bodies)
    listed = [event for body in bodies for event in body["data"]]
    assert sorted(e["data"]["object"]["id"] for e in listed) == sorted(invoice_ids)
    assert all(e["object"] == "event" and e["type"] == "invoice.issued" for e in listed)

    # The other endpoint gets one event per request, as before.
    alone = [verify(r.body, r.headers["Kvitt-Signature"], single_secret) for r in singles.requests]
    assert len(alone) == 10 and all(e["object"] == "event" for e in alone)
    # The same events (ids) went to both.
    with db.transaction() as session:
        stored = set(session.scalars(select(WebhookEvent.public_id)))
        assert {e["id"] for e in listed} == {e["id"] for e in alone} == stored
        attempts = session.execute(select(WebhookAttempt.delivery_id, WebhookAttempt.status_code)).all()
        states = set(session.scalars(select(WebhookDelivery.state)))
    # Each delivery's attempt recorded once, with the outcome of the request that carried it.
    assert len(attempts) == 20 and len({a[0] for a in attempts}) == 20 and {a[1] for a in attempts} == {200}
    assert states == {"succeeded"}


def test_a_failed_list_request_is_retried_for_every_event_it_carried(db: Database, settings: Settings) -> None:
    from tests.webhooks.helpers import make_due

    tenant_id, _ = make_tenant(db, **TENANT_A)
    with running(lambda n: (503, b"busy", 0.0) if n == 1 else (200, b"", 0.0)) as receiver:
        add_endpoint(db, tenant_id, receiver.url, ["invoice.issued"], max_batch_size=10)
        issue_many(db, tenant_id, 5)
        worker = Worker(db, settings, worker_id="test-worker")
        worker.run_until_idle()
        assert len(receiver.requests) == 1
        with db.transaction() as session:
            assert set(session.scalars(select(WebhookDelivery.state))) == {"pending"}
            # The failed list is retried as a list: one job carrying its five deliveries.
            (retry,) = session.scalars(
                select(OutboxJob).where(OutboxJob.kind == service.DELIVER_JOB, OutboxJob.state == "pending")
            )
            delivery_ids = set(session.scalars(select(WebhookDelivery.id)))
            assert sorted(retry.payload["delivery_ids"]) == sorted(delivery_ids) and len(delivery_ids) == 5
        assert make_due(db, service.DELIVER_JOB) == 1
        worker.run_until_idle()
    first, second = (json.loads(r.body) for r in receiver.requests)
    assert [e["id"] for e in first["data"]] == [e["id"] for e in second["data"]] and len(first["data"]) == 5
    with db.transaction() as session:
        assert set(session.scalars(select(WebhookDelivery.state))) == {"succeeded"}
        assert set(session.scalars(select(WebhookDelivery.attempts))) == {2}
        assert session.scalar(select(func.count(WebhookAttempt.id))) == 10


def test_requests_of_a_batch_go_out_concurrently_through_a_bounded_pool(
    db: Database, settings: Settings, monkeypatch: Any
) -> None:
    from kvitt.webhooks import sender

    monkeypatch.setattr(sender, "POOL_SIZE", 3)
    lock = threading.Lock()
    in_flight, most = [0], [0]

    def answer(n: int) -> tuple[int, bytes, float]:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.2)  # hold the request so that the others arrive meanwhile
        with lock:
            in_flight[0] -= 1
        return 200, b"", 0.0

    tenant_id, _ = make_tenant(db, **TENANT_A)
    with running(answer) as receiver:
        add_endpoint(db, tenant_id, receiver.url, ["invoice.issued"])
        issue_many(db, tenant_id, 9)
        Worker(db, settings, worker_id="test-worker").run_until_idle()
    assert len(receiver.requests) == 9
    assert 1 < most[0] <= 3  # more than one at a time, never more than the pool


def test_one_event_of_a_list_can_be_replayed_and_its_list_retry_still_holds(db: Database, settings: Settings) -> None:
    """A list's deliveries share one retry job; a replay of one of them sends that event alone,
    and when the replay fails too the delivery waits for the list's retry (read from the job)."""
    from kvitt.tenants.models import Tenant
    from tests.webhooks.helpers import make_due

    tenant_id, _ = make_tenant(db, **TENANT_A)
    with running(lambda n: (503, b"busy", 0.0) if n <= 2 else (200, b"", 0.0)) as receiver:
        endpoint_id, _ = add_endpoint(db, tenant_id, receiver.url, ["invoice.issued"], max_batch_size=10)
        issue_many(db, tenant_id, 5)
        worker = Worker(db, settings, worker_id="test-worker")
        worker.run_until_idle()  # request 1: the list of five, refused
        with db.transaction() as session:
            (retry,) = session.scalars(
                select(OutboxJob).where(OutboxJob.kind == service.DELIVER_JOB, OutboxJob.state == "pending")
            )
            third = sorted(retry.payload["delivery_ids"])[2]
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            service.replay(session, tenant, endpoint_id, third)
        worker.run_until_idle()  # request 2: the replay of one event, refused too
        with db.transaction() as session:
            replayed = session.get(WebhookDelivery, third)
            assert replayed is not None
            assert replayed.state == "pending" and replayed.next_attempt_at == retry.run_at
        assert make_due(db, service.DELIVER_JOB) == 1
        worker.run_until_idle()  # request 3: the list's retry, all five again
    lists = [json.loads(r.body) for r in receiver.requests]
    assert [len(body["data"]) for body in lists] == [5, 1, 5]
    assert lists[1]["data"][0]["id"] == lists[0]["data"][2]["id"]
    with db.transaction() as session:
        assert set(session.scalars(select(WebhookDelivery.state))) == {"succeeded"}
        assert session.scalar(select(WebhookDelivery.attempts).where(WebhookDelivery.id == third)) == 3


def test_a_large_batch_of_deliver_jobs_is_sent_and_recorded_in_parts(
    db: Database, settings: Settings, monkeypatch: Any
) -> None:
    """A worker batch naming more deliveries than DELIVERIES_AT_ONCE goes out a part at a time
    (so what it holds stays bounded); every job is done once, every delivery attempted once."""
    from kvitt.webhooks import sender

    monkeypatch.setattr(webhook_jobs, "DELIVERIES_AT_ONCE", 4)
    sends: list[int] = []
    post_many = sender.post_many

    def counted(requests: list[sender.Outgoing], **kwargs: Any) -> list[sender.Outcome]:
        sends.append(len(requests))
        return post_many(requests, **kwargs)

    monkeypatch.setattr(sender, "post_many", counted)
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with running() as lists, running() as singles:
        add_endpoint(db, tenant_id, lists.url, ["invoice.issued"], max_batch_size=3)
        add_endpoint(db, tenant_id, singles.url, ["invoice.issued"])
        issue_many(db, tenant_id, 7)
        Worker(db, settings, worker_id="test-worker").run_until_idle()
    assert sorted(len(json.loads(r.body)["data"]) for r in lists.requests) == [1, 3, 3]
    assert len(singles.requests) == 7
    assert len(sends) >= 3 and sum(sends) == 10  # 14 deliveries in parts of at most 4
    with db.transaction() as session:
        jobs = session.execute(
            select(OutboxJob.state, OutboxJob.attempts).where(OutboxJob.kind == service.DELIVER_JOB)
        ).all()
        assert len(jobs) == 10 and {tuple(job) for job in jobs} == {("done", 1)}
        assert set(session.scalars(select(WebhookDelivery.state))) == {"succeeded"}
        assert session.scalar(select(func.count(WebhookAttempt.id))) == 14
