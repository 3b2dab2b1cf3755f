"""The outbox's priority: a job a person waits for is claimed before older ordinary jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import (
    DONE,
    PENDING,
    PERSON_WAITING,
    OutboxJob,
    claim_due,
    claim_due_jobs,
    enqueue,
    enqueue_rows,
    handles_batch,
    weighs,
)
from kvitt.worker import Worker
from tests.conftest import ENGINE

ORDINARY = "test.priority.ordinary"
URGENT = "test.priority.urgent"
ran: list[tuple[str, int]] = []


@handles_batch(ORDINARY)
@handles_batch(URGENT)
def _record(session: Any, jobs: list[OutboxJob]) -> None:
    ran.extend((job.kind, int(job.payload["n"])) for job in jobs)


def _backlog(db: Database, count: int, *, age: timedelta = timedelta(minutes=30)) -> None:
    """``count`` ordinary jobs that have waited ``age`` (a billing day's deliveries)."""
    long_ago = utcnow() - age
    with db.transaction() as session:
        enqueue_rows(
            session,
            [{"tenant_id": None, "kind": ORDINARY, "payload": {"n": n}, "run_at": long_ago} for n in range(count)],
        )


def _kinds(db: Database, ids: list[int]) -> list[tuple[str, int]]:
    with db.transaction() as session:
        jobs = {job.id: job for job in session.scalars(select(OutboxJob).where(OutboxJob.id.in_(ids)))}
        return [(jobs[i].kind, int(jobs[i].payload["n"])) for i in ids]


def test_a_job_with_a_higher_priority_is_claimed_before_older_ordinary_jobs(db: Database) -> None:
    _backlog(db, 5)
    with db.transaction() as session:
        enqueue(session, URGENT, {"n": 0}, tenant_id=None, priority=PERSON_WAITING)  # due now, not back-dated
        enqueue(session, URGENT, {"n": 1}, tenant_id=None, priority=1)
        enqueue(session, ORDINARY, {"n": 99}, tenant_id=None, priority=-1, run_at=utcnow() - timedelta(days=1))
    with db.transaction() as session:
        claimed = claim_due_jobs(session, "worker-1", 3, lease_seconds=300)
    # Priority first (10, then 1), then the longest-waiting ordinary job; the low one waits.
    assert _kinds(db, claimed) == [(URGENT, 0), (URGENT, 1), (ORDINARY, 0)]
    with db.transaction() as session:
        rest = claim_due_jobs(session, "worker-1", 10, lease_seconds=300)
    assert _kinds(db, rest) == [(ORDINARY, n) for n in range(1, 5)] + [(ORDINARY, 99)]


def test_a_high_priority_job_that_is_not_due_yet_waits_for_its_time(db: Database) -> None:
    _backlog(db, 2)
    with db.transaction() as session:
        enqueue(
            session, URGENT, {"n": 0}, tenant_id=None, priority=PERSON_WAITING, run_at=utcnow() + timedelta(hours=1)
        )
    with db.transaction() as session:
        claimed = claim_due_jobs(session, "worker-1", 10, lease_seconds=300)
    assert _kinds(db, claimed) == [(ORDINARY, 0), (ORDINARY, 1)]


def test_an_expired_lease_is_still_taken_over_first(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, ORDINARY, {"n": 0}, tenant_id=None)
    with db.transaction() as session:
        assert len(claim_due_jobs(session, "crashed-worker", 10, lease_seconds=300)) == 1
        crashed = session.scalars(select(OutboxJob)).one()
        crashed.locked_until = utcnow() - timedelta(seconds=1)
    with db.transaction() as session:
        enqueue(session, URGENT, {"n": 1}, tenant_id=None, priority=PERSON_WAITING)
    with db.transaction() as session:
        claimed = claim_due_jobs(session, "worker-2", 10, lease_seconds=300)
    assert _kinds(db, claimed) == [(ORDINARY, 0), (URGENT, 1)]


def test_a_worker_batch_runs_the_urgent_job_with_the_backlog_and_all_finish(db: Database) -> None:
    ran.clear()
    _backlog(db, 7)
    with db.transaction() as session:
        enqueue(session, URGENT, {"n": 0}, tenant_id=None, priority=PERSON_WAITING)
    worker = Worker(db)
    worker.settings = worker.settings.model_copy(update={"worker_batch_size": 3})
    assert worker.run_once() == 3  # the urgent job and the two oldest of the backlog
    assert sorted(ran) == [(ORDINARY, 0), (ORDINARY, 1), (URGENT, 0)]
    assert worker.run_until_idle() == 5
    assert sorted(ran) == sorted([(URGENT, 0)] + [(ORDINARY, n) for n in range(7)])
    with db.transaction() as session:
        states = set(session.scalars(select(OutboxJob.state).where(OutboxJob.kind.in_((ORDINARY, URGENT)))))
    assert states == {DONE}


@pytest.mark.skipif(ENGINE != "postgresql", reason="SKIP LOCKED sharing is a PostgreSQL feature")
def test_two_workers_share_the_priorities_without_overlap_on_postgresql(db: Database) -> None:
    _backlog(db, 6)
    with db.transaction() as session:
        for n in range(100, 104):
            enqueue(session, URGENT, {"n": n}, tenant_id=None, priority=PERSON_WAITING)
    first, second = db.sessions(), db.sessions()
    try:
        mine = claim_due(first, "worker-1", 3, lease_seconds=300)  # row locks held: not committed yet
        theirs = claim_due(second, "worker-2", 10, lease_seconds=300)
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
    assert [c.kind for c in mine] == [URGENT] * 3
    assert not {c.id for c in mine} & {c.id for c in theirs}
    assert [c.kind for c in theirs] == [URGENT] + [ORDINARY] * 6
    with db.transaction() as session:
        assert session.scalars(select(OutboxJob).where(OutboxJob.state == PENDING)).all() == []


HEAVY = "test.priority.heavy"
weighs(HEAVY, 40)


@handles_batch(HEAVY)
def _record_heavy(session: Any, jobs: list[OutboxJob]) -> None:
    ran.extend((job.kind, int(job.payload["n"])) for job in jobs)


def test_a_job_that_weighs_many_counts_as_many_in_a_claim_and_the_next_worker_takes_the_rest(db: Database) -> None:
    """An event bundle holds hundreds of events: one worker must not claim every bundle of a
    billing run while the others wait. A claim holds jobs up to its limit by weight, always one."""
    _backlog(db, 5)
    with db.transaction() as session:
        enqueue_rows(session, [{"tenant_id": None, "kind": HEAVY, "payload": {"n": n}} for n in range(3)])
    with db.transaction() as session:
        first = claim_due_jobs(session, "worker-1", 100, lease_seconds=300)
    with db.transaction() as session:
        second = claim_due_jobs(session, "worker-2", 100, lease_seconds=300)
    with db.transaction() as session:
        third = claim_due_jobs(session, "worker-3", 10, lease_seconds=300)
    # 5 ordinary (5) and two heavy (80) fit in 100; the third heavy one does not (125).
    assert _kinds(db, first) == [*((ORDINARY, n) for n in range(5)), (HEAVY, 0), (HEAVY, 1)]
    assert _kinds(db, second) == [(HEAVY, 2)]
    assert third == []

    _backlog(db, 2, age=timedelta(minutes=1))  # a job heavier than the whole limit is still claimed, alone
    with db.transaction() as session:
        enqueue_rows(
            session, [{"tenant_id": None, "kind": HEAVY, "payload": {"n": 3}, "run_at": utcnow() - timedelta(hours=1)}]
        )
    with db.transaction() as session:
        alone = claim_due_jobs(session, "worker-4", 10, lease_seconds=300)
    assert _kinds(db, alone) == [(HEAVY, 3)]
