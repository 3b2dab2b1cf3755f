"""A unit of work whose statement failed is never committed as if it had not: PostgreSQL answers
COMMIT of such a transaction with a silent ROLLBACK, so everything written before would be lost
while the request or job reported success. Kvitt raises instead (core.db.FailedTransaction)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from kvitt.core.db import Database, FailedTransaction
from kvitt.core.outbox import OutboxJob, enqueue
from tests.conftest import ENGINE

ONLY_POSTGRESQL = "SQLite keeps a transaction usable after a failed statement: there is nothing to lose there"


def _jobs(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count(OutboxJob.id))) or 0)


@pytest.mark.skipif(ENGINE != "postgresql", reason=ONLY_POSTGRESQL)
def test_a_caught_failure_does_not_let_the_unit_of_work_pretend_it_committed(db: Database) -> None:
    with pytest.raises(FailedTransaction), db.transaction() as session:
        enqueue(session, "test.written_first", {}, tenant_id=None)
        session.flush()
        with pytest.raises(DBAPIError):  # a helper that catches and carries on
            session.execute(text("SELECT 1 / 0"))
    assert _jobs(db) == 0  # nothing was written, and the caller was told


@pytest.mark.skipif(ENGINE != "postgresql", reason=ONLY_POSTGRESQL)
def test_a_failure_inside_a_savepoint_leaves_the_transaction_good(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "test.written_first", {}, tenant_id=None)
        session.flush()
        with pytest.raises(DBAPIError), session.begin_nested():
            session.execute(text("SELECT 1 / 0"))
    assert _jobs(db) == 1


def test_a_good_unit_of_work_commits_as_always(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "test.written_first", {}, tenant_id=None)
    assert _jobs(db) == 1
