"""The dunning tick over N open invoices, 10 % of them due for a step, on PostgreSQL.

    .venv/bin/python bench/dunning.py                 # 1,000,000 open invoices
    .venv/bin/python bench/dunning.py --count 200000

A fresh database, one tenant with the default policy (reminder 1 seven days after due, reminder
2 fourteen days after that, no fees), N/10 customers and N open invoices seeded with SQL (not
timed): 10 % are 31 days past due with no reminder yet (due for reminder 1), 45 % had their
first reminder 4 days ago (waiting for reminder 2), 45 % are not due yet. Then ANALYZE, as
autovacuum would. Timed, each in its own transaction with its commit:

- tick 1: ``kvitt.dunning.service.run`` for the day: finds the due invoices (one query) and
  writes a reminder, a ``reminder_sent`` timeline event and its domain event each, and the
  delivery jobs (bundles of 500 reminders); the next step's dates of every invoice it looked at;
- tick 2, right after, the same day: must find nothing and write nothing;
- the back office's look at the next tick (``tick.preview``, read only) beside the full finding
  query it ran before, the same day (both must find the same invoices).

Baselines measured in the same run: a count of the open, past-due invoices over the index the
tick uses (the least reading the tick can do), and COPY of as many rows as tick 1 wrote into a
copy of the reminders table (the least writing).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time
from datetime import date
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from benchdb import bench_tenant, fresh_database  # noqa: E402
from kvitt.core.db import Database  # noqa: E402
from kvitt.dunning import policies, service, tick  # noqa: E402
from kvitt.tenants.models import Tenant  # noqa: E402

DAY = date(2026, 4, 1)
GOAL_FIRST, GOAL_SECOND = 30.0, 5.0


def seed(url: str, count: int) -> int:
    tenant_id = bench_tenant(url, default_policy=True)
    customers = max(count // 10, 1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO customers (tenant_id, customer_no, type, name, country, delivery_method, language,
                                      attributes, created_at, updated_at)
               SELECT %s, 'C' || g, 'individual', 'Kund ' || g, 'SE', 'email', 'sv', '{}', now(), now()
               FROM generate_series(1, %s) g""",
            (tenant_id, customers),
        )
        first_customer = conn.execute("SELECT min(id) FROM customers").fetchone()[0]  # type: ignore[index]
        # g % 20: 0-1 due for reminder 1 (10 %), 2-10 reminded once (45 %), 11-19 not due yet (45 %).
        conn.execute(
            """INSERT INTO invoices (tenant_id, customer_id, kind, state, number, ocr, token, currency, invoice_date,
                                     due_date, net, vat, rounding, total, paid, credited, written_off, remaining,
                                     vat_summary, with_invoice_fee, buyer, info, metadata, created_at, updated_at,
                                     issued_at)
               SELECT %s, %s + (g %% %s), 'invoice',
                      CASE WHEN g %% 20 <= 10 THEN 'overdue' ELSE 'unpaid' END,
                      g, g::text, md5(g::text), 'SEK', date '2026-02-01',
                      CASE WHEN g %% 20 <= 1 THEN date '2026-03-01'
                           WHEN g %% 20 <= 10 THEN date '2026-03-21'
                           ELSE date '2026-04-30' END,
                      10000, 0, 0, 10000, 0, 0, 0, 10000, '[]', false, '{}', '[]', '{}', now(), now(), now()
               FROM generate_series(1, %s) g""",
            (tenant_id, first_customer, customers, count),
        )
        conn.execute(
            """INSERT INTO dunning_reminders (tenant_id, invoice_id, customer_id, policy_id, level, action, number,
                                              sent_on, due_date, principal, fee, interest, interest_rates_bp,
                                              created_at)
               SELECT i.tenant_id, i.id, i.customer_id, p.id, 1, 'reminder', i.number || '-1',
                      date '2026-03-28', date '2026-04-07', i.remaining, 0, 0, '[]', now()
               FROM invoices i JOIN dunning_policies p ON p.tenant_id = i.tenant_id
               WHERE i.due_date = date '2026-03-21'""",
        )
        conn.execute("UPDATE number_series SET next_value = %s WHERE tenant_id = %s", (count + 1, tenant_id))
        conn.execute("VACUUM ANALYZE")
    return tenant_id


def timed_tick(db: Database, tenant_id: int, profile: bool = False) -> tuple[float, int]:
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        result = service.run(session, tenant, today=DAY)
    elapsed = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    return elapsed, result.reminders


def timed_looks(db: Database, tenant_id: int) -> tuple[float, float]:
    """The back office's look at what the next tick takes, after the ticks: ``tick.preview`` (the
    range a repeated tick reads) against the full finding query the page ran before; both must
    find the same invoices."""
    with db.read_snapshot() as session:
        tenant = session.get_one(Tenant, tenant_id)
        start = time.perf_counter()
        shown = [d.invoice_id for d in tick.preview(session, tenant, DAY)]
        look = time.perf_counter() - start
        start = time.perf_counter()
        full = [d.invoice_id for d in tick.find_due(session, tenant, policies.active(session, tenant), DAY)]
        scan = time.perf_counter() - start
    assert shown == full, (len(shown), len(full))
    return look, scan


def baselines(url: str, tenant_id: int, rows: int) -> tuple[float, float]:
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        conn.execute(
            """SELECT count(*) FROM invoices WHERE tenant_id = %s AND state IN ('unpaid', 'partly_paid', 'overdue')
               AND due_date < %s""",
            (tenant_id, DAY),
        ).fetchone()
        read = time.perf_counter() - start
        conn.execute("CREATE TEMP TABLE copy_floor (LIKE dunning_reminders INCLUDING DEFAULTS INCLUDING INDEXES)")
        start = time.perf_counter()
        with conn.cursor().copy(
            "COPY copy_floor (id, tenant_id, invoice_id, customer_id, level, action, number, sent_on, due_date,"
            " principal, fee, interest, interest_rates_bp, created_at) FROM STDIN"
        ) as copy:
            for n in range(rows):
                copy.write_row((n, tenant_id, n, 1, 2, "reminder", f"{n}-2", DAY, DAY, 10000, 0, 0, "[]", "2026-04-01"))
        conn.commit()
        write = time.perf_counter() - start
    return read, write


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql://postgres@localhost:5432")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile tick 1 (its times then include the profiler's)"
    )
    args = parser.parse_args()
    name = "kvitt_bench_dunning"
    url = fresh_database(args.url, name)
    started = time.perf_counter()
    tenant_id = seed(url, args.count)
    print(f"seeded {args.count:,} open invoices in {time.perf_counter() - started:.1f} s", flush=True)
    db = Database(url)
    first, sent = timed_tick(db, tenant_id, args.profile)
    second, again = timed_tick(db, tenant_id)
    look, full_look = timed_looks(db, tenant_id)
    db.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    read, write = baselines(url, tenant_id, sent)
    print()
    print(f"dunning tick, PostgreSQL, {args.count:,} open invoices, {sent:,} due for a step")
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"{'figure':38} {'goal':>8} {'measured':>10} {'baseline':>10} {'ratio':>7}")
    rows = [
        ("tick 1: reminders sent", "", f"{sent:,}", "", ""),
        (
            "tick 1: seconds",
            f"≤ {GOAL_FIRST:.0f}",
            f"{first:.2f}",
            f"{read + write:.2f}",
            f"{first / (read + write):.1f}×",
        ),
        ("tick 2 (same day): reminders sent", "0", f"{again:,}", "", ""),
        ("tick 2: seconds", f"≤ {GOAL_SECOND:.0f}", f"{second:.2f}", f"{read:.2f}", f"{second / read:.1f}×"),
        ("back office look (tick.preview): seconds", "", f"{look:.2f}", f"{full_look:.2f}", f"{look / full_look:.3f}×"),
        ("peak RSS of this process (MB)", "≤ 512", f"{peak_mb:.0f}", "", ""),
    ]
    for figure, goal, measured, base, ratio in rows:
        print(f"{figure:38} {goal:>8} {measured:>10} {base:>10} {ratio:>7}")
    print()
    print(
        f"baseline tick 1 = count of open past-due invoices ({read:.2f} s)"
        f" + COPY of {sent:,} reminder rows ({write:.2f} s)"
    )
    print(f"baseline tick 2 = that count alone ({read:.2f} s)")
    print(f"baseline of the look = the full finding query the page ran before ({full_look:.2f} s)")
    ok = sent == args.count // 10 and again == 0 and first <= GOAL_FIRST and second <= GOAL_SECOND and peak_mb <= 512
    print("goals met" if ok else "goals NOT met")


if __name__ == "__main__":
    main()
