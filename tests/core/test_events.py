"""Domain events to batch subscribers: one call per batch, bundles for bulk commands, isolation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core import events
from kvitt.core.db import Database, utcnow
from kvitt.core.events import DOMAIN_EVENT_JOB, DOMAIN_EVENTS_JOB, subscribe_batch
from kvitt.core.outbox import DONE, PENDING, OutboxJob
from kvitt.worker import Worker
from tests.conftest import TENANT_A, make_tenant

calls: list[list[dict[str, Any]]] = []
poison: set[int] = set()


@subscribe_batch("test.bundle")
def record_calls(session: Session, tenant_id: int, batch: list[dict[str, Any]]) -> None:
    calls.append(batch)
    if any(event["n"] in poison for event in batch):
        raise RuntimeError("a bad event")
    session.add(OutboxJob(tenant_id=tenant_id, kind="test.seen", payload={"n": [e["n"] for e in batch]}, state=DONE))


def _publish(db: Database, tenant_id: int, count: int) -> None:
    with db.transaction() as session:
        events.publish(session, tenant_id, [{"type": "test.bundle", "n": n} for n in range(count)])


def _jobs(db: Database, kind: str, state: str | None = None) -> list[OutboxJob]:
    with db.transaction() as session:
        query = select(OutboxJob).where(OutboxJob.kind == kind)
        if state:
            query = query.where(OutboxJob.state == state)
        return list(session.scalars(query.order_by(OutboxJob.id)))


def _seen(db: Database) -> list[int]:
    return sorted(n for job in _jobs(db, "test.seen") for n in job.payload["n"])


def test_a_few_events_get_a_row_each_and_reach_the_subscriber_in_one_call(db: Database) -> None:
    calls.clear()
    tenant_id, _ = make_tenant(db, **TENANT_A)
    _publish(db, tenant_id, 3)
    assert len(_jobs(db, DOMAIN_EVENT_JOB)) == 3
    Worker(db).run_until_idle()
    assert [[e["n"] for e in batch] for batch in calls] == [[0, 1, 2]]
    ids = {str(e["event_job_id"]) for e in calls[0]}
    assert ids == {str(job.id) for job in _jobs(db, DOMAIN_EVENT_JOB, DONE)}


def test_a_bulk_publish_writes_bundles_of_500_and_every_event_once(db: Database) -> None:
    calls.clear()
    tenant_id, _ = make_tenant(db, **TENANT_A)
    _publish(db, tenant_id, 1200)
    bundles = _jobs(db, DOMAIN_EVENTS_JOB)
    assert [len(b.payload["events"]) for b in bundles] == [500, 500, 200]
    assert not _jobs(db, DOMAIN_EVENT_JOB)
    Worker(db).run_until_idle()
    assert _seen(db) == list(range(1200))
    names = [e["event_job_id"] for batch in calls for e in batch]
    assert len(set(names)) == 1200  # every event its own stable name: "<bundle>.<index>"
    assert all(job.state == DONE for job in _jobs(db, DOMAIN_EVENTS_JOB))


def test_a_bad_event_in_a_bundle_is_retried_alone_and_the_others_go_through(db: Database) -> None:
    calls.clear()
    poison.clear()
    poison.add(77)
    tenant_id, _ = make_tenant(db, **TENANT_A)
    _publish(db, tenant_id, 120)
    Worker(db).run_until_idle()
    assert _seen(db) == [n for n in range(120) if n != 77]  # each exactly once
    (waiting,) = _jobs(db, DOMAIN_EVENT_JOB, PENDING)
    assert waiting.payload["n"] == 77 and "a bad event" in (waiting.last_error or "")
    poison.clear()
    with db.transaction() as session:
        session.get(OutboxJob, waiting.id).run_at = utcnow()  # type: ignore[union-attr]
    Worker(db).run_until_idle()
    assert _seen(db) == list(range(120))
