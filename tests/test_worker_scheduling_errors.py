"""The worker's scheduling swallows exactly one error: the dedupe-key race with another worker.

Issue 12: a broad ``except Exception`` in ``Worker.tick`` once hid a ValueError from
``KVITT_INBOX_TIMES=noon``; the worker logged "inbox read already scheduled" every second and
bank files were never read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

import kvitt.worker as worker_module
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from kvitt.worker import Worker
from tests.conftest import ENGINE


def test_a_bad_inbox_time_is_refused_at_start_and_never_swallowed_by_the_tick(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is no time of day"):
        Settings(database_url="sqlite://", inbox_dir=str(tmp_path), inbox_times="noon")
    # Settings that slipped past the check (model_copy does not validate) make the tick fail loudly.
    settings = Settings(database_url="sqlite://", embedded_worker=False).model_copy(
        update={"inbox_dir": str(tmp_path), "inbox_times": "noon"}
    )
    worker = Worker(db, settings)
    with capture_logs() as logs, pytest.raises(ValueError, match="'noon' is no time of day"):
        worker.tick()
    assert not [entry for entry in logs if "already scheduled" in entry["event"]]


def _racing_enqueue(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Another worker commits the same job between this worker's look and its insert."""
    real = worker_module.enqueue
    raced: list[str] = []

    def enqueue(session: Any, kind: str, payload: dict[str, Any], **kw: Any) -> Any:
        key = kw["dedupe_key"]
        if key not in raced:
            raced.append(key)
            with db.transaction() as other:
                real(other, kind, payload, **kw)
        return real(session, kind, payload, **kw)

    monkeypatch.setattr(worker_module, "enqueue", enqueue)
    return raced


def _jobs_by_key(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxJob.dedupe_key, func.count())
            .where(OutboxJob.dedupe_key.is_not(None))
            .group_by(OutboxJob.dedupe_key)
        )
        return {key: count for key, count in rows}


# On SQLite every write transaction starts with BEGIN IMMEDIATE: the look and the insert cannot
# be separated by another worker's commit, so the race (and its IntegrityError) needs PostgreSQL.
needs_postgresql = pytest.mark.skipif(ENGINE != "postgresql", reason="the race needs PostgreSQL (see comment)")


@needs_postgresql
def test_the_inbox_read_race_is_the_one_error_taken_and_every_read_is_scheduled_once(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime

    settings = Settings(database_url="sqlite://", inbox_dir=str(tmp_path), inbox_times="07:00,12:00")
    raced = _racing_enqueue(db, monkeypatch)
    worker = Worker(db, settings)
    with capture_logs() as logs:
        worker.schedule_inbox(datetime(2026, 11, 25, 12, 30))
    assert len(raced) == 6  # two times of day; bank files, billing files and autogiro files
    assert _jobs_by_key(db) == dict.fromkeys(raced, 1)
    assert [e["event"] for e in logs].count("inbox read already scheduled") == 6
    assert set(raced) <= worker._inbox_reads  # not looked at again every second


@needs_postgresql
def test_the_daily_race_is_completed_on_the_next_tick_not_skipped(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import TENANT_A, make_tenant

    make_tenant(db, **TENANT_A)
    raced = _racing_enqueue(db, monkeypatch)
    worker = Worker(db, Settings(database_url="sqlite://", embedded_worker=False))
    with capture_logs() as logs:
        worker.schedule_inbox = lambda now: None  # type: ignore[method-assign]
        worker.run_once = lambda: 0  # type: ignore[method-assign]  # scheduling only
        worker.tick()
        assert worker._scheduled_for is None  # the other worker's commit made ours fail: try again
        worker.tick()
    assert worker._scheduled_for is not None
    assert raced and _jobs_by_key(db) == dict.fromkeys(raced, 1)
    assert "daily jobs partly scheduled by another worker; completing" in [e["event"] for e in logs]


def test_a_worker_on_an_unmigrated_database_waits_with_one_line_not_a_traceback_per_poll(tmp_path: Path) -> None:
    from kvitt.migrations import upgrade

    url = f"sqlite:///{tmp_path}/kvitt.db"
    (tmp_path / "kvitt.db").touch()
    db = Database(url)
    try:
        worker = Worker(db, Settings(database_url=url, embedded_worker=False))
        with capture_logs() as logs:
            assert [worker.tick() for _ in range(5)] == [0] * 5
        warnings = [e for e in logs if e["event"] == "database not ready"]
        assert len(warnings) == 1
        assert warnings[0]["reason"] == f"the database at {tmp_path}/kvitt.db has no Kvitt schema: run `kvitt migrate`"
        upgrade(url)
        worker.run_once = lambda: 0  # type: ignore[method-assign]  # scheduling only: no feature's job runs
        worker.tick()  # now it schedules the day's jobs
        with db.transaction() as session:
            assert session.scalar(select(func.count()).select_from(OutboxJob)) > 0
    finally:
        db.dispose()


def test_a_database_error_on_a_ready_database_is_raised_by_the_tick(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    worker = Worker(db, Settings(database_url="sqlite://", embedded_worker=False))

    def broken() -> int:
        with db.transaction() as session:
            session.execute(text("SELECT no_such_column FROM outbox_jobs"))
        return 0

    monkeypatch.setattr(worker, "run_once", broken)
    with pytest.raises(DBAPIError):
        worker.tick()
