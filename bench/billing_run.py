"""One billing run of N subscriptions × 3 lines, end to end, with its physical floor beside it.

    .venv/bin/python bench/billing_run.py                   # 1,000,000 on PostgreSQL, 100,000 on SQLite
    .venv/bin/python bench/billing_run.py --count 200000 --sqlite-count 20000
    .venv/bin/python bench/billing_run.py --only postgresql

For each database: a fresh database, N customers with one monthly subscription of three lines
(seeded with COPY, not timed), then `kvitt bill --date` in a subprocess — the real CLI, end to
end: invoices, lines, journal entries and lines, timeline events, outbox rows (two domain events
per invoice), billing periods, in batches of 1,000, one transaction each. Its peak RSS is read
from the kernel (getrusage of the child). The baseline: the very rows the run wrote, copied out
and loaded again into empty tables of the same shape (indexes included, no foreign keys) — with
COPY on PostgreSQL, executemany on SQLite — which is the least time writing them can take here.
Processing the outbox afterwards (deliveries, webhooks ...) is not part of the run and not timed.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kvitt.billing.seed import seed_subscriptions  # noqa: E402
from kvitt.core.db import Database  # noqa: E402
from kvitt.migrations import upgrade  # noqa: E402
from kvitt.tenants import service as tenants  # noqa: E402
from kvitt.tenants.schemas import TenantCreate  # noqa: E402

TABLES = (
    "invoices",
    "invoice_lines",
    "journal_entries",
    "journal_lines",
    "invoice_events",
    "outbox_jobs",
    "billing_periods",
)
GOAL_SECONDS_PER_MILLION = 60.0
GOAL_RSS_MB = 512
SEED_CHUNK = 50_000


def seed(url: str, count: int) -> int:
    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        tenant, _ = tenants.create(
            session, TenantCreate(name="Bench Telekom AB", org_number="556036-0793", bankgiro="5050-1055")
        )
        tenant_id = tenant.id
    for first in range(0, count, SEED_CHUNK):
        with db.transaction() as session:
            n = min(SEED_CHUNK, count - first)
            seed_subscriptions(session, tenant_id, n, start=date(2026, 1, 1), first_number=first + 1)
    db.dispose()
    return tenant_id


def bill(url: str, tenant_id: int) -> tuple[float, float, str]:
    """Run `kvitt bill` as a child; returns (seconds, peak RSS in MB, its last output line)."""
    env = {**os.environ, "KVITT_DATABASE_URL": url, "COLUMNS": "100"}
    command = [sys.executable, "-m", "kvitt.cli", "bill", "--date", "2026-01-01", "--tenant", str(tenant_id)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kvitt bill failed:\n{done.stdout}\n{done.stderr}")
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    lines = [line for line in done.stdout.splitlines() if "billing run" in line]
    return seconds, rss_mb, lines[-1] if lines else done.stdout.strip().splitlines()[-1]


def postgres_copy_floor(dsn: str) -> tuple[float, int]:
    """COPY the run's rows out (not timed) and back into empty tables of the same shape (timed)."""
    total = 0.0
    rows = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in TABLES:
            copy_name = f"floor_{table}"
            conn.execute(f"DROP TABLE IF EXISTS {copy_name}")
            conn.execute(f"CREATE TABLE {copy_name} (LIKE {table} INCLUDING DEFAULTS INCLUDING INDEXES)")
            with tempfile.TemporaryFile() as spool:
                with conn.cursor().copy(f"COPY {table} TO STDOUT") as out:
                    for chunk in out:
                        spool.write(chunk)
                spool.seek(0)
                started = time.perf_counter()
                with conn.transaction(), conn.cursor() as cur, cur.copy(f"COPY {copy_name} FROM STDIN") as load:
                    while block := spool.read(1 << 20):
                        load.write(block)
                total += time.perf_counter() - started
            counted = conn.execute(f"SELECT count(*) FROM {copy_name}").fetchone()
            rows += int(counted[0]) if counted else 0
            conn.execute(f"DROP TABLE {copy_name}")
    return total, rows


def sqlite_insert_floor(path: str) -> tuple[float, int]:
    total = 0.0
    rows = 0
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for table in TABLES:
        copy_name = f"floor_{table}"
        conn.execute(f"DROP TABLE IF EXISTS {copy_name}")
        conn.execute(f"CREATE TABLE {copy_name} AS SELECT * FROM {table} WHERE 0")
        data = conn.execute(f"SELECT * FROM {table}").fetchall()
        marks = ", ".join("?" for _ in range(len(data[0]))) if data else ""
        started = time.perf_counter()
        if data:
            conn.executemany(f"INSERT INTO {copy_name} VALUES ({marks})", data)
        conn.commit()
        total += time.perf_counter() - started
        rows += len(data)
        conn.execute(f"DROP TABLE {copy_name}")
        del data
    conn.close()
    return total, rows


def bench_postgresql(count: int, host: str, user: str) -> dict[str, Any]:
    name = f"kvitt_bench_billing_{os.getpid()}"
    admin = f"postgresql://{user}@{host}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    dsn = f"postgresql://{user}@{host}/{name}"
    try:
        seeded = time.perf_counter()
        tenant_id = seed(dsn, count)
        seed_seconds = time.perf_counter() - seeded
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        seconds, rss, output = bill(dsn, tenant_id)
        floor, rows = postgres_copy_floor(dsn)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return {
        "db": "PostgreSQL",
        "count": count,
        "seed": seed_seconds,
        "seconds": seconds,
        "rss": rss,
        "floor": floor,
        "rows": rows,
        "output": output,
    }


def bench_sqlite(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/bench.db"
        url = f"sqlite:///{path}"
        seeded = time.perf_counter()
        tenant_id = seed(url, count)
        seed_seconds = time.perf_counter() - seeded
        seconds, rss, output = bill(url, tenant_id)
        floor, rows = sqlite_insert_floor(path)
    return {
        "db": "SQLite",
        "count": count,
        "seed": seed_seconds,
        "seconds": seconds,
        "rss": rss,
        "floor": floor,
        "rows": rows,
        "output": output,
    }


def report(results: list[dict[str, Any]]) -> None:
    out = io.StringIO()
    header = f"{'figure':<44}{'goal':>14}{'measured':>14}{'ratio':>10}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in results:
        count, seconds, floor = int(r["count"]), float(r["seconds"]), float(r["floor"])
        goal = GOAL_SECONDS_PER_MILLION * count / 1_000_000
        label = f"{r['db']}, {count:,} subscriptions × 3 lines"
        print(f"{label:<44}{'':>14}{'':>14}{'':>10}", file=out)
        print(f"{'  billing run, end to end (s)':<44}{goal:>14.1f}{seconds:>14.1f}{seconds / goal:>10.2f}", file=out)
        print(f"{'  invoices per second':<44}{count / (goal or 1):>14,.0f}{count / seconds:>14,.0f}{'':>10}", file=out)
        print(f"{'  peak RSS of kvitt bill (MB)':<44}{GOAL_RSS_MB:>14}{float(r['rss']):>14.0f}{'':>10}", file=out)
        print(
            f"{'  baseline: raw load of the same rows (s)':<44}{'':>14}{floor:>14.1f}{seconds / floor:>10.1f}", file=out
        )
        print(f"{'  rows written by the run':<44}{'':>14}{int(r['rows']):>14,}{'':>10}", file=out)
        print(f"{'  seeding (not part of the run) (s)':<44}{'':>14}{float(r['seed']):>14.1f}{'':>10}", file=out)
        print(f"  {r['output']}", file=out)
    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000, help="subscriptions on PostgreSQL")
    parser.add_argument("--sqlite-count", type=int, default=100_000, help="subscriptions on SQLite")
    parser.add_argument("--only", choices=["postgresql", "sqlite"])
    parser.add_argument("--pg-host", default=os.environ.get("KVITT_TEST_PG_HOST", "localhost"))
    parser.add_argument("--pg-user", default=os.environ.get("KVITT_TEST_PG_USER", "postgres"))
    args = parser.parse_args()
    results = []
    if args.only in (None, "postgresql"):
        results.append(bench_postgresql(args.count, args.pg_host, args.pg_user))
    if args.only in (None, "sqlite"):
        results.append(bench_sqlite(args.sqlite_count))
    report(results)


if __name__ == "__main__":
    main()
