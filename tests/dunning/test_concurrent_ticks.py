"""Two workers tick the same tenant and day at the same moment: nothing is sent twice (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import date

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from kvitt.dunning import policies, service, tick
from kvitt.dunning.models import Reminder
from kvitt.dunning.tick import DELIVER_JOB
from tests.conftest import ENGINE
from tests.dunning.helpers import add_customers, issue, load, tenant_with

pytestmark = pytest.mark.skipif(ENGINE != "postgresql", reason="two connections writing at once: PostgreSQL")
DAY = date(2026, 4, 7)


def _setup(db: Database, count: int) -> int:
    tenant_id = tenant_with(db)
    customers = add_customers(db, tenant_id, count)
    issue(db, tenant_id, customers, amount=10000, invoice_date=date(2026, 3, 1), due_date=date(2026, 3, 31))
    with db.transaction() as session:
        policies.ensure_default(session, load(session, tenant_id))  # as after the tenant's first tick
    return tenant_id


def _counts(db: Database) -> tuple[int, int]:
    """Reminders written, and reminders handed to delivery (a job each, or in bundles)."""
    with db.transaction() as session:
        reminders = session.scalar(select(func.count()).select_from(Reminder))
        jobs = session.scalars(select(OutboxJob).where(OutboxJob.kind.in_([DELIVER_JOB, tick.DELIVER_BUNDLE_JOB])))
        handed = sum(len(job.payload["reminders"]) if job.kind == tick.DELIVER_BUNDLE_JOB else 1 for job in jobs)
        return int(reminders or 0), handed


def test_two_concurrent_ticks_send_each_reminder_once(db: Database) -> None:
    tenant_id = _setup(db, 200)
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            with db.transaction() as session:
                results.append(service.run(session, load(session, tenant_id), today=DAY).reminders)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(results) == [0, 200]
    assert _counts(db) == (200, 200)


def test_without_the_lock_the_unique_key_still_refuses_the_second(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if two ticks both read the same invoices as due (no lock), the database refuses the
    second set of reminders: its whole transaction, delivery jobs included, rolls back."""
    tenant_id = _setup(db, 20)
    first, second = db.sessions(), db.sessions()
    try:
        found = []
        for session in (first, second):
            tenant = load(session, tenant_id)
            found.append(tick.find_due(session, tenant, policies.active_in_order(session, tenant), DAY))
        assert [len(f) for f in found] == [20, 20]  # both saw the same invoices as due
        service.run(first, load(first, tenant_id), today=DAY)
        first.commit()
        # COPY reports the driver's own error (psycopg's UniqueViolation), an ORM insert IntegrityError.
        with pytest.raises((IntegrityError, psycopg.errors.UniqueViolation)):
            tenant = load(second, tenant_id)
            tick._take_steps(second, tenant, found[1], today=DAY, actor="test", result=tick.TickResult(DAY))
            second.commit()
        second.rollback()
    finally:
        first.close()
        second.close()
    assert _counts(db) == (20, 20)
