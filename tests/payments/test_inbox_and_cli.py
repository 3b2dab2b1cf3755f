"""BGMax files from the command line and from the watched inbox."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from kvitt.cli import app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from kvitt.payments.inbox import READ_INBOX_JOB, read_inbox
from kvitt.payments.models import PaymentFile
from kvitt.worker import Worker
from tests.conftest import TENANT_B, make_tenant
from tests.payments.test_bgmax_import import SAMPLE

runner = CliRunner()


def test_kvitt_import_bgmax(cli_env: str, db: Database, tmp_path: Path) -> None:
    make_tenant(db, **TENANT_B)  # bankgiro 991-2346, the payee of Bankgirot's sample
    first = runner.invoke(app, ["import", "bgmax", str(SAMPLE)])
    assert first.exit_code == 0, first.output
    assert "7 payments in 2 deposits" in first.output and "9\u00a0900,00\u00a0kr" in first.output
    again = runner.invoke(app, ["import", "bgmax", str(SAMPLE)])
    assert again.exit_code == 0 and "nothing changed" in again.output
    broken = tmp_path / "broken.txt"
    broken.write_bytes(SAMPLE.read_bytes().replace(b"0000000000000500003", b"00000000000005000X3", 1))
    refused = runner.invoke(app, ["import", "bgmax", str(broken)])
    assert refused.exit_code == 1
    assert "line 8" in refused.output and "Traceback" not in refused.output


def test_the_inbox_imports_each_file_once_and_remembers_a_bad_one(db: Database, tmp_path: Path) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_B)
    tmp_path = tmp_path / "inbox"
    tmp_path.mkdir()
    (tmp_path / "2026-11-25-0700.bgmax").write_bytes(SAMPLE.read_bytes())
    (tmp_path / "broken.bgmax").write_bytes(SAMPLE.read_bytes()[:-40])
    (tmp_path / "elsewhere.bgmax").write_bytes(SAMPLE.read_bytes().replace(b"0009912346", b"0050501055"))
    with db.transaction() as session:
        results = read_inbox(session, tmp_path, today=date(2026, 11, 25))
    outcomes = {r.path: r.outcome for r in results}
    assert outcomes == {
        "2026-11-25-0700.bgmax": "imported",
        "broken.bgmax": "rejected",
        "elsewhere.bgmax": "unknown_payee",
    }
    with db.transaction() as session:
        files = {f.filename: (f.state, f.payments) for f in session.scalars(select(PaymentFile))}
        assert files == {"2026-11-25-0700.bgmax": ("imported", 7), "broken.bgmax": ("rejected", 0)}
        assert all(f.tenant_id == tenant_id for f in session.scalars(select(PaymentFile)))
    with db.transaction() as session:
        again = read_inbox(session, tmp_path, today=date(2026, 11, 25))
    assert [r.outcome for r in again] == ["unknown_payee"]  # the others are known by their content


def test_the_worker_reads_the_inbox_at_its_times(db: Database, tmp_path: Path) -> None:
    tmp_path = tmp_path / "inbox"
    tmp_path.mkdir()
    settings = Settings(database_url="sqlite://", inbox_dir=str(tmp_path), inbox_times="07:00,12:00,17:00")
    worker = Worker(db, settings)
    worker.schedule_inbox(datetime(2026, 11, 25, 6, 59))
    worker.schedule_inbox(datetime(2026, 11, 25, 12, 30))
    worker.schedule_inbox(datetime(2026, 11, 25, 12, 31))
    Worker(db, settings).schedule_inbox(datetime(2026, 11, 25, 12, 45))  # a second worker
    with db.transaction() as session:
        keys = sorted(session.scalars(select(OutboxJob.dedupe_key).where(OutboxJob.kind == READ_INBOX_JOB)))
    assert keys == [f"{READ_INBOX_JOB}:all:2026-11-25T07:00", f"{READ_INBOX_JOB}:all:2026-11-25T12:00"]
    make_tenant(db, **TENANT_B)
    (tmp_path / "a.bgmax").write_bytes(SAMPLE.read_bytes())
    assert worker.run_until_idle() == 4  # two reads of the bank files, two of the billing files
    with db.transaction() as session:
        assert [f.payments for f in session.scalars(select(PaymentFile))] == [7]
        payloads = [
            json.dumps(j.payload) for j in session.scalars(select(OutboxJob).where(OutboxJob.kind == READ_INBOX_JOB))
        ]
        assert all(str(tmp_path) in p for p in payloads)
