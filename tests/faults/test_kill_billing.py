"""``kvitt bill`` SIGKILLed before its K-th SQL statement at 16 seeded points per seed, then rerun.

Each killed run makes a batch or two of progress (or none: killed while it looks for its run);
the next one resumes the same billing run. After the last run: one invoice per subscription and
period, numbers 1..n without a gap, every issued invoice's event queued exactly once, every
journal entry balanced and receivables equal to the invoices' totals, one run, done.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kvitt.billing.models import BilledPeriod, BillingRun
from kvitt.billing.seed import seed_subscriptions
from kvitt.core.db import Database
from kvitt.invoices.models import Invoice
from kvitt.ledger.models import JournalLine
from tests.conftest import TENANT_A, make_tenant
from tests.faults.killpoints import (
    assert_ledger_balanced,
    assert_numbers_without_gap,
    assert_one_issued_event_per_invoice,
    run_cli,
    seeded_points,
)

SUBSCRIPTIONS = 120
PERIODS = 2  # due on 1 February: January and February
BATCH = 5
POINTS = 16
# A batch of 5 subscriptions is ~10 statements; the first ~10 of a run find or start the run.
KILL_RANGE = (1, 30)


@pytest.mark.parametrize("seed", [3, 1009])
def test_a_billing_run_killed_at_seeded_points_bills_each_period_once(
    db: Database, database_url: str, tmp_path: Path, seed: int
) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with db.transaction() as session:
        seed_subscriptions(session, tenant_id, SUBSCRIPTIONS, start=date(2026, 1, 1))
    command = ["bill", "--date", "2026-02-01", "--tenant", str(tenant_id), "--batch-size", str(BATCH)]
    runs = [run_cli(command, database_url, tmp_path / "bill.log", k) for k in seeded_points(seed, POINTS, *KILL_RANGE)]
    killed = [run.kill_at for run in runs if run.killed]
    for run in runs:
        assert run.killed or run.code == 0, run.output
    print(f"seed {seed}: killed before statements {killed}")
    assert len(killed) >= POINTS - 2, "the seeded points missed the run"
    last = run_cli(command, database_url, tmp_path / "bill.log")
    assert last.code == 0, last.output

    expected = SUBSCRIPTIONS * PERIODS
    with db.transaction() as session:
        assert assert_numbers_without_gap(session, tenant_id) == expected
        periods = session.execute(
            select(BilledPeriod.subscription_id, func.count(), func.count(func.distinct(BilledPeriod.invoice_id)))
            .where(BilledPeriod.tenant_id == tenant_id)
            .group_by(BilledPeriod.subscription_id)
        ).all()
        assert len(periods) == SUBSCRIPTIONS and all(n == linked == PERIODS for _, n, linked in periods)
        assert_one_issued_event_per_invoice(session, tenant_id)
        assert_ledger_balanced(session, tenant_id)
        receivables = session.scalar(
            select(func.sum(JournalLine.amount)).where(
                JournalLine.tenant_id == tenant_id, JournalLine.account == "1510"
            )
        )
        assert receivables == session.scalar(select(func.sum(Invoice.total)).where(Invoice.tenant_id == tenant_id))
        runs_ = list(session.scalars(select(BillingRun).where(BillingRun.tenant_id == tenant_id)))
        assert len(runs_) == 1 and runs_[0].state == "done" and runs_[0].invoices == expected
