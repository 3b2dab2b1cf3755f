"""The outbox: domain events and jobs, written in the business transaction, run by the worker.

A job is enqueued in the same transaction as the change that causes it, so it exists exactly
when the change does. The worker claims due jobs in batches (on PostgreSQL with ``FOR UPDATE
SKIP LOCKED``, so any number of workers share them without overlap) and runs them:

- a kind with a *batch handler* (:func:`handles_batch`) gets every claimed job of that kind and
  tenant at once, in one transaction, so it can load and write with set-based queries. It
  returns the jobs that failed on their own (``{job_id: error}``): those are retried alone with
  backoff while the rest are done. If it raises, the batch is rolled back and each job is run
  again alone, so one bad item never holds back the others (per-item failure isolation);
- a kind with a plain handler (:func:`handles`) runs each job in its own transaction.

A job has a ``priority`` (a small integer, 0 by default, higher first): due jobs are claimed
by priority, then by how long they have waited (``run_at``), then by id. A payer waiting on a
page (checkout's send) outranks a backlog of a billing day's deliveries without pretending to
be older than it is.

On failure a job is retried with exponential backoff until ``max_attempts``, then marked
``dead``. A handler that commits part of its work before it returns (to make a network call
with no transaction open) must find that work done when a job runs again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, any_of, bulk_insert, is_postgresql, utcnow

PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"
# Priorities: 0 for almost everything; higher is claimed first (a person is waiting).
NORMAL, PERSON_WAITING = 0, 10


class OutboxJob(Base):
    __tablename__ = "outbox_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # A job with a dedupe key exists at most once (e.g. one overdue sweep per tenant and day).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    priority: Mapped[int] = mapped_column(SmallInteger, default=NORMAL, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    run_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# The claim's order (migration 0018): within a state, priority high to low, then oldest first.
# A claim of one priority is a range read of it; see claim_due.
Index("ix_outbox_jobs_claim", OutboxJob.state, OutboxJob.priority.desc(), OutboxJob.run_at, OutboxJob.id)


JobHandler = Callable[[Session, OutboxJob], None]
# A batch handler returns the jobs that failed on their own, with the reason (None: none did).
JobFailures = dict[int, str]
BatchHandler = Callable[[Session, list[OutboxJob]], JobFailures | None]
_handlers: dict[str, JobHandler] = {}
_batch_handlers: dict[str, BatchHandler] = {}


def handles(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register the function that runs jobs of ``kind`` (features do this at import)."""

    def register(handler: JobHandler) -> JobHandler:
        _handlers[kind] = handler
        return handler

    return register


def handles_batch(kind: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register the function that runs many jobs of ``kind`` (of one tenant) in one go."""

    def register(handler: BatchHandler) -> BatchHandler:
        _batch_handlers[kind] = handler
        return handler

    return register


def handler_for(kind: str) -> JobHandler | None:
    return _handlers.get(kind)


def batch_handler_for(kind: str) -> BatchHandler | None:
    return _batch_handlers.get(kind)


# Jobs that each carry many items count as that many jobs towards a claim's limit.
_claim_weights: dict[str, int] = {}


def weighs(kind: str, jobs: int) -> None:
    """A job of ``kind`` counts as ``jobs`` jobs in a claim (``claim_due``): an event bundle
    holds hundreds of events, and a worker that claimed every bundle of a billing run at once
    would work through them alone while the other workers wait."""
    _claim_weights[kind] = jobs


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    tenant_id: int | None,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 8,
    priority: int = NORMAL,
) -> OutboxJob:
    job = OutboxJob(
        tenant_id=tenant_id,
        kind=kind,
        payload=payload,
        run_at=run_at or utcnow(),
        dedupe_key=dedupe_key,
        max_attempts=max_attempts,
        priority=priority,
        state=PENDING,
        attempts=0,
    )
    session.add(job)
    return job


def enqueue_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk form of :func:`enqueue` for batch use cases (rows hold OutboxJob's columns)."""
    if rows:
        now = utcnow()
        for row in rows:
            row.setdefault("run_at", now)
            row.setdefault("created_at", now)
            row.setdefault("state", PENDING)
            row.setdefault("attempts", 0)
            row.setdefault("max_attempts", 8)
            row.setdefault("dedupe_key", None)
            row.setdefault("priority", NORMAL)
        bulk_insert(session, OutboxJob, rows)


def claim_due_jobs(session: Session, worker_id: str, limit: int, lease_seconds: int) -> list[int]:
    """Mark up to ``limit`` due jobs as running for ``worker_id``; the caller commits."""
    return [claimed.id for claimed in claim_due(session, worker_id, limit, lease_seconds)]


class Claimed(NamedTuple):
    id: int
    kind: str
    tenant_id: int | None


def claim_due(session: Session, worker_id: str, limit: int, lease_seconds: int) -> list[Claimed]:
    """Mark up to ``limit`` due jobs as running for ``worker_id``; the caller commits.

    Order: expired leases first (a running job whose worker died is due again), then pending
    jobs by priority (higher first), how long they have waited (``run_at``) and id. Pending jobs
    are read in three slices of ``(state, priority DESC, run_at, id)``: above normal, normal,
    below normal. The normal slice, which holds nearly every job, is a range read that stops at
    ``now``, so neither millions of done jobs nor thousands of jobs scheduled for later cost
    anything here; the other two are small. On PostgreSQL each read skips rows other workers
    hold (``FOR UPDATE SKIP LOCKED``).
    """
    now = utcnow()
    pending = (OutboxJob.state == PENDING) & (OutboxJob.run_at <= now)
    expired = (OutboxJob.state == RUNNING) & (OutboxJob.locked_until < now)
    slices = (
        expired,
        pending & (OutboxJob.priority > NORMAL),
        pending & (OutboxJob.priority == NORMAL),
        pending & (OutboxJob.priority < NORMAL),
    )
    claimed: list[Claimed] = []
    room = limit  # what is left of the limit, each job counted by its weight (``weighs``)
    for due in slices:
        query = (
            select(OutboxJob.id, OutboxJob.kind, OutboxJob.tenant_id)
            .where(due)
            .order_by(OutboxJob.priority.desc(), OutboxJob.run_at, OutboxJob.id)
            .limit(room)
        )
        if is_postgresql(session):
            query = query.with_for_update(skip_locked=True)
        for row in session.execute(query).all():
            job = Claimed(*row)
            weight = _claim_weights.get(job.kind, 1)
            if claimed and weight > room:
                room = 0  # the rows read past it stay unclaimed (their locks end with this claim)
                break
            claimed.append(job)
            room -= weight
        if room <= 0:
            break
    if claimed:
        session.execute(
            update(OutboxJob)
            .where(any_of(session, OutboxJob.id, [c.id for c in claimed]))
            .values(state=RUNNING, locked_by=worker_id, locked_until=now + timedelta(seconds=lease_seconds))
        )
    return claimed


class LeaseLost(RuntimeError):
    """Another worker took over a job while this one still ran it (the lease ran out, e.g. a
    batch against a slow provider that outlasted ``KVITT_JOB_LEASE_SECONDS``). The finishing
    transaction is rolled back, so the job's work is recorded once: by the worker that holds it."""


def finish(session: Session, job_ids: list[int], worker_id: str | None = None) -> None:
    """Mark jobs that ran as done (one statement for a whole batch). A job a batch handler has
    finished itself already (to commit part of a large batch) is not counted twice.

    With ``worker_id`` (the worker's own calls), only jobs still leased to that worker are
    finished, and :class:`LeaseLost` is raised if another worker holds one of them now.
    """
    if not job_ids:
        return
    ours = [any_of(session, OutboxJob.id, job_ids), OutboxJob.state == RUNNING]
    if worker_id is not None:
        ours.append(OutboxJob.locked_by == worker_id)
    result = session.execute(
        update(OutboxJob)
        .where(*ours)
        .values(state=DONE, attempts=OutboxJob.attempts + 1, finished_at=utcnow(), locked_by=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    # The usual case costs nothing more: every job was ours and is done now.
    if worker_id is not None and int(getattr(result, "rowcount", 0) or 0) < len(job_ids):
        raise_if_taken_over(session, job_ids, worker_id)


def raise_if_taken_over(session: Session, job_ids: list[int], worker_id: str) -> None:
    """Raise :class:`LeaseLost` if another worker now runs any of these jobs."""
    taken = session.scalars(
        select(OutboxJob.id).where(
            any_of(session, OutboxJob.id, job_ids), OutboxJob.state == RUNNING, OutboxJob.locked_by != worker_id
        )
    ).all()
    if taken:
        raise LeaseLost(f"job(s) {', '.join(map(str, sorted(taken)))} were taken over by another worker")


# The job runner, provided by the process's composition root (``kvitt.worker``), so that a
# feature that must run the queue now (the test clock's simulated days) needs no import of it.
RunnerFactory = Callable[[Any], Callable[[], int]]
_runner_factory: list[RunnerFactory] = []


def provide_runner(factory: RunnerFactory) -> None:
    _runner_factory[:] = [factory]


def runner_for(db: Any) -> Callable[[], int]:
    """A function that runs every due job of ``db`` until none is left; returns how many ran."""
    if not _runner_factory:
        raise RuntimeError("no job runner: import kvitt.worker in the program's entry point")
    return _runner_factory[0](db)


def backoff_seconds(attempts: int) -> int:
    """Seconds to wait before attempt ``attempts + 1``: 2, 4, 8 ... capped at one hour."""
    return int(min(2**attempts, 3600))
