"""What delivery adds to each issued invoice: the ``invoice.issued`` subscriber, per event.

N invoices are issued with ``invoices.create_and_issue`` (one domain event job per invoice
for ``invoice.issued``). Each event is then handled as the worker does — one transaction per
job, every subscriber called — twice, on fresh databases: once with all subscribers
(baseline: every feature except delivery) and once with delivery's subscriber added. The
difference per event is what delivery's orchestration costs (reading the invoice, customer,
tenant settings; inserting the delivery row and its send job, or the print-batch job).

    .venv/bin/python bench/delivery_enqueue.py                 # 2,000 invoices, both engines
    .venv/bin/python bench/delivery_enqueue.py --n 5000 --engines sqlite

Half the customers want email, a quarter letters, a quarter SMS.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from kvitt.core import events
from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.delivery import jobs as delivery_jobs
from kvitt.delivery.models import Delivery
from kvitt.invoices import service as invoices
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.migrations import upgrade
from kvitt.tenants import service as tenants
from kvitt.tenants.schemas import TenantCreate
from kvitt.worker import load_job_handlers

PG_SERVER = "postgresql://postgres@localhost:5432"
TODAY = date(2026, 11, 25)
GOAL_MS = 2.0  # delivery's share of one issued event, milliseconds


@contextlib.contextmanager
def fresh_database(engine: str, name: str) -> Iterator[str]:
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    with psycopg.connect(PG_SERVER + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{PG_SERVER}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_SERVER + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def setup(db: Database, n: int) -> None:
    methods = ["email", "email", "letter", "sms"]
    with db.transaction() as session:
        tenant, _ = tenants.create(
            session, TenantCreate(name="Bench AB", org_number="556036-0793", bankgiro="5050-1055")
        )
        ids = []
        for i in range(n):
            customer = customers.create(
                session,
                tenant,
                CustomerCreate(
                    customer_no=str(i),
                    name=f"Kund {i}",
                    email=f"k{i}@example.se",
                    phone="+46701234567",
                    address_line1="Storgatan 1",
                    postal_code="11122",
                    city="Stockholm",
                    delivery_method=methods[i % 4],
                ),
            )
            ids.append(customer.id)
        line = LineIn(description="Abonnemang", quantity="1", unit_price=19900, vat_rate=25)
        inputs = [InvoiceCreate(customer=c, lines=[line]) for c in ids]
        invoices.create_and_issue(session, tenant, inputs, today=TODAY, actor="bench")


def handle_issued_events(db: Database) -> tuple[int, float]:
    with db.transaction() as session:
        job_ids = list(
            session.scalars(select(OutboxJob.id).where(OutboxJob.kind == "domain_event").order_by(OutboxJob.id))
        )
    started = time.perf_counter()
    handled = 0
    for job_id in job_ids:
        with db.transaction() as session:
            job = session.get(OutboxJob, job_id)
            assert job is not None
            if job.payload.get("type") == "invoice.issued":
                events.dispatch(session, job.tenant_id, job.payload)
                handled += 1
    return handled, time.perf_counter() - started


def run(engine: str, n: int, with_delivery: bool) -> tuple[int, float, int]:
    subscriber = ("invoice.issued", delivery_jobs.deliver_issued_invoice)
    present = subscriber in events._subscribers
    if with_delivery and not present:
        events._subscribers.append(subscriber)
    if not with_delivery and present:
        events._subscribers.remove(subscriber)
    with fresh_database(engine, "kvitt_bench_delivery") as url:
        db = Database(url)
        setup(db, n)
        handled, seconds = handle_issued_events(db)
        with db.transaction() as session:
            rows = len(list(session.scalars(select(Delivery.id))))
        db.dispose()
    return handled, seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    load_job_handlers()
    table = Table(title=f"invoice.issued handled one job at a time, {args.n} invoices")
    for column in ("engine", "figure", "goal", "measured", "ratio to baseline"):
        table.add_column(column)
    for engine in args.engines:
        handled, base_s, _ = run(engine, args.n, with_delivery=False)
        handled_d, with_s, rows = run(engine, args.n, with_delivery=True)
        assert handled == handled_d == args.n and rows == args.n, (handled, handled_d, rows)
        base_ms, with_ms = base_s * 1000 / handled, with_s * 1000 / handled
        table.add_row(engine, "per event, other subscribers only (baseline)", "", f"{base_ms:.2f} ms", "1.00")
        table.add_row(engine, "per event, with delivery", "", f"{with_ms:.2f} ms", f"{with_ms / base_ms:.2f}")
        table.add_row(
            engine,
            "delivery's share per event",
            f"≤ {GOAL_MS:.1f} ms",
            f"{with_ms - base_ms:.2f} ms",
            "",
        )
        table.add_row(engine, "1,000,000 invoices, delivery's share", "", f"{(with_ms - base_ms) * 1000:.0f} s", "")
    Console().print(table)


if __name__ == "__main__":
    main()
