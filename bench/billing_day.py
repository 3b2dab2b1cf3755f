"""A billing day end to end: `kvitt bill`, then every job it causes, with the SMTP ceiling beside it.

    .venv/bin/python bench/billing_day.py                        # 100,000 subscriptions, 1 and 2 workers
    .venv/bin/python bench/billing_day.py --count 20000 --workers 1
    .venv/bin/python bench/billing_day.py --count 5000 --profile   # cProfile of the jobs phase -> bench/out/

For each worker count: a fresh PostgreSQL database, N customers (email delivery) with one monthly
subscription of three lines (seeded with COPY, not timed), a webhook endpoint for every event
pointing at a bare HTTP receiver in its own process, and a default event chain (on
`invoice.issued`, tag the customer). Then `kvitt bill --date` in a child process (timed), then W
worker processes at once until the queue is empty (timed: the jobs phase; each runs
`Worker.run_once` like `kvitt jobs run`, but waits while another worker holds the jobs that
will cause more instead of leaving). Email goes
to a real SMTP server (aiosmtpd) in its own process, which counts what it receives.

The baseline, measured in the same run against the same SMTP server: one pre-built 1.2 KB
message sent N times over one connection (smtplib) — the most a single client gets from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from benchlib import free_port, smtp_ceiling, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kvitt.automation import service as automation  # noqa: E402
from kvitt.automation.schemas import RuleCreate  # noqa: E402
from kvitt.billing.seed import seed_subscriptions  # noqa: E402
from kvitt.core.db import Database  # noqa: E402
from kvitt.migrations import upgrade  # noqa: E402
from kvitt.tenants import service as tenants  # noqa: E402
from kvitt.tenants.models import Tenant  # noqa: E402
from kvitt.tenants.schemas import TenantCreate  # noqa: E402
from kvitt.webhooks import service as webhooks  # noqa: E402
from kvitt.webhooks.schemas import EndpointCreate  # noqa: E402

SEED_CHUNK = 50_000
GOAL_JOBS_PER_SECOND = 500
GOAL_SHARE_OF_SMTP = 0.5
GOAL_DAY_PER_SECOND = 400
GOAL_TWO_WORKERS = 1.6
GOAL_RSS_MB = 512


# --- the servers, each in its own process ---------------------------------------------------------


def smtp_server(port: int, received: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:
        time.sleep(3600)


def http_receiver(port: int, received: Any, events: Any) -> None:
    """A bare HTTP server that answers 200 to every POST (the webhook endpoint's ceiling) and
    counts the requests and the events in them (a list body carries several)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                with received.get_lock():
                    received.value += 1
                with events.get_lock():
                    events.value += _events_in(body)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _events_in(body: bytes) -> int:
    parsed = json.loads(body) if body else {}
    return len(parsed["data"]) if parsed.get("object") == "list" else 1


# --- the day ------------------------------------------------------------------------------------


def seed(url: str, count: int, webhook_url: str, webhook_batch: int = 1) -> int:
    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        tenant, _ = tenants.create(
            session, TenantCreate(name="Bench Telekom AB", org_number="556036-0793", bankgiro="5050-1055")
        )
        tenant_id = tenant.id
        endpoint = EndpointCreate(url=webhook_url, events=["*"], max_batch_size=webhook_batch)
        webhooks.create_endpoint(session, tenant, endpoint)
        tag = {"type": "add_tag", "tag": "fakturerad"}
        rule = {"name": "Fakturerad", "trigger": "invoice.issued", "actions": [tag]}
        automation.create_rule(session, tenant, RuleCreate.model_validate(rule))
    for first in range(0, count, SEED_CHUNK):
        with db.transaction() as session:
            n = min(SEED_CHUNK, count - first)
            seed_subscriptions(session, tenant_id, n, start=date(2026, 1, 1), first_number=first + 1)
    with db.transaction() as session:
        assert session.get(Tenant, tenant_id) is not None
    db.dispose()
    return tenant_id


def run_children(commands: list[list[str]], env: dict[str, str]) -> tuple[float, float, float]:
    """Run the commands at once; returns (seconds until the last ends, peak RSS of one in MB,
    CPU seconds they used: a figure the other processes on a shared machine move less)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    children = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands]
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(child.args)} failed:\n{out.decode()[-2000:]}\n{err.decode()[-4000:]}")
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return seconds, after.ru_maxrss / 1024, cpu


def queue_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT state, count(*) FROM outbox_jobs GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


def delivery_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


def day(
    count: int, workers: int, smtp_port: int, hook_port: int, profile: bool, webhook_batch: int, statements: bool
) -> dict[str, Any]:
    name = f"kvitt_bench_day_{os.getpid()}_{workers}"
    admin = "postgresql://postgres@localhost/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    dsn = f"postgresql://postgres@localhost/{name}"
    url = f"postgresql+psycopg://postgres@localhost/{name}"
    env = {
        **os.environ,
        "KVITT_DATABASE_URL": url,
        "KVITT_SMTP_HOST": "127.0.0.1",
        "KVITT_SMTP_PORT": str(smtp_port),
        "KVITT_MAIL_FROM": "faktura@kvitt.test",
        "KVITT_PUBLIC_URL": "https://kvitt.test",
        "KVITT_LOG_LEVEL": "WARNING",
        "COLUMNS": "100",
    }
    try:
        tenant_id = seed(dsn, count, f"http://127.0.0.1:{hook_port}/hook", webhook_batch)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        kvitt = [sys.executable, "-m", "kvitt.cli"]
        bill_s, bill_rss, _ = run_children([[*kvitt, "bill", "--date", "2026-01-01", "--tenant", str(tenant_id)]], env)
        jobs_before = sum(queue_counts(dsn).values())
        counted = Path(tempfile.mkdtemp(prefix="kvitt-statements-"))
        if statements:
            env["KVITT_BENCH_STATEMENTS"] = str(counted)
        profiler = [sys.executable, "-m", "cProfile", "-o", str(ROOT / "bench/out/billing_day.prof")]
        command = [*(profiler if profile else [sys.executable]), __file__, "--child-worker"]
        jobs_s, jobs_rss, jobs_cpu = run_children([command] * workers, env)
        states = queue_counts(dsn)
        deliveries = delivery_counts(dsn)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return {
        "workers": workers,
        "bill": bill_s,
        "jobs": jobs_s,
        "jobs_cpu": jobs_cpu,
        "rss": max(bill_rss, jobs_rss),
        "jobs_total": jobs_before,
        "states": states,
        "statements": _summed_statements(counted),
        "deliveries": deliveries,
    }


def _summed_statements(folder: Path) -> dict[str, list[int]]:
    summed: dict[str, list[int]] = {}
    for path in folder.glob("statements-*.json"):
        for statement, (times, parameters) in json.loads(path.read_text()).items():
            entry = summed.setdefault(statement, [0, 0])
            entry[0] += times
            entry[1] = max(entry[1], parameters)
        path.unlink()
    folder.rmdir()
    return summed


def child_worker() -> None:
    """One worker process of the jobs phase: runs jobs until the queue holds nothing to do.

    Unlike `kvitt jobs run`, a worker that finds nothing due while another holds the jobs that
    will cause more waits for them instead of leaving, so W workers share the whole phase.
    """
    from sqlalchemy import func, select

    from kvitt.core.config import get_settings
    from kvitt.core.db import utcnow
    from kvitt.core.outbox import PENDING, RUNNING, OutboxJob
    from kvitt.worker import Worker

    db = Database(get_settings().database_url)
    counts = _count_statements(db) if os.environ.get("KVITT_BENCH_STATEMENTS") else None
    worker = Worker(db)
    while True:
        if worker.run_once():
            continue
        with db.transaction() as session:
            running = OutboxJob.state == RUNNING
            due = (OutboxJob.state == PENDING) & (OutboxJob.run_at <= utcnow())
            busy = session.scalar(select(func.count()).where(running | due))
        if not busy:
            break
        time.sleep(0.02)
    db.dispose()
    if counts is not None:
        out = Path(os.environ["KVITT_BENCH_STATEMENTS"]) / f"statements-{os.getpid()}.json"
        out.write_text(json.dumps(counts))


def _count_statements(db: Database) -> dict[str, list[int]]:
    """Every statement the worker sends, by its first 120 characters: [times, parameters]. The
    parameters show the long ``IN (...)`` lists psycopg must parse anew each time."""
    from sqlalchemy import event

    counts: dict[str, list[int]] = {}

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        entry = counts.setdefault(" ".join(statement.split())[:120], [0, 0])
        entry[0] += 1
        entry[1] = max(entry[1], statement.count("%("))

    event.listen(db.engine, "before_cursor_execute", count)
    return counts


def main() -> None:
    if "--child-worker" in sys.argv:
        child_worker()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ceiling-count", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="cProfile the jobs phase to bench/out/")
    parser.add_argument(
        "--webhook-batch",
        type=int,
        default=100,
        help="the endpoint's max_batch_size: events in one signed list body (1: one event a request)",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="count the workers' SQL statements (COPYs not included) and print them per invoice",
    )
    args = parser.parse_args()
    (ROOT / "bench/out").mkdir(exist_ok=True)

    smtp_port, hook_port = free_port(), free_port()
    mails = multiprocessing.Value("q", 0)
    hooks = multiprocessing.Value("q", 0)
    hook_events = multiprocessing.Value("q", 0)
    servers = [
        multiprocessing.Process(target=smtp_server, args=(smtp_port, mails), daemon=True),
        multiprocessing.Process(target=http_receiver, args=(hook_port, hooks, hook_events), daemon=True),
    ]
    for server in servers:
        server.start()
    wait_for_port(smtp_port)
    wait_for_port(hook_port)
    try:
        load = os.getloadavg()
        ceiling = smtp_ceiling(smtp_port, args.ceiling_count)
        runs = []
        for workers in args.workers:
            mails.value, hooks.value, hook_events.value = 0, 0, 0
            run = day(args.count, workers, smtp_port, hook_port, args.profile, args.webhook_batch, args.statements)
            run["mails"], run["hooks"], run["hook_events"] = mails.value, hooks.value, hook_events.value
            runs.append(run)
        ceiling_after = smtp_ceiling(smtp_port, args.ceiling_count)
    finally:
        for server in servers:
            server.terminate()
    report(args.count, runs, (ceiling + ceiling_after) / 2, load, args.webhook_batch)


def report(count: int, runs: list[dict[str, Any]], ceiling: float, load: tuple[float, ...], webhook_batch: int) -> None:
    print(
        f"\nbilling day, {count:,} subscriptions, PostgreSQL, load average {load[0]:.1f} at the start, "
        f"webhooks up to {webhook_batch} events a request"
    )
    header = f"{'figure':<52}{'goal':>12}{'measured':>12}{'ratio':>10}"
    print(header)
    print("-" * len(header))
    print(f"{'SMTP ceiling: one pre-built message, one connection (/s)':<52}{'':>12}{ceiling:>12,.0f}{1:>10.2f}")
    one = runs[0]["jobs"] if runs else 0.0
    for run in runs:
        w, bill, jobs = run["workers"], float(run["bill"]), float(run["jobs"])
        print(f"{f'{w} worker(s)':<52}")
        print(f"{'  kvitt bill (invoices/s)':<52}{'':>12}{count / bill:>12,.0f}{'':>10}")
        rate = count / jobs
        print(f"{'  jobs phase (invoices/s)':<52}{GOAL_JOBS_PER_SECOND:>12}{rate:>12,.0f}{rate / ceiling:>10.2f}")
        print(f"{'  jobs phase / SMTP ceiling':<52}{GOAL_SHARE_OF_SMTP:>12}{rate / ceiling:>12.2f}{'':>10}")
        whole = count / (bill + jobs)
        print(f"{'  whole day (invoices/s)':<52}{GOAL_DAY_PER_SECOND:>12}{whole:>12,.0f}{whole / ceiling:>10.2f}")
        print(f"{'  a million, extrapolated (min)':<52}{45:>12}{1_000_000 / whole / 60:>12.1f}{'':>10}")
        if w > 1 and one:
            print(f"{'  speed-up over 1 worker':<52}{GOAL_TWO_WORKERS:>12}{one / jobs:>12.2f}{'':>10}")
        print(f"{'  peak RSS of a child (MB)':<52}{GOAL_RSS_MB:>12}{float(run['rss']):>12.0f}{'':>10}")
        print(f"{'  outbox rows written by kvitt bill':<52}{'':>12}{run['jobs_total']:>12,}{'':>10}")
        print(f"{'    emails received by the SMTP server':<52}{count:>12,}{run['mails']:>12,}{'':>10}")
        print(f"{'    webhook POSTs received':<52}{'':>12}{run['hooks']:>12,}{'':>10}")
        events = f"{'    webhook events received (created, issued, sent)':<52}{3 * count:>12,}"
        print(f"{events}{run['hook_events']:>12,}{'':>10}")
        print(f"    job states {run['states']}, deliveries {run['deliveries']}")
        print(f"    outbox jobs per invoice {sum(run['states'].values()) / count:.3f}")
        print(f"    workers' CPU per invoice {1000 * float(run['jobs_cpu']) / count:.2f} ms")
        if run["statements"]:
            _print_statements(count, run["statements"])


def _print_statements(count: int, statements: dict[str, list[int]]) -> None:
    total = sum(times for times, _ in statements.values())
    long_lists = sum(times for times, parameters in statements.values() if parameters > 50)
    print(f"    SQL statements per invoice {total / count:.3f} ({total:,}; with > 50 parameters: {long_lists:,})")
    for statement, (times, parameters) in sorted(statements.items(), key=lambda s: -s[1][0])[:25]:
        print(f"      {times:>6,} x {parameters:>5} params  {statement[:90]}")


if __name__ == "__main__":
    main()
