"""What webhooks and event chains add to every domain event, per event.

N invoices are issued with ``invoices.create_and_issue`` (one ``invoice.issued`` domain event
job each). Each event is then handled as the worker does — one transaction per job, every
subscriber called — three times, on fresh databases:

- baseline: every subscriber except the webhook fan-out and the rule matcher;
- idle: with both, for a tenant with no endpoints and no rules (the cost every tenant pays);
- busy: one endpoint subscribed to ``invoice.issued`` (each event becomes a stored event with
  the invoice as the API shows it, a delivery row and its job) and one rule on
  ``invoice.issued`` whose condition holds for a quarter of the customers (a firing and a job).

No HTTP is made here: sending is the deliver job's, one request per delivery.

    .venv/bin/python bench/webhooks_fanout.py                 # 2,000 invoices, both engines
    .venv/bin/python bench/webhooks_fanout.py --n 5000 --engines sqlite
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
from sqlalchemy import func, select

from kvitt.automation import jobs as automation_jobs
from kvitt.automation import service as automation
from kvitt.automation.models import AutomationFiring
from kvitt.automation.schemas import RuleCreate
from kvitt.core import events
from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.invoices import service as invoices
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.migrations import upgrade
from kvitt.tenants import service as tenants
from kvitt.tenants.schemas import TenantCreate
from kvitt.webhooks import jobs as webhook_jobs
from kvitt.webhooks import service as webhooks
from kvitt.webhooks.models import WebhookDelivery
from kvitt.webhooks.schemas import EndpointCreate
from kvitt.worker import load_job_handlers

PG_SERVER = "postgresql://postgres@localhost:5432"
TODAY = date(2026, 11, 25)
GOAL_IDLE_MS = 0.5  # both subscribers' share for a tenant without endpoints or rules
GOAL_BUSY_MS = 5.0  # with an endpoint and a rule for the event
MINE = [("", webhook_jobs.fan_out), ("", automation_jobs.match_rules)]


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


def setup(db: Database, n: int, busy: bool) -> None:
    with db.transaction() as session:
        tenant, _ = tenants.create(
            session, TenantCreate(name="Bench AB", org_number="556036-0793", bankgiro="5050-1055")
        )
        ids = []
        for i in range(n):
            data = CustomerCreate(
                customer_no=str(i),
                name=f"Kund {i}",
                email=f"k{i}@example.se",
                type="company" if i % 4 == 0 else "individual",
                delivery_method="letter",
            )
            ids.append(customers.create(session, tenant, data).id)
        if busy:
            endpoint = EndpointCreate(url="https://erp.example.se/kvitt", events=["invoice.issued"])
            webhooks.create_endpoint(session, tenant, endpoint)
            rule = {
                "name": "Företag",
                "trigger": "invoice.issued",
                "conditions": [{"field": "customer.type", "op": "eq", "value": "company"}],
                "actions": [{"type": "add_tag", "tag": "b2b"}],
            }
            automation.create_rule(session, tenant, RuleCreate.model_validate(rule))
        line = LineIn(description="Abonnemang", quantity="1", unit_price=19900, vat_rate=25)
        inputs = [InvoiceCreate(customer=c, lines=[line]) for c in ids]
        invoices.create_and_issue(session, tenant, inputs, today=TODAY, actor="bench")


def handle_issued_events(db: Database) -> tuple[int, float]:
    with db.transaction() as session:
        jobs = list(
            session.execute(
                select(OutboxJob.id, OutboxJob.tenant_id, OutboxJob.payload)
                .where(OutboxJob.kind == "domain_event")
                .order_by(OutboxJob.id)
            )
        )
    issued = [
        (job_id, tenant_id, payload) for job_id, tenant_id, payload in jobs if payload["type"] == "invoice.issued"
    ]
    started = time.perf_counter()
    for job_id, tenant_id, payload in issued:
        with db.transaction() as session:
            session.get(OutboxJob, job_id)  # as the worker does
            events.dispatch(session, tenant_id, {**payload, "event_job_id": job_id})
    return len(issued), time.perf_counter() - started


def run(engine: str, n: int, *, mine: bool, busy: bool) -> tuple[int, float, int, int]:
    for subscriber in MINE:
        if subscriber in events._subscribers:
            events._subscribers.remove(subscriber)
        if mine:
            events._subscribers.append(subscriber)
    with fresh_database(engine, "kvitt_bench_webhooks") as url:
        db = Database(url)
        setup(db, n, busy)
        handled, seconds = handle_issued_events(db)
        with db.transaction() as session:
            deliveries = int(session.scalar(select(func.count(WebhookDelivery.id))) or 0)
            firings = int(session.scalar(select(func.count(AutomationFiring.id))) or 0)
        db.dispose()
    return handled, seconds, deliveries, firings


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
        handled, base_s, _, _ = run(engine, args.n, mine=False, busy=False)
        handled_i, idle_s, _, _ = run(engine, args.n, mine=True, busy=False)
        handled_b, busy_s, deliveries, firings = run(engine, args.n, mine=True, busy=True)
        assert handled == handled_i == handled_b == args.n
        assert deliveries == args.n and firings == (args.n + 3) // 4, (deliveries, firings)
        base, idle, busy = (s * 1000 / args.n for s in (base_s, idle_s, busy_s))
        table.add_row(engine, "per event, other subscribers only (baseline)", "", f"{base:.2f} ms", "1.00")
        table.add_row(engine, "per event, no endpoints or rules", "", f"{idle:.2f} ms", f"{idle / base:.2f}")
        table.add_row(engine, "  their share", f"≤ {GOAL_IDLE_MS} ms", f"{idle - base:.2f} ms", "")
        table.add_row(engine, "per event, 1 endpoint + 1 rule", "", f"{busy:.2f} ms", f"{busy / base:.2f}")
        table.add_row(engine, "  their share", f"≤ {GOAL_BUSY_MS} ms", f"{busy - base:.2f} ms", "")
    Console().print(table)


if __name__ == "__main__":
    main()
