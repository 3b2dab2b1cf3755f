"""Email delivery in batches: `kvitt jobs run` after a billing run, against the SMTP ceiling.

    .venv/bin/python bench/delivery_batch.py                          # 5,000 invoices, PostgreSQL
    .venv/bin/python bench/delivery_batch.py --n 2000 --engines postgresql sqlite
    .venv/bin/python bench/delivery_batch.py --n 1000 --profile       # cProfile -> bench/out/
    .venv/bin/python bench/delivery_batch.py --src /tmp/before/src    # the jobs phase of other code

N customers who want email, each with one monthly subscription (seeded, not timed), billed with
`kvitt bill` (not timed). Timed (inside the worker process, so Python's start-up is not counted): one worker until the
queue is empty — every job the N issued invoices cause (their domain events, the deliveries, the
emails, the `sent` events), with only delivery's subscribers (delivery's own share), and with
`--every-subscriber` also with every feature's (webhooks, event chains, payments: the whole
jobs phase, which other work changes). Email goes to a real SMTP server (aiosmtpd) in its own
process, which counts messages and connections. The baseline, measured in the same run against
the same server: one pre-built 1.2 KB message sent N times over one connection (smtplib), the
most one client gets from it.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from benchlib import free_port, smtp_ceiling, wait_for_port

ROOT = Path(__file__).resolve().parent.parent

# Everything that runs Kvitt's code runs in a child process, with --src on its path when given:
# the schema, the seed, the billing run and the jobs phase all come from the same tree.
SEED = """
import sys
from datetime import date
from kvitt.billing.seed import seed_subscriptions
from kvitt.core.db import Database
from kvitt.migrations import upgrade
from kvitt.tenants import service as tenants
from kvitt.tenants.schemas import TenantCreate

upgrade(sys.argv[1])
db = Database(sys.argv[1])
with db.transaction() as session:
    tenant, _ = tenants.create(
        session, TenantCreate(name="Bench Telekom AB", org_number="556036-0793", bankgiro="5050-1055")
    )
    tenant_id = tenant.id
with db.transaction() as session:
    seed_subscriptions(session, tenant_id, int(sys.argv[2]), start=date(2026, 1, 1), first_number=1)
print("tenant", tenant_id)
"""

# The jobs phase with only delivery's subscribers (the other features' are left out), so the
# figure is delivery's own: the issued events → deliveries, the sends, the `sent` events.
CHILD = """
import sys, time
from kvitt.core import events
from kvitt.core.db import Database
from kvitt.worker import Worker, load_job_handlers


def delivery(subscriber):
    inner = [c.cell_contents for c in (subscriber.__closure__ or ()) if callable(c.cell_contents)]
    return any(f.__module__.startswith("kvitt.delivery") for f in [subscriber, *inner])


load_job_handlers()
if sys.argv[2] == "delivery":
    events._subscribers[:] = [(prefix, s) for prefix, s in events._subscribers if delivery(s)]
    assert events._subscribers, "no delivery subscriber found"
worker = Worker(Database(sys.argv[1]))
started, cpu = time.perf_counter(), time.process_time()
ran = worker.run_until_idle()
print("seconds", time.perf_counter() - started, "cpu", time.process_time() - cpu, "jobs", ran)
"""
GOAL_PER_SECOND = 500
GOAL_SHARE_OF_SMTP = 0.5


def smtp_server(port: int, received: Any, connections: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counter:
        def __init__(self) -> None:
            self.peers: set[Any] = set()

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with received.get_lock():
                received.value += 1
            if session.peer not in self.peers:
                self.peers.add(session.peer)
                with connections.get_lock():
                    connections.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:
        time.sleep(3600)


class Fresh:
    """A migrated, empty database of the engine, dropped afterwards."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.name = f"kvitt_bench_delivery_batch_{os.getpid()}"
        self.folder = tempfile.TemporaryDirectory()

    def __enter__(self) -> str:
        if self.engine == "sqlite":
            url = f"sqlite:///{Path(self.folder.name) / 'bench.db'}"
        else:
            with psycopg.connect("postgresql://postgres@localhost/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {self.name}")
                conn.execute(f"CREATE DATABASE {self.name}")
            url = f"postgresql+psycopg://postgres@localhost/{self.name}"
        return url

    def __exit__(self, *_: object) -> None:
        if self.engine == "postgresql":
            with psycopg.connect("postgresql://postgres@localhost/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        self.folder.cleanup()


def counts(url: str) -> tuple[dict[str, int], dict[str, int], str | None]:
    """Deliveries and jobs by state, and one job's error if any failed."""
    queries = [
        "SELECT state, count(*) FROM deliveries GROUP BY state",
        "SELECT state, count(*) FROM outbox_jobs GROUP BY state",
        "SELECT last_error FROM outbox_jobs WHERE last_error IS NOT NULL LIMIT 1",
    ]
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            rows = [conn.execute(q).fetchall() for q in queries]
    else:
        with psycopg.connect(url.replace("+psycopg", "")) as pg:
            rows = [pg.execute(q).fetchall() for q in queries]
    error = str(rows[2][0][0]) if rows[2] else None
    return dict(rows[0]), dict(rows[1]), error


def child(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout.decode()[-2000:]}\n{done.stderr.decode()[-4000:]}")
    return done.stdout.decode()


def run(engine: str, n: int, smtp_port: int, src: str | None, profile: bool, every: bool) -> dict[str, Any]:
    with Fresh(engine) as url:
        env = {
            **os.environ,
            "KVITT_DATABASE_URL": url,
            "KVITT_SMTP_HOST": "127.0.0.1",
            "KVITT_SMTP_PORT": str(smtp_port),
            "KVITT_MAIL_FROM": "faktura@kvitt.test",
            "KVITT_PUBLIC_URL": "https://kvitt.test",
            "KVITT_LOG_LEVEL": "WARNING",
        }
        if src:
            env["PYTHONPATH"] = src
        seeded = child([sys.executable, "-c", SEED, url, str(n)], env).split()
        tenant_id = int(seeded[seeded.index("tenant") + 1])
        kvitt = [sys.executable, "-m", "kvitt.cli"]
        child([*kvitt, "bill", "--date", "2026-01-01", "--tenant", str(tenant_id)], env)
        if engine == "postgresql":
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        tag = f"{engine}_{'every' if every else 'delivery'}{'_' + Path(src).parent.name if src else ''}"
        script = ROOT / "bench/out/delivery_batch_child.py"
        script.write_text(CHILD)
        profiler = ["-m", "cProfile", "-o", str(ROOT / "bench/out" / f"delivery_batch_{tag}.prof")]
        command = [sys.executable, *(profiler if profile else []), str(script), url, "every" if every else "delivery"]
        out = child(command, env)
        words = out.split()
        seconds, cpu = float(words[words.index("seconds") + 1]), float(words[words.index("cpu") + 1])
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        states, jobs, error = counts(url)
        if error:
            print("a job failed:", error[-1500:])
    what = "every subscriber" if every else "delivery only"
    return {
        "engine": f"{engine}, {what}",
        "seconds": seconds,
        "cpu": cpu,
        "rss": rss,
        "deliveries": states,
        "jobs": jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--engines", nargs="+", default=["postgresql"], choices=["postgresql", "sqlite"])
    parser.add_argument("--src", help="run the jobs phase with this src/ folder (e.g. an older commit's)")
    parser.add_argument("--profile", action="store_true", help="cProfile the jobs phase to bench/out/")
    parser.add_argument(
        "--every-subscriber", action="store_true", help="also the jobs phase with every feature's subscribers"
    )
    args = parser.parse_args()
    (ROOT / "bench/out").mkdir(exist_ok=True)
    port = free_port()
    received = multiprocessing.Value("q", 0)
    connections = multiprocessing.Value("q", 0)
    server = multiprocessing.Process(target=smtp_server, args=(port, received, connections), daemon=True)
    server.start()
    wait_for_port(port)
    try:
        load = os.getloadavg()
        ceiling = smtp_ceiling(port, args.n)
        results = []
        for engine in args.engines:
            for every in [False, True] if args.every_subscriber else [False]:
                received.value, connections.value = 0, 0
                result = run(engine, args.n, port, args.src, args.profile, every)
                result["mails"], result["connections"] = received.value, connections.value
                results.append(result)
        ceiling_after = smtp_ceiling(port, args.n)
    finally:
        server.terminate()

    baseline = (ceiling + ceiling_after) / 2
    print(f"\nload average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; n = {args.n}; src = {args.src or 'this tree'}")
    print(f"{'figure':<44} {'goal':>12} {'measured':>12} {'ratio':>8}")
    print(f"{'SMTP ceiling (baseline), messages/s':<44} {'':>12} {baseline:>12.0f} {1:>8.2f}")
    print(f"{'  (before / after the runs)':<44} {'':>12} {f'{ceiling:.0f}/{ceiling_after:.0f}':>12} {'':>8}")
    for r in results:
        rate = args.n / r["seconds"]
        print(f"{r['engine']}")
        print(f"{'  jobs phase, invoices/s':<44} {GOAL_PER_SECOND:>12} {rate:>12.0f} {rate / baseline:>8.2f}")
        print(f"{'  share of the SMTP ceiling':<44} {GOAL_SHARE_OF_SMTP:>12.2f} {rate / baseline:>12.2f} {'':>8}")
        print(f"{'  jobs phase, seconds':<44} {'':>12} {r['seconds']:>12.1f} {'':>8}")
        cpu_ms = 1000 * r["cpu"] / args.n
        print(f"{'  worker CPU per invoice, ms':<44} {1000 / GOAL_PER_SECOND:>12.1f} {cpu_ms:>12.2f} {'':>8}")
        seen = f"{r['mails']}/{r['connections']}"
        print(f"{'  emails received / SMTP connections':<44} {args.n:>12} {seen:>12} {'':>8}")
        print(f"{'  peak RSS of the worker, MB':<44} {512:>12} {r['rss']:>12.0f} {'':>8}")
        print(f"{'  deliveries by state':<44} {r['deliveries']!s:>33}")
        print(f"{'  jobs by state':<44} {r['jobs']!s:>33}")


if __name__ == "__main__":
    main()
