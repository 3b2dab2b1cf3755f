"""The outbox and the worker: jobs exist exactly when their change does, retry, die, replay."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import DEAD, DONE, PENDING, RUNNING, OutboxJob, claim_due_jobs, enqueue, handles, handles_batch
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.tenants.models import Tenant
from kvitt.worker import Worker, retry_dead
from tests.conftest import ENGINE, TENANT_A, make_tenant

FLAKY = "test.flaky"
calls: list[dict[str, Any]] = []


@handles(FLAKY)
def flaky_handler(session: Any, job: OutboxJob) -> None:
    calls.append(job.payload)
    if job.payload.get("fail"):
        raise RuntimeError("provider said no")


def _issue_one(db: Database, tenant_id: int, *, due: date) -> int:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        customer = customers.create(session, tenant, CustomerCreate(customer_no="7", name="Sven Berg"))
        line = LineIn(description="Abonnemang", quantity="1", unit_price=19900, vat_rate=25)
        (draft,) = invoices.create_drafts(
            session, tenant, [InvoiceCreate(customer=customer.id, lines=[line], due_date=due)], actor="test"
        )
        invoices.issue(session, tenant, [draft], today=due - timedelta(days=30), actor="test")
        return draft.id


def _count(db: Database, **where: Any) -> int:
    with db.transaction() as session:
        query = select(func.count(OutboxJob.id))
        for column, value in where.items():
            query = query.where(getattr(OutboxJob, column) == value)
        return int(session.scalar(query) or 0)


def test_domain_events_are_enqueued_with_the_change_and_only_with_it(db: Database) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with pytest.raises(RuntimeError), db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        kalle = customers.create(session, tenant, CustomerCreate(customer_no="1", name="Kalle"))
        invoices.create_drafts(
            session,
            tenant,
            [InvoiceCreate(customer=kalle.id, lines=[LineIn(description="x", unit_price=100, vat_rate=25)])],
            actor="test",
        )
        raise RuntimeError("the request failed after the change")
    assert _count(db) == 0

    _issue_one(db, tenant_id, due=date(2026, 12, 31))
    assert _count(db, kind="domain_event") == 2  # created, issued
    # The issued event makes delivery record delivery_failed (Sven has no address): a third event.
    assert Worker(db).run_until_idle() == 3
    assert _count(db, state=DONE) == 3


def test_a_failing_job_backs_off_then_dies_and_can_be_replayed(db: Database) -> None:
    calls.clear()
    with db.transaction() as session:
        enqueue(session, FLAKY, {"fail": True}, tenant_id=None, max_attempts=2)
    worker = Worker(db)
    assert worker.run_once() == 1
    with db.transaction() as session:
        job = session.scalars(select(OutboxJob)).one()
        assert job.state == PENDING and job.attempts == 1
        assert job.run_at > utcnow()  # backoff: not due again at once
        assert "provider said no" in (job.last_error or "")
        job.run_at = utcnow()  # let time pass
    assert worker.run_once() == 1
    with db.transaction() as session:
        job = session.scalars(select(OutboxJob)).one()
        assert job.state == DEAD and job.attempts == 2
        job.payload = {"fail": False}
    assert worker.run_once() == 0  # the dead stay dead
    assert retry_dead(db) == 1
    assert worker.run_once() == 1
    assert _count(db, state=DONE) == 1
    assert len(calls) == 3


def test_a_job_whose_worker_died_is_taken_over_after_its_lease(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, FLAKY, {}, tenant_id=None)
    with db.transaction() as session:
        assert len(claim_due_jobs(session, "crashed-worker", 10, lease_seconds=300)) == 1
    assert Worker(db).run_once() == 0  # still leased to the crashed worker
    with db.transaction() as session:
        job = session.scalars(select(OutboxJob)).one()
        job.locked_until = utcnow() - timedelta(seconds=1)
    assert Worker(db).run_once() == 1
    assert _count(db, state=DONE) == 1


ONLY_ON_POSTGRESQL = "SKIP LOCKED sharing is a PostgreSQL feature; SQLite runs one worker"


@pytest.mark.skipif(ENGINE != "postgresql", reason=ONLY_ON_POSTGRESQL)
def test_two_workers_claim_disjoint_jobs_on_postgresql(db: Database) -> None:
    with db.transaction() as session:
        for n in range(10):
            enqueue(session, FLAKY, {"n": n}, tenant_id=None)
    first = db.sessions()
    second = db.sessions()
    try:
        mine = claim_due_jobs(first, "worker-1", 6, lease_seconds=300)  # locks held: not committed yet
        theirs = claim_due_jobs(second, "worker-2", 6, lease_seconds=300)
        assert len(mine) == 6 and len(theirs) == 4
        assert not set(mine) & set(theirs)
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()


def test_daily_schedule_is_enqueued_once_and_marks_invoices_overdue(db: Database) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    invoice_id = _issue_one(db, tenant_id, due=date(2026, 11, 20))
    worker = Worker(db)
    worker.schedule_daily(date(2026, 11, 25))
    worker.schedule_daily(date(2026, 11, 25))  # a second worker, or a restart, the same day
    assert _count(db, kind="invoices.mark_overdue") == 1
    worker.run_until_idle()
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        invoice = invoices.get(session, tenant, invoice_id)
        assert invoice.state == states.OVERDUE
        events = [e.type for e in invoices.events_of(session, tenant, [invoice_id])[invoice_id]]
        # delivery_failed: delivery found no channel that reaches Sven (no email, phone or address).
        assert events == ["created", "issued", "delivery_failed", "overdue"]


def test_idempotency_records_are_forgotten_after_24_hours(db: Database) -> None:
    from kvitt.core import idempotency

    tenant_id, _ = make_tenant(db, **TENANT_A)
    with db.transaction() as session:
        idempotency.remember(session, tenant_id, "old", "h", 201, {"id": 1})
        idempotency.remember(session, tenant_id, "new", "h", 201, {"id": 2})
        session.flush()
        old = idempotency.find(session, tenant_id, "old")
        assert old is not None
        old.created_at = utcnow() - timedelta(hours=25)
    worker = Worker(db)
    worker.schedule_daily(date(2026, 11, 25))
    assert _count(db, kind=idempotency.PRUNE_JOB) == 1
    worker.run_until_idle()
    with db.transaction() as session:
        assert idempotency.find(session, tenant_id, "old") is None
        assert idempotency.find(session, tenant_id, "new") is not None


BATCHED = "test.batched"
batches: list[list[int]] = []


@handles_batch(BATCHED)
def batched_handler(session: Any, jobs: list[OutboxJob]) -> dict[int, str]:
    batches.append([job.payload["n"] for job in jobs])
    if any(job.payload.get("explode") for job in jobs) and len(jobs) > 1:
        raise RuntimeError("the batch as a whole failed")
    if any(job.payload.get("explode") for job in jobs):
        raise RuntimeError("this one is broken")
    session.add(OutboxJob(tenant_id=None, kind="test.side_effect", payload={"n": jobs[0].payload["n"]}, state=DONE))
    return {job.id: "refused by the provider" for job in jobs if job.payload.get("refuse")}


def _enqueue_batched(db: Database, payloads: list[dict[str, Any]]) -> None:
    with db.transaction() as session:
        for payload in payloads:
            enqueue(session, BATCHED, payload, tenant_id=None, max_attempts=3)


def test_a_batch_handler_gets_the_claimed_jobs_of_its_kind_at_once(db: Database) -> None:
    batches.clear()
    _enqueue_batched(db, [{"n": n} for n in range(5)])
    assert Worker(db).run_once() == 5
    assert batches == [[0, 1, 2, 3, 4]]
    assert _count(db, kind=BATCHED, state=DONE) == 5
    assert _count(db, kind="test.side_effect") == 1  # the batch's writes, committed once


def test_an_item_the_batch_handler_reports_failed_is_retried_alone(db: Database) -> None:
    batches.clear()
    _enqueue_batched(db, [{"n": 0}, {"n": 1, "refuse": True}, {"n": 2}])
    Worker(db).run_once()
    assert _count(db, kind=BATCHED, state=DONE) == 2
    with db.transaction() as session:
        failed = session.scalars(select(OutboxJob).where(OutboxJob.kind == BATCHED, OutboxJob.state == PENDING)).one()
        assert failed.payload["n"] == 1 and failed.attempts == 1
        assert failed.last_error == "refused by the provider"
        assert failed.run_at > utcnow()


def test_a_batch_that_raises_is_rolled_back_and_each_job_runs_alone(db: Database) -> None:
    batches.clear()
    _enqueue_batched(db, [{"n": 0}, {"n": 1, "explode": True}, {"n": 2}])
    Worker(db).run_once()
    assert batches == [[0, 1, 2], [0], [1], [2]]
    assert _count(db, kind=BATCHED, state=DONE) == 2
    # The failed batch's writes were rolled back; each job alone wrote its own once.
    assert _count(db, kind="test.side_effect") == 2
    with db.transaction() as session:
        broken = session.scalars(select(OutboxJob).where(OutboxJob.kind == BATCHED, OutboxJob.state == PENDING)).one()
        assert broken.payload["n"] == 1 and "this one is broken" in (broken.last_error or "")


STOLEN = "test.stolen_while_running"
BATCH_STOLEN = "test.batch_stolen_while_running"
_worker_db: list[Database] = []  # the test's database, for the handlers' second worker


def _take_over(job_ids: list[int]) -> None:
    """What a second worker does once a lease has run out: claim the jobs for itself."""
    (db,) = _worker_db
    with db.transaction() as other:
        for job_id in job_ids:
            job = other.get(OutboxJob, job_id)
            assert job is not None
            job.locked_until = utcnow() - timedelta(seconds=1)
    with db.transaction() as other:
        assert sorted(claim_due_jobs(other, "worker-2", 10, lease_seconds=300)) == sorted(job_ids)


@handles(STOLEN)
def stolen_handler(session: Any, job: OutboxJob) -> None:
    # As the sending paths do: commit part-way (no transaction open during a provider call);
    # meanwhile the lease runs out and worker-2 takes the job over; then record an outcome.
    session.commit()
    _take_over([job.id])
    enqueue(session, "test.side_effect", {"by": job.id}, tenant_id=None)


@handles_batch(BATCH_STOLEN)
def batch_stolen_handler(session: Any, jobs: list[OutboxJob]) -> dict[int, str]:
    session.commit()
    _take_over([job.id for job in jobs if job.payload.get("taken")])
    for job in jobs:
        enqueue(session, "test.side_effect", {"by": job.id}, tenant_id=None)
    return {}


def test_a_job_taken_over_while_it_ran_is_not_finished_by_the_worker_that_lost_it(db: Database) -> None:
    _worker_db[:] = [db]
    with db.transaction() as session:
        enqueue(session, STOLEN, {}, tenant_id=None)
    Worker(db, worker_id="worker-1").run_once()
    with db.transaction() as session:
        job = session.scalars(select(OutboxJob).where(OutboxJob.kind == STOLEN)).one()
        # Still worker-2's and running, with no attempt or error recorded by worker-1.
        assert (job.state, job.locked_by, job.attempts, job.last_error) == (RUNNING, "worker-2", 0, None)
    # worker-1's outcome after the take-over was rolled back: only worker-2's will count.
    assert _count(db, kind="test.side_effect") == 0


def test_a_batch_with_a_job_taken_over_is_rolled_back_and_its_own_jobs_run_alone(db: Database) -> None:
    _worker_db[:] = [db]
    with db.transaction() as session:
        jobs = [enqueue(session, BATCH_STOLEN, payload, tenant_id=None) for payload in ({"taken": True}, {})]
        session.flush()
        taken_id, ours_id = (job.id for job in jobs)
    Worker(db, worker_id="worker-1").run_once()
    with db.transaction() as session:
        taken, ours = session.get(OutboxJob, taken_id), session.get(OutboxJob, ours_id)
        assert taken is not None and ours is not None
        assert (taken.state, taken.locked_by, taken.attempts) == (RUNNING, "worker-2", 0)
        assert (ours.state, ours.attempts) == (DONE, 1)
        by = [
            job.payload["by"] for job in session.scalars(select(OutboxJob).where(OutboxJob.kind == "test.side_effect"))
        ]
    # The batch's writes were rolled back; the job still ours wrote its own once, alone.
    assert by == [ours_id]
