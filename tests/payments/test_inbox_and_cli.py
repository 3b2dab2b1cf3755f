"""BGMax files from the command line and from the watched inbox."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

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
    assert worker.run_until_idle() == 6  # two reads each: bank files, billing files, autogiro files
    with db.transaction() as session:
        assert [f.payments for f in session.scalars(select(PaymentFile))] == [7]
        payloads = [
            json.dumps(j.payload) for j in session.scalars(select(OutboxJob).where(OutboxJob.kind == READ_INBOX_JOB))
        ]
        assert all(str(tmp_path) in p for p in payloads)


def test_an_open_file_is_the_same_file_as_its_bytes(db: Database, tmp_path: Path, monkeypatch: Any) -> None:
    """``import_bgmax`` reads an open file line by line (twice) and hashes it in chunks: the same
    content hash as its bytes, so the second import is a no-op whichever way each came in; LF and
    CRLF line ends read the same."""
    from kvitt.core.clock import today
    from kvitt.payments import imports
    from kvitt.tenants.models import Tenant

    monkeypatch.setattr(imports, "HASH_CHUNK", 100)  # the hash over many chunks

    tenant_id, _ = make_tenant(db, **TENANT_B)
    other = tmp_path / "other-line-ends.txt"
    sample = SAMPLE.read_bytes()
    other.write_bytes(sample.replace(b"\r\n", b"\n") if b"\r\n" in sample else sample.replace(b"\n", b"\r\n"))
    for path in (SAMPLE, other):
        data = path.read_bytes()
        with db.transaction() as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            with path.open("rb") as stream:
                first = imports.import_bgmax(
                    session, tenant, stream, filename=path.name, source="cli", today=today(), actor="t"
                )
            assert not first.already_imported and first.file.deposits == 2
            assert first.file.payments + first.file.duplicates == 7
            again = imports.import_bgmax(
                session, tenant, data, filename=path.name, source="api", today=today(), actor="t"
            )
            assert again.already_imported and again.file.id == first.file.id
    with db.transaction() as session:
        files = session.scalars(
            select(PaymentFile).where(PaymentFile.tenant_id == tenant_id).order_by(PaymentFile.id)
        ).all()
        # The copy with the other line ends is other bytes, so another file, read the same way:
        # the same bank payments, so all of them already received.
        assert [(f.filename, f.deposits, f.payments, f.duplicates, f.amount) for f in files] == [
            (SAMPLE.name, 2, 7, 0, 990000),
            (other.name, 2, 0, 7, 0),
        ]
