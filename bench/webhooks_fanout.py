"""Webhooks per second: the fan-out of domain events in batches, and the sending of deliveries,
against the ceiling of a bare HTTP receiver measured in the same run.

N invoices are issued with ``invoices.create_and_issue`` for a tenant with one endpoint on
``invoice.issued`` (one event per request) and one on ``invoice.*`` taking lists of 50
(``max_batch_size``). Then, on a fresh database per engine:

- fan-out, one event per transaction (the unit of work before batches; the baseline): the
  first ``--baseline`` events, each in its own transaction through ``webhooks.jobs.fan_out``;
- fan-out in batches: the rest, 500 events per transaction, as the worker hands them over;
- the HTTP ceiling: ``sender.post_many`` of one pre-built, signed body of the same size, N times
  (the same httpx client and bounded pool, no database): what the receiver takes from us;
- sending: ``Worker.run_until_idle`` over the ``webhooks.deliver`` jobs the fan-out made
  (read, commit, HTTP concurrently, record each attempt), for both endpoints.

The receiver is a bare ASGI app under uvicorn in its own process (counts requests, answers 200
with an empty body), so it competes with this process for the two cores as a real one would not.

    .venv/bin/python bench/webhooks_fanout.py                       # 5,000 invoices, both engines
    .venv/bin/python bench/webhooks_fanout.py --n 2000 --engines sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, update

from kvitt.core import events as core_events
from kvitt.core.db import Database
from kvitt.core.events import DOMAIN_EVENT_JOB
from kvitt.core.outbox import DONE, OutboxJob
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.invoices import service as invoices
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.migrations import upgrade
from kvitt.tenants import service as tenants
from kvitt.tenants.schemas import TenantCreate
from kvitt.webhooks import jobs as webhook_jobs
from kvitt.webhooks import sender
from kvitt.webhooks import service as webhooks
from kvitt.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from kvitt.webhooks.schemas import EndpointCreate
from kvitt.worker import Worker, load_job_handlers

PG_SERVER = "postgresql://postgres@localhost:5432"
TODAY = date(2026, 11, 25)
BUNDLE_KIND = "domain_events"  # bulk commands may publish events in bundles of many per job
GOAL_FANOUT_PER_S = 2000  # events fanned out per second (stored event + delivery + job)
GOAL_SENDING_SHARE = 0.5  # one event per request: at least half the receiver's ceiling
LIST_SIZE = 50


# --- the receiver ------------------------------------------------------------------------------------


def serve(port: int) -> None:
    import uvicorn

    received = {"requests": 0}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        if scope["method"] == "POST":
            received["requests"] += 1
            body = b""
        else:
            body = json.dumps(received).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url + "/count", timeout=1)
                break
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait()


def received(url: str) -> int:
    return int(httpx.get(url + "/count", timeout=5).json()["requests"])


# --- the database ------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(engine: str, name: str) -> Iterator[str]:
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    with psycopg.connect(PG_SERVER + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{PG_SERVER}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_SERVER + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def setup(db: Database, n: int, url: str) -> int:
    with db.transaction() as session:
        tenant, _ = tenants.create(
            session, TenantCreate(name="Bench AB", org_number="556036-0793", bankgiro="5050-1055")
        )
        ids = [
            customers.create(
                session, tenant, CustomerCreate(customer_no=str(i), name=f"Kund {i}", delivery_method="letter")
            ).id
            for i in range(n)
        ]
        webhooks.create_endpoint(session, tenant, EndpointCreate(url=url + "/single", events=["invoice.issued"]))
        lists = EndpointCreate(url=url + "/lists", events=["invoice.*"], max_batch_size=LIST_SIZE)
        webhooks.create_endpoint(session, tenant, lists)
        line = LineIn(description="Abonnemang", quantity="1", unit_price=19900, vat_rate=25)
        invoices.create_and_issue(
            session, tenant, [InvoiceCreate(customer=c, lines=[line]) for c in ids], today=TODAY, actor="bench"
        )
        return tenant.id


def issued_events(db: Database, tenant_id: int) -> list[dict[str, Any]]:
    """The domain events as the worker hands them to subscribers (bundles opened)."""
    with db.transaction() as session:
        jobs = list(
            session.scalars(
                select(OutboxJob)
                .where(OutboxJob.kind.in_([DOMAIN_EVENT_JOB, BUNDLE_KIND]), OutboxJob.state != DONE)
                .order_by(OutboxJob.id)
            )
        )
        out: list[dict[str, Any]] = []
        for job in jobs:
            if job.kind == BUNDLE_KIND:
                out += [{**e, "event_job_id": f"{job.id}.{i}"} for i, e in enumerate(job.payload["events"])]
            else:
                out.append({**job.payload, "event_job_id": job.id})
            job.state = DONE  # handled here, not by the worker below
        return out


def run(engine: str, n: int, baseline: int, url: str) -> dict[str, float]:
    with fresh_database(engine, "kvitt_bench_webhooks") as database_url:
        db = Database(database_url)
        tenant_id = setup(db, n, url)
        events = issued_events(db, tenant_id)
        one_by_one, batched = events[:baseline], events[baseline:]

        started = time.perf_counter()
        for event in one_by_one:
            with db.transaction() as session:
                webhook_jobs.fan_out(session, tenant_id, [event])
        single_s = time.perf_counter() - started

        started = time.perf_counter()
        for start in range(0, len(batched), 500):
            with db.transaction() as session:
                webhook_jobs.fan_out(session, tenant_id, batched[start : start + 500])
        batch_s = time.perf_counter() - started

        with db.transaction() as session:
            sent = session.scalar(select(WebhookEvent.payload).limit(1))
            deliveries = int(session.scalar(select(func.count(WebhookDelivery.id))) or 0)
            deliver_jobs = int(
                session.scalar(select(func.count(OutboxJob.id)).where(OutboxJob.kind == webhooks.DELIVER_JOB)) or 0
            )
        # invoice.issued to both endpoints, invoice.created to the list endpoint ("invoice.*").
        assert deliveries == deliver_jobs >= 2 * n, (deliveries, deliver_jobs)

        # The ceiling: the same body size, pre-built and signed once, through the same pool.
        body = json.dumps(sent, separators=(",", ":")).encode()
        prebuilt = sender.Outgoing(url=url + "/ceiling", body=body, headers={"Kvitt-Signature": "t=1,v1=00"})
        before = received(url)
        started = time.perf_counter()
        outcomes = sender.post_many([prebuilt] * n)
        ceiling_s = time.perf_counter() - started
        assert all(o.ok for o in outcomes) and received(url) - before == n

        # Sending, one endpoint at a time: the list endpoint's jobs wait while the other's go.
        worker = Worker(db, worker_id="bench")
        rates: dict[str, tuple[float, int, int]] = {}
        for name, held in (("single", "/lists"), ("lists", None)):
            with db.transaction() as session:
                later = datetime.now(UTC) + timedelta(days=1)
                due = select(WebhookDelivery.id).join(WebhookEndpoint).where(WebhookEndpoint.url.like(f"%{held}"))
                session.execute(
                    update(OutboxJob)
                    .where(OutboxJob.kind == webhooks.DELIVER_JOB, OutboxJob.state != DONE)
                    .values(run_at=datetime.now(UTC) - timedelta(seconds=1))
                )
                if held is not None:
                    for (delivery_id,) in session.execute(due):
                        session.execute(
                            update(OutboxJob)
                            .where(OutboxJob.dedupe_key == f"{webhooks.DELIVER_JOB}:{delivery_id}:1")
                            .values(run_at=later)
                        )
                count = int(
                    session.scalar(
                        select(func.count(OutboxJob.id)).where(
                            OutboxJob.kind == webhooks.DELIVER_JOB,
                            OutboxJob.state != DONE,
                            OutboxJob.run_at <= datetime.now(UTC),
                        )
                    )
                    or 0
                )
            before = received(url)
            started = time.perf_counter()
            worker.run_until_idle(max_rounds=100_000)
            rates[name] = (time.perf_counter() - started, count, received(url) - before)
        with db.transaction() as session:
            attempts = int(session.scalar(select(func.count(WebhookAttempt.id))) or 0)
            ok = int(session.scalar(select(func.count(WebhookDelivery.id)).where(WebhookDelivery.state == "succeeded")))
        assert attempts == ok == deliveries, (attempts, ok, deliveries)
        db.dispose()
    return {
        "fanout_single": len(one_by_one) / single_s,
        "fanout_batch": len(batched) / batch_s,
        "ceiling": n / ceiling_s,
        "single_rate": rates["single"][1] / rates["single"][0],
        "single_n": rates["single"][1],
        "single_requests": rates["single"][2],
        "lists_rate": rates["lists"][1] / rates["lists"][0],
        "lists_n": rates["lists"][1],
        "lists_requests": rates["lists"][2],
        "fanout_events": len(events),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--baseline", type=int, default=500, help="events fanned out one per transaction")
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    load_job_handlers()
    # Only the webhook fan-out on domain events: the other subscribers are other benches' figures.
    core_events._subscribers[:] = [(p, s) for p, s in core_events._subscribers if s is webhook_jobs.fan_out]
    table = Table(title=f"webhooks: {args.n} invoices issued, two endpoints (one event per request; lists of 50)")
    for column in ("engine", "figure", "goal", "measured", "ratio to baseline"):
        table.add_column(column)
    with receiver() as url:
        for engine in args.engines:
            m = run(engine, args.n, args.baseline, url)
            fan_ratio = m["fanout_batch"] / m["fanout_single"]
            table.add_row(
                engine,
                "fan-out, one event per transaction (baseline)",
                "",
                f"{m['fanout_single']:,.0f} events/s",
                "1.00",
            )
            table.add_row(
                engine,
                "fan-out, 500 events per transaction",
                f"≥ {GOAL_FANOUT_PER_S:,} events/s",
                f"{m['fanout_batch']:,.0f} events/s",
                f"{fan_ratio:.1f}×",
            )
            table.add_row(
                engine, "HTTP ceiling: pre-built body, same pool (baseline)", "", f"{m['ceiling']:,.0f} req/s", "1.00"
            )
            table.add_row(
                engine,
                f"sending, one event a request: {m['single_n']:,.0f} in {m['single_requests']:,.0f} requests",
                f"≥ {GOAL_SENDING_SHARE:.0%} of the ceiling",
                f"{m['single_rate']:,.0f} deliveries/s",
                f"{m['single_rate'] / m['ceiling']:.2f}",
            )
            table.add_row(
                engine,
                f"sending, lists of ≤ {LIST_SIZE}: {m['lists_n']:,.0f} in {m['lists_requests']:,.0f} requests",
                "> the ceiling",
                f"{m['lists_rate']:,.0f} deliveries/s",
                f"{m['lists_rate'] / m['ceiling']:.2f}",
            )
    Console(width=180).print(table)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
