"""A billing run killed with SIGKILL at random points, then rerun: each period billed exactly once.

`kvitt bill` runs in a subprocess; the test watches the invoices appear and kills the process
(kill -9: no cleanup, a batch's transaction cut anywhere) once a random number of them exist,
several times, then lets a last run finish. Afterwards: one invoice per subscription and period,
invoice numbers 1..n without a gap (a killed batch gives its numbers back with its rollback),
and a balanced ledger (every entry debit = credit; receivables = the invoices' totals).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from kvitt.billing.models import BilledPeriod, BillingRun
from kvitt.billing.seed import seed_subscriptions
from kvitt.core.db import Database
from kvitt.invoices.models import Invoice
from kvitt.ledger.models import JournalEntry, JournalLine
from tests.conftest import ENGINE, TENANT_A, make_tenant

pytestmark = pytest.mark.skipif(ENGINE != "postgresql", reason="the kill -9 test runs on PostgreSQL")

SUBSCRIPTIONS = 600
PERIODS = 2  # due on 1 February: January and February


def invoice_count(db: Database, tenant_id: int) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count(Invoice.id)).where(Invoice.tenant_id == tenant_id)) or 0)


def start_bill(database_url: str, tenant_id: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KVITT_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "kvitt.cli", "bill", "--date", "2026-02-01", "--tenant", str(tenant_id)]
    return subprocess.Popen([*command, "--batch-size", "25"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_runs_resume_to_exactly_one_invoice_per_period(db: Database, database_url: str) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with db.transaction() as session:
        seed_subscriptions(session, tenant_id, SUBSCRIPTIONS, start=date(2026, 1, 1))
    expected = SUBSCRIPTIONS * PERIODS
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    killed_mid_run = 0
    for _ in range(3):
        seen = invoice_count(db, tenant_id)
        threshold = seen + rng.randint(1, (expected - seen) // 3)
        process = start_bill(database_url, tenant_id)
        while process.poll() is None and invoice_count(db, tenant_id) < threshold:
            time.sleep(0.01)
        # A random moment more, so the kill falls anywhere inside a batch, not just after a commit.
        time.sleep(rng.uniform(0, 0.05))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        process.wait()
        assert invoice_count(db, tenant_id) <= expected
    assert killed_mid_run >= 1

    last = start_bill(database_url, tenant_id)
    out, err = last.communicate(timeout=120)
    assert last.returncode == 0, (out.decode(), err.decode())

    with db.transaction() as session:
        count, low, high, distinct = session.execute(
            select(
                func.count(Invoice.id),
                func.min(Invoice.number),
                func.max(Invoice.number),
                func.count(func.distinct(Invoice.number)),
            ).where(Invoice.tenant_id == tenant_id)
        ).one()
        assert count == distinct == expected
        assert (low, high) == (1, expected)
        periods = session.execute(
            select(BilledPeriod.subscription_id, func.count(), func.count(func.distinct(BilledPeriod.invoice_id)))
            .where(BilledPeriod.tenant_id == tenant_id)
            .group_by(BilledPeriod.subscription_id)
        ).all()
        assert len(periods) == SUBSCRIPTIONS and all(n == linked == PERIODS for _, n, linked in periods)
        unbalanced = session.scalar(
            select(func.count()).select_from(
                select(JournalLine.entry_id)
                .where(JournalLine.tenant_id == tenant_id)
                .group_by(JournalLine.entry_id)
                .having(func.sum(JournalLine.amount) != 0)
                .subquery()
            )
        )
        assert unbalanced == 0
        entries = session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.tenant_id == tenant_id))
        assert entries == expected
        receivables = session.scalar(
            select(func.sum(JournalLine.amount)).where(
                JournalLine.tenant_id == tenant_id, JournalLine.account == "1510"
            )
        )
        assert receivables == session.scalar(select(func.sum(Invoice.total)).where(Invoice.tenant_id == tenant_id))
        # The run that finished is the one the killed processes began: resumed, not restarted.
        runs = list(session.scalars(select(BillingRun).where(BillingRun.tenant_id == tenant_id)))
        assert len(runs) == 1 and runs[0].state == "done" and runs[0].invoices == expected
