"""Segment evaluation over N customers on PostgreSQL (issue 16: 1,000,000 customers in ≤ 5 s).

    .venv/bin/python bench/segments.py                  # 1,000,000 customers
    .venv/bin/python bench/segments.py --count 100000
    .venv/bin/python bench/segments.py --reuse          # the database seeded by an earlier run
    .venv/bin/python bench/segments.py --reuse --explain "open_balance gt"

A fresh database, one tenant, N customers with attributes (plan, data_usage_gb, contract_end)
and two issued invoices each (one paid on time, one open; a third of the open ones past due),
seeded with SQL (not timed), then ANALYZE. Timed: the count of customers in a segment, as
``segments.service.count_and_examples`` makes it (the count query alone), for rules of each kind.
Baseline in the same run: ``SELECT count(*)`` of the tenant's customers (the least reading a
segment count can do).

Each behaviour rule is timed two ways, one after the other in the same run, so that their ratio
holds on a loaded machine: grouping the invoices at every count (``segments.behaviour``, with
``roomy``'s settings: what the count did before the behaviour table), and reading
``customer_behaviour`` (``segments.behaviour_table``: what the count does on the day the table was
built for), and a third way: on a day the table was not built for (between midnight and the daily
job), where the facts no date moves (open balance, the newest total, how the customer paid) read
the table and the others group (``behaviour_table.answers``). Also timed: the table's whole rebuild
(the daily job, ``kvitt segments rebuild-behaviour``) and the rebuild of 500 customers' rows (what
the ``invoice.`` subscriber does for a batch). ``--defaults`` adds the grouping at the server's
default ``work_mem`` (cancelled after 60 s). Every row prints the load average when it was
measured.
``--explain LABEL`` prints ``EXPLAIN (ANALYZE, BUFFERS)`` of one rule's count from the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from benchdb import bench_tenant, fresh_database  # noqa: E402
from kvitt.core.db import Database  # noqa: E402
from kvitt.customers.models import Customer  # noqa: E402
from kvitt.segments import behaviour_table, rules  # noqa: E402
from kvitt.segments.service import GROUPS_EVERY_FACT, on_behaviour, roomy  # noqa: E402

DAY = date(2026, 12, 6)
GOAL = 5.0
BEFORE_LIMIT = 60  # seconds a count at the server's defaults may take before it is cancelled
RULES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "attribute eq": ("all", [{"field": "attributes.plan", "op": "eq", "value": "Medium"}]),
    "attribute gt + type": (
        "all",
        [
            {"field": "attributes.data_usage_gb", "op": "gt", "value": 20},
            {"field": "type", "op": "eq", "value": "individual"},
        ],
    ),
    "attribute date lt": ("all", [{"field": "attributes.contract_end", "op": "lt", "value": "2027-03-01"}]),
    "open_balance gt": ("all", [{"field": "open_balance", "op": "gt", "value": 0}]),
    "late_invoices_last_3 gte": ("all", [{"field": "late_invoices_last_3", "op": "gte", "value": 1}]),
    "any of plan / late": (
        "any",
        [
            {"field": "attributes.plan", "op": "eq", "value": "Global Plus"},
            {"field": "late_invoices_last_3", "op": "gte", "value": 1},
        ],
    ),
    "avg_days_late gte": ("all", [{"field": "avg_days_late", "op": "gte", "value": 3}]),
    "any of late / avg / balance": (
        "any",
        [
            {"field": "late_invoices_last_3", "op": "gte", "value": 2},
            {"field": "avg_days_late", "op": "gte", "value": 3},
            {"field": "open_balance", "op": "gt", "value": 20000},
        ],
    ),
}


def seed(url: str, count: int) -> int:
    tenant_id = bench_tenant(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO customers (tenant_id, customer_no, type, name, country, delivery_method, language,
                                      attributes, created_at, updated_at)
               SELECT %s, 'C' || g, CASE WHEN g %% 7 = 0 THEN 'company' ELSE 'individual' END, 'Kund ' || g,
                      'SE', 'email', 'sv',
                      jsonb_build_object('plan', (ARRAY['Bas', 'Medium', 'Global Plus'])[1 + g %% 3],
                                         'data_usage_gb', (g %% 80) / 2.0,
                                         'contract_end', to_char(date '2027-01-01' + (g %% 365), 'YYYY-MM-DD')),
                      now() - (g %% 3000) * interval '1 day', now()
               FROM generate_series(1, %s) g""",
            (tenant_id, count),
        )
        first = conn.execute("SELECT min(id) FROM customers").fetchone()[0]  # type: ignore[index]
        conn.execute(
            """INSERT INTO invoices (tenant_id, customer_id, kind, state, number, ocr, token, currency, invoice_date,
                                     due_date, net, vat, rounding, total, paid, credited, written_off, remaining,
                                     vat_summary, with_invoice_fee, buyer, info, metadata, created_at, updated_at,
                                     issued_at)
               SELECT %s, %s + (g %% %s), 'invoice',
                      CASE WHEN g <= %s THEN 'paid' WHEN g %% 3 = 0 THEN 'overdue' ELSE 'unpaid' END,
                      g, g::text, md5(g::text), 'SEK', date '2026-11-01',
                      CASE WHEN g <= %s THEN date '2026-11-30' WHEN g %% 3 = 0 THEN date '2026-11-30'
                           ELSE date '2026-12-31' END,
                      10000, 0, 0, 10000, 0, 0, 0, CASE WHEN g <= %s THEN 0 ELSE 10000 END,
                      '[]', false, '{}', '[]', '{}', now(), now(), now()
               FROM generate_series(1, %s) g""",
            (tenant_id, first, count, count, count, count, 2 * count),
        )
        conn.execute("VACUUM ANALYZE")
    return tenant_id


def existing(url: str, count: int) -> int | None:
    """The tenant of a database an earlier run seeded with ``count`` customers, or None."""
    try:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT tenant_id, count(*) FROM customers GROUP BY tenant_id").fetchone()
    except psycopg.OperationalError:
        return None
    return int(row[0]) if row is not None and row[1] == count else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql://postgres@localhost:5432")
    parser.add_argument("--reuse", action="store_true", help="keep a database seeded before with --count customers")
    parser.add_argument("--explain", metavar="LABEL", help="EXPLAIN (ANALYZE, BUFFERS) of one rule, then stop")
    parser.add_argument("--defaults", action="store_true", help="also group at the server's default work_mem")
    args = parser.parse_args()
    name = "kvitt_bench_segments"
    url = f"{args.url}/{name}"
    tenant_id = existing(url, args.count) if args.reuse else None
    if tenant_id is None:
        fresh_database(args.url, name)
        started = time.perf_counter()
        tenant_id = seed(url, args.count)
        print(
            f"seeded {args.count:,} customers and {2 * args.count:,} invoices in {time.perf_counter() - started:.1f} s"
        )
    else:
        print(f"reused {name}: {args.count:,} customers")
    db = Database(url)
    if args.explain:
        explain(db, tenant_id, args.explain)
        db.dispose()
        return
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        conn.execute("SELECT count(*) FROM customers WHERE tenant_id = %s", (tenant_id,)).fetchone()
        floor = time.perf_counter() - start
    built = rebuild(db, tenant_id, None)
    batch = rebuild(db, tenant_id, 500)
    print(f"\nrebuild of customer_behaviour, {args.count:,} customers: {built:.1f} s (load {load()})")
    print(f"rebuild of 500 customers' rows (one subscriber batch): {batch:.2f} s (load {load()})")
    head = "| customers | rule | in segment | s, default work_mem | s, grouping invoices | s, behaviour table |"
    print(f"\n{head} table / grouping | s, another day | another day / grouping | goal ≤ {GOAL:.0f} s | load |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    baseline = f"| {args.count:,} | baseline: count(*) of the tenant's customers | {args.count:,} | | | {floor:.2f} |"
    print(f"{baseline} | | | | |")
    for label, (match, conditions) in RULES.items():
        checked = rules.check_rule(match, conditions)
        old, grouped, ratio, later, later_ratio = "", "(same)", "", "", ""
        if on_behaviour(checked) and args.defaults:
            try:
                old = f"{count(db, tenant_id, match, checked, how='defaults')[1]:.2f}"
            except DBAPIError:
                old = f"> {BEFORE_LIMIT} (cancelled)"
        found, seconds = count(db, tenant_id, match, checked, how="table")
        if on_behaviour(checked):
            same, grouping = count(db, tenant_id, match, checked, how="grouping")
            assert same == found, f"{label}: the table counts {found}, the grouping {same}"
            grouped, ratio = f"{grouping:.2f}", f"{seconds / grouping:.2f}"
            same, another = count(db, tenant_id, match, checked, how="another_day")
            assert same == found, f"{label}: another day counts {same}, the table {found}"
            later, later_ratio = f"{another:.2f}", f"{another / grouping:.2f}"
        met = "met" if seconds <= GOAL else "**not met**"
        row = (
            f"| {args.count:,} | {label} | {found:,} | {old} | {grouped} | {seconds:.2f} | {ratio} | {later} "
            f"| {later_ratio} | {met} |"
        )
        print(f"{row} {load()} |", flush=True)
    db.dispose()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def rebuild(db: Database, tenant_id: int, customers: int | None) -> float:
    """Seconds to compute the behaviour rows of every customer (None) or of the first ``customers``."""
    with db.transaction() as session:
        only = None
        if customers is not None:
            ids = select(Customer.id).where(Customer.tenant_id == tenant_id).order_by(Customer.id).limit(customers)
            only = list(session.scalars(ids))
        start = time.perf_counter()
        with roomy(session, GROUPS_EVERY_FACT):
            behaviour_table.rebuild(session, tenant_id, DAY, only)
        return time.perf_counter() - start


def count(db: Database, tenant_id: int, match: str, checked: list[dict[str, object]], *, how: str) -> tuple[int, float]:
    """The segment's count as ``segments.service.count_and_examples`` makes it from the behaviour
    table (``table``), on a day the table was not built for (``another_day``: its dateless facts
    only), or by grouping the invoices (``grouping``), or grouping at the server's default
    settings (``defaults``); returns (customers, seconds)."""
    start = time.perf_counter()
    table: bool | frozenset[str] = {"table": True, "another_day": behaviour_table.DATELESS}.get(how, False)
    with db.read() as session:
        where = rules.customer_sql(match, checked, tenant_id, DAY, table=table)
        query = select(func.count(Customer.id)).where(Customer.tenant_id == tenant_id, where)
        if how != "defaults":
            with roomy(session, checked):
                found = session.scalar(query)
        else:  # the server's defaults, cancelled after BEFORE_LIMIT seconds
            session.execute(text(f"SET statement_timeout = '{BEFORE_LIMIT}s'"))
            try:
                found = session.scalar(query)
            finally:
                session.execute(text("RESET statement_timeout"))
    return int(found or 0), time.perf_counter() - start


def explain(db: Database, tenant_id: int, label: str) -> None:
    match, conditions = RULES[label]
    checked = rules.check_rule(match, conditions)
    with db.read() as session:
        where = rules.customer_sql(match, checked, tenant_id, DAY, table=True)
        query = select(func.count(Customer.id)).where(Customer.tenant_id == tenant_id, where)
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        print(f"{compiled};\n")
        with roomy(session, checked):
            for (line,) in session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")):
                print(line)


if __name__ == "__main__":
    main()
