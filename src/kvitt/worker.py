"""The job runner: claims due outbox jobs in batches, runs them, retries, buries.

Each claimed batch is grouped by (kind, tenant). A kind with a batch handler runs the whole
group in one transaction; if that fails, each of its jobs runs again alone, so one bad item
is retried by itself (see ``kvitt.core.outbox``). Other kinds run one job per transaction.
On PostgreSQL any number of workers on any number of machines share the queue
(``FOR UPDATE SKIP LOCKED``); on SQLite one worker runs inside ``kvitt serve``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import traceback
from collections.abc import Callable
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.config import Settings, get_settings, inbox_slots
from kvitt.core.db import Database, any_of, utcnow
from kvitt.core.logging import bound_job, bound_jobs
from kvitt.core.outbox import (
    DEAD,
    DONE,
    PENDING,
    RUNNING,
    Claimed,
    OutboxJob,
    backoff_seconds,
    batch_handler_for,
    claim_due,
    enqueue,
    finish,
    handler_for,
    provide_runner,
)
from kvitt.core.readiness import Watch
from kvitt.tenants.models import Tenant
from kvitt.testclock.models import TestClock

log = structlog.get_logger("kvitt.worker")
# A job's outcome when another worker took it over after its lease ran out (core.outbox.LeaseLost).
TAKEN_OVER = "taken over"


def load_job_handlers() -> None:
    """Import every feature's jobs module so that its handlers are registered."""
    import kvitt.autogiro.jobs
    import kvitt.automation.jobs
    import kvitt.billing.jobs
    import kvitt.billing_files.inbox
    import kvitt.checkout.jobs
    import kvitt.core.events
    import kvitt.core.idempotency
    import kvitt.delivery.jobs
    import kvitt.dunning.jobs
    import kvitt.invoices.jobs
    import kvitt.payments.inbox
    import kvitt.payments.jobs
    import kvitt.reports.jobs
    import kvitt.segments.jobs
    import kvitt.webhooks.jobs  # noqa: F401


class Worker:
    def __init__(self, db: Database, settings: Settings | None = None, worker_id: str | None = None) -> None:
        load_job_handlers()
        self.db = db
        self.settings = settings or get_settings()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self._scheduled_for: date | None = None
        self._inbox_reads: set[str] = set()

    def run_once(self) -> int:
        """Claim and run one batch of due jobs; returns how many ran."""
        with self.db.transaction() as session:
            claimed = claim_due(
                session, self.worker_id, self.settings.worker_batch_size, self.settings.job_lease_seconds
            )
        for (kind, tenant_id), group in _grouped(claimed).items():
            if batch_handler_for(kind) is not None:
                ids = [c.id for c in group]
                with bound_jobs(ids, kind, tenant_id) as batch_scope:
                    batch_scope.failed = self._run_batch(kind, ids)
                continue
            for job in group:
                with bound_job(job.id, kind, tenant_id) as scope:
                    scope.outcome = self._run(job.id)
        return len(claimed)

    def run_until_idle(self, max_rounds: int = 1000) -> int:
        total = 0
        for _ in range(max_rounds):
            ran = self.run_once()
            total += ran
            if not ran:
                break
        return total

    def schedule_daily(self, today: date) -> None:
        """Enqueue each tenant's daily jobs once per day (the dedupe key makes reruns no-ops)."""
        from kvitt.core.idempotency import PRUNE_JOB

        day = today.isoformat()
        with self.db.transaction() as session:
            # A tenant on a test clock lives on the clock's date, not the wall clock's.
            on_clock = select(TestClock.tenant_id)
            tenant_ids = list(session.scalars(select(Tenant.id).where(Tenant.id.not_in(on_clock))))
            existing = set(session.scalars(select(OutboxJob.dedupe_key).where(OutboxJob.dedupe_key.like(f"%:{day}"))))
            wanted: list[tuple[str, int | None]] = [(PRUNE_JOB, None)]
            wanted += [(kind, tenant_id) for kind in clock.daily_jobs() for tenant_id in tenant_ids]
            for kind, tenant_id in wanted:
                key = f"{kind}:{tenant_id or 'all'}:{day}"
                if key not in existing:
                    enqueue(session, kind, {"date": day}, tenant_id=tenant_id, dedupe_key=key)
        self._scheduled_for = today

    def schedule_inbox(self, now: datetime) -> None:
        """Enqueue a read of the inbox for each of today's read times that has come (once each)."""
        from kvitt.autogiro.jobs import READ_INBOX_JOB as READ_AUTOGIRO_INBOX_JOB
        from kvitt.billing_files.inbox import READ_BILLING_INBOX_JOB
        from kvitt.payments.inbox import READ_INBOX_JOB

        if not self.settings.inbox_dir:
            return
        for slot in inbox_slots(self.settings):
            for kind in (READ_INBOX_JOB, READ_BILLING_INBOX_JOB, READ_AUTOGIRO_INBOX_JOB):
                key = f"{kind}:all:{now.date().isoformat()}T{slot.isoformat('minutes')}"
                if now.time() < slot or key in self._inbox_reads:
                    continue
                try:
                    with self.db.transaction() as session:
                        if session.scalar(select(OutboxJob.id).where(OutboxJob.dedupe_key == key)) is None:
                            payload = {"inbox": self.settings.inbox_dir, "date": now.date().isoformat()}
                            enqueue(session, kind, payload, tenant_id=None, dedupe_key=key, max_attempts=3)
                except IntegrityError:  # only the dedupe key: another worker enqueued this read first
                    log.info("inbox read already scheduled", key=key)
                self._inbox_reads.add(key)

    _database_watch: Watch | None = None  # made on the first database error (tick)

    def tick(self) -> int:
        today = clock.today()
        # Anything but the dedupe race and a database that is not ready is raised, not hidden:
        # a swallowed ValueError here once meant bank files were never read (docs/operations.md).
        try:
            self.schedule_inbox(datetime.now(clock.STOCKHOLM))
            if self._scheduled_for != today:
                try:
                    self.schedule_daily(today)
                except IntegrityError:  # only the dedupe key: another worker scheduled some of today's jobs first
                    # Not marked done: the next tick reads what the other worker wrote and adds the rest.
                    log.info("daily jobs partly scheduled by another worker; completing", date=today.isoformat())
            return self.run_once()
        except DBAPIError as exc:
            # A dropped connection (the server restarted), or a database down, missing or not
            # migrated: wait for it (one log line when that changes, see core.readiness.Watch)
            # instead of a traceback every poll. On a ready database it is a bug: raised.
            if exc.connection_invalidated or not self._readiness().get().ready:
                return 0
            raise

    def _readiness(self) -> Watch:
        if self._database_watch is None:
            self._database_watch = Watch(self.db.engine.url.render_as_string(hide_password=False))
        return self._database_watch

    def run_forever(self) -> None:
        log.info("worker started", worker=self.worker_id)
        while True:
            if not self.tick():
                time.sleep(self.settings.worker_poll_seconds)

    async def run_forever_async(self) -> None:
        log.info("embedded worker started", worker=self.worker_id)
        while True:
            try:
                ran = await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("worker tick failed")
                ran = 0
            if not ran:
                await asyncio.sleep(self.settings.worker_poll_seconds)

    def _run_batch(self, kind: str, job_ids: list[int]) -> int:
        """Run a group of one kind and tenant in one transaction; on failure, each job alone.

        Returns how many of the jobs failed.
        """
        handler = batch_handler_for(kind)
        assert handler is not None
        try:
            with self.db.transaction() as session:
                jobs = self._still_ours(session, job_ids)
                if not jobs:
                    return 0
                failures = handler(session, jobs) or {}
                finish(session, [job.id for job in jobs if job.id not in failures], self.worker_id)
                for job in jobs:
                    if job.id in failures:
                        _fail(job, failures[job.id])
                return len(failures)
        except Exception as exc:
            # The job-failure boundary, as in _run: nothing is swallowed, every job of the batch
            # runs again alone and a failure is recorded on its job with the reason.
            if len(job_ids) == 1:
                self._record_failure(job_ids[0], exc)
                return 1
            log.info("batch failed, running its jobs one by one", kind=kind, jobs=len(job_ids), error=_reason(exc))
            return sum(self._run(job_id) not in (DONE, TAKEN_OVER) for job_id in job_ids)

    def _still_ours(self, session: Session, job_ids: list[int]) -> list[OutboxJob]:
        """The jobs of a claim that no other worker took over (a lease that ran out)."""
        query = (
            select(OutboxJob)
            .where(
                any_of(session, OutboxJob.id, job_ids),
                OutboxJob.locked_by == self.worker_id,
                OutboxJob.state == RUNNING,
            )
            .order_by(OutboxJob.id)
        )
        return list(session.scalars(query))

    def _run(self, job_id: int) -> str:
        """Run one job in its own transaction; returns what it came to (done, retry, dead, or
        taken over by another worker)."""
        try:
            with self.db.transaction() as session:
                job = session.get(OutboxJob, job_id)
                if job is None or job.state in (DONE, DEAD):
                    return DONE
                if job.locked_by != self.worker_id:
                    return TAKEN_OVER
                batch = batch_handler_for(job.kind)
                handler = handler_for(job.kind)
                if batch is not None:
                    failure = (batch(session, [job]) or {}).get(job.id)
                    if failure is not None:
                        return _fail(job, failure)
                elif handler is not None:
                    handler(session, job)
                else:
                    raise LookupError(f"no handler for job kind {job.kind!r}")
                finish(session, [job.id], self.worker_id)
                return DONE
        except Exception as exc:
            return self._record_failure(job_id, exc)

    def _record_failure(self, job_id: int, exc: Exception) -> str:
        with self.db.transaction() as session:
            job = session.get(OutboxJob, job_id)
            if job is None:
                return DEAD
            if job.state == RUNNING and job.locked_by != self.worker_id:
                # Taken over while it ran (LeaseLost, or a failure after the lease ran out): the
                # worker that holds it now records its outcome; this one's work was rolled back.
                log.warning("job taken over by another worker", job=job.id, kind=job.kind, by=job.locked_by)
                return TAKEN_OVER
            return _fail(job, _reason(exc))


def _grouped(claimed: list[Claimed]) -> dict[tuple[str, int | None], list[Claimed]]:
    groups: dict[tuple[str, int | None], list[Claimed]] = {}
    for job in claimed:
        groups.setdefault((job.kind, job.tenant_id), []).append(job)
    return groups


def _reason(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]


def _fail(job: OutboxJob, error: str) -> str:
    """Count a failed attempt: back off and try again later, or bury the job after the last.

    Returns ``retry`` or ``dead``; the reason is logged once, with the attempt.
    """
    job.attempts += 1
    job.last_error = error[:2000]
    job.locked_by = None
    job.locked_until = None
    if job.attempts >= job.max_attempts:
        job.state = DEAD
        job.finished_at = utcnow()
        log.error("job dead", job=job.id, kind=job.kind, attempts=job.attempts, error=job.last_error)
        return DEAD
    job.state = PENDING
    job.run_at = utcnow() + timedelta(seconds=backoff_seconds(job.attempts))
    log.warning("job failed, will retry", job=job.id, kind=job.kind, attempts=job.attempts, error=job.last_error)
    return "retry"


def _runner(db: Database) -> Callable[[], int]:
    worker = Worker(db)
    return lambda: worker.run_until_idle(max_rounds=100_000)


provide_runner(_runner)


def retry_dead(db: Database, job_ids: list[int] | None = None) -> int:
    """Put dead jobs (all, or the given ones) back in the queue with a fresh set of attempts."""
    with db.transaction() as session:
        query = select(OutboxJob).where(OutboxJob.state == DEAD)
        if job_ids:
            query = query.where(OutboxJob.id.in_(job_ids))
        jobs = list(session.scalars(query))
        for job in jobs:
            job.state = PENDING
            job.attempts = 0
            job.run_at = utcnow()
            job.finished_at = None
        return len(jobs)
