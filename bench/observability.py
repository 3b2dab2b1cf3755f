"""What request ids, the access log line and the metrics cost each request, and what a scrape costs.

1. Per request, in process (an ASGI call, no network): the app as built, against the same app
   with the request-id and metrics middlewares taken out (the baseline), on ``/healthz`` (logged
   at DEBUG, so not written) and on an unauthenticated API call (401, its ``request`` line
   written as JSON to /dev/null).
2. One read of the database figures behind ``/metrics`` on PostgreSQL, with ``--jobs`` finished
   jobs, ``--pending`` waiting ones and ``--deliveries`` deliveries in the tables; the baseline is
   the count of every outbox row (what the figures avoid by not counting ``done`` jobs).

    .venv/bin/python bench/observability.py
    .venv/bin/python bench/observability.py --requests 5000 --jobs 200000 --deliveries 200000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from kvitt.app import create_app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.core.logging import RequestIdMiddleware
from kvitt.core.metrics import MetricsMiddleware
from kvitt.metrics import DatabaseCollector
from kvitt.migrations import upgrade
from kvitt.tenants import service as tenants
from kvitt.tenants.schemas import TenantCreate

PG = "postgresql://postgres@localhost:5432"


async def asgi_call(app: Any, path: str) -> int:
    """One GET through the ASGI app; returns the status."""
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench"), (b"x-request-id", b"bench-1")],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    await app(scope, receive, send)
    return status


def compare(bare: Any, full: Any, path: str, count: int, rounds: int = 9) -> tuple[float, float]:
    """Microseconds per request of each app: rounds alternate between the two (so both see the
    same machine load), and the fastest round of each counts (the least disturbed)."""

    async def run(app: Any) -> float:
        started = time.perf_counter()
        for _ in range(count):
            await asgi_call(app, path)
        return (time.perf_counter() - started) / count * 1e6

    async def all_rounds() -> tuple[float, float]:
        assert await asgi_call(bare, path) == await asgi_call(full, path)
        bare_times, full_times = [], []
        for _ in range(rounds):
            bare_times.append(await run(bare))
            full_times.append(await run(full))
        return min(bare_times), min(full_times)

    return asyncio.run(all_rounds())


def request_rows(count: int) -> list[tuple[str, str, str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        settings = Settings(database_url=url, embedded_worker=False, log_json=True)
        db = Database(url)
        real_stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  # the request lines, written and dropped
        try:
            full = create_app(settings, db, embedded_worker=False)
            bare = create_app(settings, db, embedded_worker=False)
            bare.user_middleware = [
                m for m in bare.user_middleware if m.cls not in (MetricsMiddleware, RequestIdMiddleware)
            ]
            assert len(bare.user_middleware) == len(full.user_middleware) - 2
            for label, path in (
                ("/healthz (no log line)", "/healthz"),
                ("401 API call (one JSON line)", "/api/v1/customers"),
            ):
                base, measured = compare(bare, full, path, count)
                rows.append(
                    (
                        f"{label}: added per request",
                        "≤ 100 µs",
                        f"{measured - base:,.0f} µs ({measured:,.0f} vs {base:,.0f})",
                        f"{measured / base:.2f}× the bare app",
                    )
                )
        finally:
            sys.stdout.close()
            sys.stdout = real_stdout
            db.dispose()
    return rows


@contextlib.contextmanager
def pg_database(name: str) -> Iterator[str]:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG}/{name}"
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scrape_rows(done_jobs: int, pending: int, deliveries: int) -> list[tuple[str, str, str, str]]:
    with pg_database("kvitt_bench_observability") as url:
        upgrade(url)
        db = Database(url)
        with db.transaction() as session:
            tenants.create(session, TenantCreate(name="Bench AB", org_number="556036-0793", bankgiro="5050-1055"))
        with db.engine.begin() as connection:
            # Deliveries without their invoices: foreign keys are not checked for these rows.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(
                text(
                    "INSERT INTO outbox_jobs (tenant_id, kind, payload, state, attempts, max_attempts, run_at,"
                    " created_at)"
                    " SELECT 1, (ARRAY['domain_event','delivery.send','webhooks.deliver'])[1 + i % 3], '{}',"
                    " CASE WHEN i <= :done THEN 'done' ELSE 'pending' END, 0, 8,"
                    " now() - make_interval(secs => i % 600), now() FROM generate_series(1, :total) AS i"
                ),
                {"done": done_jobs, "total": done_jobs + pending},
            )
            connection.execute(
                text(
                    "INSERT INTO deliveries (tenant_id, invoice_id, document, chain, channel, first_channel, reason,"
                    " state, attempts, actor, data, created_at, updated_at)"
                    " SELECT 1, 1 + i / 4, 'invoice', 0, (ARRAY['email','sms','letter','einvoice'])[1 + i % 4],"
                    " 'email',"
                    " 'issue', (ARRAY['sent','delivered','delivered','failed','pending'])[1 + i % 5], 1, 'system',"
                    " '{}', now(), now() FROM generate_series(0, :n - 1) AS i"
                ),
                {"n": deliveries},
            )
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))

        collector = DatabaseCollector(db, cache_seconds=0)
        collector._read()  # warm the pool and the caches
        reads = []
        for _ in range(7):
            started = time.perf_counter()
            metrics = collector._read()
            reads.append((time.perf_counter() - started) * 1000)
        assert any(m.name == "kvitt_jobs" for m in metrics)
        counts = []
        for _ in range(7):
            started = time.perf_counter()
            with db.engine.connect() as connection:
                connection.execute(text("SELECT count(*) FROM outbox_jobs")).scalar()
            counts.append((time.perf_counter() - started) * 1000)
        db.dispose()
    read, count = statistics.median(reads), statistics.median(counts)
    return [
        (
            f"one read of the figures ({done_jobs:,} done + {pending:,} pending jobs, {deliveries:,} deliveries)",
            "≤ 250 ms (cached 10 s)",
            f"{read:,.1f} ms",
            f"{read / count:.2f}× count(*) of outbox_jobs ({count:,.1f} ms)",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="finished jobs in outbox_jobs")
    parser.add_argument("--pending", type=int, default=20_000)
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    args = parser.parse_args()
    console = Console()
    table = Table(title="Observability: cost per request and per scrape")
    for column in ("figure", "goal", "measured", "ratio to baseline"):
        table.add_column(column)
    for row in request_rows(args.requests):
        table.add_row(*row)
    for row in scrape_rows(args.jobs, args.pending, args.deliveries):
        table.add_row(*row)
    console.print(table)
    console.print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
