"""Billing runs: every due subscription invoiced once per period, by the CLI, the API or workers."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from psycopg.errors import UniqueViolation
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from kvitt.billing import service as billing
from kvitt.billing.models import BilledPeriod, BillingRun
from kvitt.billing.seed import seed_subscriptions
from kvitt.cli import app
from kvitt.core.db import Database
from kvitt.invoices.models import Invoice
from kvitt.ledger.models import JournalLine
from kvitt.subscriptions.models import Subscription, SubscriptionLine
from kvitt.worker import Worker
from tests.conftest import ENGINE, TENANT_A, Api, make_tenant

runner = CliRunner()


def seed(db: Database, count: int, start: date = date(2026, 1, 1)) -> int:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with db.transaction() as session:
        seed_subscriptions(session, tenant_id, count, start=start)
    return tenant_id


def books(db: Database, tenant_id: int) -> dict[str, Any]:
    """What a run must leave: invoice count, number range, ledger balance, periods per subscription."""
    with db.transaction() as session:
        count, low, high, total = session.execute(
            select(
                func.count(Invoice.id), func.min(Invoice.number), func.max(Invoice.number), func.sum(Invoice.total)
            ).where(Invoice.tenant_id == tenant_id)
        ).one()
        balance = session.scalar(select(func.sum(JournalLine.amount)).where(JournalLine.tenant_id == tenant_id))
        receivables = session.scalar(
            select(func.sum(JournalLine.amount)).where(
                JournalLine.tenant_id == tenant_id, JournalLine.account == "1510"
            )
        )
        periods = session.scalar(select(func.count(BilledPeriod.id)).where(BilledPeriod.tenant_id == tenant_id))
        linked = session.scalar(
            select(func.count(func.distinct(BilledPeriod.invoice_id))).where(BilledPeriod.tenant_id == tenant_id)
        )
    return {
        "invoices": count,
        "numbers": (low, high),
        "total": total,
        "balance": balance or 0,
        "receivables": receivables,
        "periods": periods,
        "linked": linked,
    }


def test_kvitt_bill_invoices_each_due_period_once_and_a_rerun_changes_nothing(cli_env: str, db: Database) -> None:
    """Three subscriptions × lines at 25 % and 0 %: 299 + 99 kr at 25 % and 49 kr at 0 % = 546.50 kr,
    rounded to 547 kr (öresavrundning). Each is due for January, February and March on 1 March."""
    tenant_id = seed(db, 3)
    first = runner.invoke(app, ["bill", "--date", "2026-03-01"])
    assert first.exit_code == 0, first.output
    assert "9 invoices" in first.output and "0 errors" in first.output
    after = books(db, tenant_id)
    assert after["invoices"] == after["periods"] == after["linked"] == 9
    assert after["numbers"] == (1, 9)
    assert after["total"] == after["receivables"] == 9 * 54_700
    assert after["balance"] == 0
    again = runner.invoke(app, ["bill", "--date", "2026-03-01"])
    assert again.exit_code == 0 and "0 invoices" in again.output
    assert books(db, tenant_id) == after
    with db.transaction() as session:
        runs = list(session.scalars(select(BillingRun).order_by(BillingRun.id)))
        assert [(r.state, r.invoices, r.subscriptions_due, r.total) for r in runs] == [
            ("done", 9, 3, 9 * 54_700),
            ("done", 0, 0, 0),
        ]
        assert {s.next_period_start for s in session.scalars(select(Subscription))} == {date(2026, 4, 1)}


def test_the_unique_key_stops_a_second_invoice_for_a_period_even_if_the_code_tried(db: Database) -> None:
    tenant_id = seed(db, 2)
    billing.run_in_process(db, tenant_id, date(2026, 1, 1), actor="test")
    before = books(db, tenant_id)
    # A bug that moved the billing pointers back would bill January again: the database refuses.
    with db.transaction() as session:
        session.execute(update(Subscription).values(next_period_start=date(2026, 1, 1)))
    # (COPY on PostgreSQL reports it through the driver, SQLite through SQLAlchemy.)
    with pytest.raises((IntegrityError, UniqueViolation)):
        billing.run_in_process(db, tenant_id, date(2026, 1, 1), actor="test")
    assert books(db, tenant_id) == before


def test_a_subscription_that_cannot_be_invoiced_is_recorded_and_the_rest_are_billed(api: Api, client: Any) -> None:
    db: Database = client.app.state.db
    with db.transaction() as session:
        seed_subscriptions(session, api.tenant_id, 5, start=date(2026, 1, 1))
        # One line that comes to more than an invoice may hold (1,000,000 × 1,000,000,000 kr).
        bad = session.scalars(select(Subscription.id).order_by(Subscription.id)).all()[2]
        session.execute(
            update(SubscriptionLine)
            .where(SubscriptionLine.subscription_id == bad)
            .values(quantity_milli=1_000_000_000, unit_price=100_000_000_000)
        )
    created = api.post("/billing-runs", {"date": "2026-01-01"})
    assert created.status_code == 202, created.text
    run = created.json()
    assert run["object"] == "billing_run" and run["state"] == "running" and run["subscriptions_due"] == 5
    Worker(db).run_until_idle()
    done = api.get(f"/billing-runs/{run['id']}").json()
    assert done["state"] == "done" and done["invoices"] == 4 and done["error_count"] == 1
    assert done["errors"][0]["subscription"] == bad and done["errors"][0]["param"] == "lines"
    assert done["total"] == 4 * 54_700 and done["net"] + done["vat"] == 4 * 54_650
    assert done["duration_seconds"] >= 0 and done["finished_at"]
    assert [r["id"] for r in api.get("/billing-runs").json()["data"]] == [run["id"]]
    # The bad one stays due: the next run tries again (and records it again).
    assert books(db, api.tenant_id)["numbers"] == (1, 4)
    with db.transaction() as session:
        assert session.get(Subscription, bad).next_period_start == date(2026, 1, 1)  # type: ignore[union-attr]


def test_the_daily_job_bills_with_the_date_of_its_payload(db: Database) -> None:
    from kvitt.core.outbox import enqueue

    tenant_id = seed(db, 4, start=date(2026, 5, 10))
    with db.transaction() as session:
        enqueue(session, "billing.run", {"date": "2026-05-09"}, tenant_id=tenant_id, dedupe_key="a")
    Worker(db).run_until_idle()
    assert books(db, tenant_id)["invoices"] is None or books(db, tenant_id)["invoices"] == 0
    with db.transaction() as session:
        enqueue(session, "billing.run", {"date": "2026-06-10"}, tenant_id=tenant_id, dedupe_key="b")
    Worker(db).run_until_idle()
    assert books(db, tenant_id)["invoices"] == 8  # 10 May and 10 June for each of four
    with db.transaction() as session:
        assert session.scalar(select(func.count(BillingRun.id))) == 1  # a day with nothing due records no run


def take_billing_jobs(db: Database, errors: list[BaseException]) -> None:
    from kvitt.billing.jobs import run_batch
    from kvitt.core.outbox import DONE, PENDING, OutboxJob

    try:
        while True:
            with db.transaction() as session:
                job = session.scalar(
                    select(OutboxJob)
                    .where(OutboxJob.kind == billing.PARTITION_JOB, OutboxJob.state == PENDING)
                    .order_by(OutboxJob.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                if job is None:
                    return
                run_batch(session, job)
                job.state = DONE
    except BaseException as exc:  # pragma: no cover - reported by the test
        errors.append(exc)


@pytest.mark.skipif(ENGINE != "postgresql", reason="workers share a run through PostgreSQL row locks")
def test_several_workers_share_one_run_partitioned_by_customer(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(billing, "BATCH_SIZE", 40)  # many batch jobs per partition, for the workers to share
    tenant_id = seed(db, 600)
    with db.transaction() as session:
        from kvitt.tenants.models import Tenant

        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        run = billing.start_run(session, tenant, date(2026, 2, 1), actor="test", partitions=4)
        run_id = run.id
    # Three workers take the run's batch jobs as the worker does (FOR UPDATE SKIP LOCKED), each
    # job in its own transaction. Only billing jobs: the invoices' events are not this test's.
    errors: list[BaseException] = []
    threads = [threading.Thread(target=take_billing_jobs, args=(db, errors)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    result = books(db, tenant_id)
    assert result["invoices"] == result["periods"] == result["linked"] == 1200
    assert result["numbers"] == (1, 1200) and result["balance"] == 0
    with db.transaction() as session:
        finished = session.get(BillingRun, run_id)
        assert finished is not None
        assert (finished.state, finished.partitions_done, finished.invoices, finished.total) == (
            "done",
            4,
            1200,
            1200 * 54_700,
        )
        assert session.scalar(select(func.count(BilledPeriod.id)).where(BilledPeriod.billing_run_id == run_id)) == 1200
