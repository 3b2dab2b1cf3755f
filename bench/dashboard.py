"""The KPIs of the back office's Översikt at N invoices on PostgreSQL, beside a full scan.

    .venv/bin/python bench/dashboard.py                 # 1,000,000 invoices
    .venv/bin/python bench/dashboard.py --count 50000

A fresh database (``kvitt_bench_dashboard``) with one tenant, N/12 customers (82 % email, 18 %
letter) each invoiced once a month for 12 months (2025-12 .. 2026-11), seeded with COPY (not
timed): the invoices, the receivable postings of issue and payment (the 1510 lines only: the
other side of each entry is left out, the KPIs do not read it), one delivery per invoice (2 % of
the emails bounce and go out as a letter), 90 % of the invoices due by the last day paid between
20 days early and 25 days late by bank payment (BGMax channel 1, 3 or 4) with its allocation,
and a customer message on 0.5 % of them. Then ANALYZE, as autovacuum would.

Timed, in this order:

- the first computation of the aggregates (what migration 0016 leaves to the first refresh: every
  day marked dirty, then recomputed), and a refresh of one billing day (what the refresh job
  does after that day's events);
- the KPI answer as the API and the Översikt compute it (``facts.refresh`` with nothing dirty,
  then ``kpis.kpis``): for the last month, for the whole year as one period, and the 12-month
  trend (12 periods); each the median of 5 runs;
- beside each, the full scan: the same figures computed from the invoices, deliveries, payments,
  allocations, events and the ledger with SQL over the period (the aging report's grand total for
  the stocks), in the same run. The figures of both must be equal (checked, printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from benchdb import bench_tenant, drop_database, fresh_database  # noqa: E402
from kvitt.core.db import Database  # noqa: E402
from kvitt.delivery.models import Delivery  # noqa: E402
from kvitt.invoices.models import Invoice, InvoiceEvent  # noqa: E402
from kvitt.payments.models import Allocation, Payment  # noqa: E402
from kvitt.reports import aging, facts, kpis  # noqa: E402
from kvitt.tenants.models import Tenant  # noqa: E402

FIRST_MONTH = date(2025, 12, 1)
LAST_DAY = date(2026, 11, 30)
GOAL = 1.0
NOW = "2026-11-30 12:00:00+00"


def month_days(month_index: int, customer: int) -> tuple[date, date]:
    year, month = divmod(FIRST_MONTH.month - 1 + month_index, 12)
    invoice_date = date(FIRST_MONTH.year + year, month + 1, 1 + customer % 28)
    return invoice_date, invoice_date + timedelta(days=30)


def seed(url: str, count: int) -> int:
    tenant_id = bench_tenant(url)
    customers = max(count // 12, 1)
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM report_dirty_days")  # the migration's marks of an empty database
        with conn.cursor().copy(
            "COPY customers (id, tenant_id, customer_no, type, name, email, address_line1, postal_code, city, country,"
            " delivery_method, language, attributes, created_at, updated_at) FROM STDIN"
        ) as copy:
            for c in range(customers):
                method = "letter" if c % 100 < 18 else "email"
                copy.write_row(
                    (c + 1, tenant_id, f"C{c}", "individual", f"Kund {c}", f"k{c}@example.se", "Storgatan 1",
                     "11122", "Stockholm", "SE", method, "sv", "{}", NOW, NOW)
                )  # fmt: skip
        copies: list[tuple[str, str]] = [
            (
                "COPY invoices (id, tenant_id, customer_id, kind, state, number, ocr, token, currency, invoice_date,"
                " due_date, net, vat, rounding, total, paid, credited, written_off, remaining, vat_summary,"
                " with_invoice_fee, buyer, info, metadata, created_at, updated_at, issued_at) FROM STDIN",
                "invoices",
            ),
            (
                "COPY journal_entries (id, tenant_id, date, kind, text, invoice_id, created_at) FROM STDIN",
                "entries",
            ),
            (
                "COPY journal_lines (id, tenant_id, entry_id, account, amount, customer_id, invoice_id) FROM STDIN",
                "lines",
            ),
            (
                "COPY payments (id, tenant_id, source, amount, date, reference, customer_id, unallocated, details,"
                " created_at) FROM STDIN",
                "payments",
            ),
            (
                "COPY payment_allocations (tenant_id, payment_id, kind, invoice_id, customer_id, amount, actor,"
                " created_at) FROM STDIN",
                "allocations",
            ),
            (
                "COPY deliveries (id, tenant_id, invoice_id, document, chain, channel, first_channel, reason, state,"
                " attempts, actor, data, created_at, updated_at) FROM STDIN",
                "deliveries",
            ),
            ("COPY invoice_events (tenant_id, invoice_id, type, at, actor, data) FROM STDIN", "events"),
        ]
        for statement, table in copies:
            with conn.cursor().copy(statement) as copy:
                for n in range(count):
                    for row in rows_of(n, customers, tenant_id)[table]:
                        copy.write_row(row)
        for name in ("customers", "invoices", "journal_entries", "journal_lines", "payments", "deliveries"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return tenant_id


def rows_of(n: int, customers: int, tenant_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Invoice n's rows in every table, the same on each call (ids derived from n, no RNG state)."""
    c, m = n % customers, n // customers
    invoice_id = n + 1
    invoice_date, due = month_days(min(m, 11), c)
    total = 10000 + (n % 50) * 100
    letter = c % 100 < 18
    late = ((n * 2654435761) >> 7) % 46 - 20 + (7 if letter else 0)
    draw = ((n * 40503) >> 3) % 100
    paid_on = max(due + timedelta(days=late), invoice_date)
    paid = (draw < 90 if due <= LAST_DAY else draw < 50) and paid_on <= LAST_DAY
    state = "paid" if paid else ("overdue" if due < LAST_DAY else "unpaid")
    out: dict[str, list[tuple[Any, ...]]] = {
        "invoices": [
            (invoice_id, tenant_id, c + 1, "invoice", state, invoice_id, str(invoice_id), f"t{invoice_id}", "SEK",
             invoice_date, due, total, 0, 0, total, total if paid else 0, 0, 0, 0 if paid else total, "[]",
             False, "{}", "[]", "{}", NOW, NOW, NOW)
        ],
        "entries": [(2 * n + 1, tenant_id, invoice_date, "invoice", f"Faktura {invoice_id}", invoice_id, NOW)],
        "lines": [(2 * n + 1, tenant_id, 2 * n + 1, "1510", total, c + 1, invoice_id)],
        "payments": [],
        "allocations": [],
        "events": [],
    }  # fmt: skip
    channel = "letter" if letter else "email"
    bounced = not letter and n % 50 == 7
    out["deliveries"] = [
        (2 * n + 1, tenant_id, invoice_id, "invoice", 0, channel, channel, "issue",
         "failed" if bounced else "sent", 1, "system", "{}", NOW, NOW)
    ]  # fmt: skip
    if bounced:
        out["deliveries"].append(
            (2 * n + 2, tenant_id, invoice_id, "invoice", 0, "letter", "email", "fallback", "sent", 1, "system", "{}",
             NOW, NOW)
        )  # fmt: skip
    if n % 200 == 3:
        out["events"].append((tenant_id, invoice_id, "message_received", NOW, "recipient", '{"text": "Varför?"}'))
    if paid:
        bgmax_channel = 1 if n % 10 < 8 else (3 if n % 10 == 8 else 4)
        out["payments"].append(
            (invoice_id, tenant_id, "bankgiro", total, paid_on, str(invoice_id), c + 1, 0,
             f'{{"channel": {bgmax_channel}}}', NOW)
        )  # fmt: skip
        out["allocations"].append((tenant_id, invoice_id, "invoice", invoice_id, c + 1, total, "bench", NOW))
        out["entries"].append((2 * n + 2, tenant_id, paid_on, "payment", f"Betalning {invoice_id}", invoice_id, NOW))
        out["lines"].append((2 * n + 2, tenant_id, 2 * n + 2, "1510", -total, c + 1, invoice_id))
    return out


# --- the full scan: the same figures from the source tables, over the period --------------------


def full_scan(session: Session, tenant: Tenant, start: date, end: date) -> dict[str, Any]:
    """The KPI object computed from the source rows of the period (no aggregate table read)."""
    t = tenant.id
    cohort = select(Invoice.id).where(
        Invoice.tenant_id == t,
        Invoice.invoice_date >= start,
        Invoice.invoice_date <= end,
        Invoice.kind == "invoice",
        Invoice.state != "draft",
    )
    issued, invoiced = session.execute(
        select(func.count(Invoice.id), func.coalesce(func.sum(Invoice.total), 0)).where(Invoice.id.in_(cohort))
    ).one()
    channels = facts.first_channels(t, cohort)
    sent: dict[str, int] = dict(
        session.execute(select(channels.c.channel, func.count()).group_by(channels.c.channel)).all()
    )
    failed: dict[str, int] = dict(
        session.execute(
            select(Delivery.channel, func.count())
            .where(Delivery.tenant_id == t, Delivery.invoice_id.in_(cohort), Delivery.state == "failed")
            .group_by(Delivery.channel)
        ).all()
    )
    messages = session.scalar(
        select(func.count(InvoiceEvent.id)).where(
            InvoiceEvent.tenant_id == t, InvoiceEvent.invoice_id.in_(cohort), InvoiceEvent.type == "message_received"
        )
    )
    channel = Payment.details["channel"].as_integer()
    by_method: dict[str, list[int]] = {}
    for source, code, n, amount in session.execute(
        select(Payment.source, channel, func.count(func.distinct(Payment.id)), func.sum(Allocation.amount))
        .join(Allocation, Allocation.payment_id == Payment.id)
        .where(Payment.tenant_id == t, Payment.date >= start, Payment.date <= end, Payment.amount > 0)
        .where(Allocation.kind == "invoice")
        .group_by(Payment.source, channel)
    ):
        sums = by_method.setdefault(facts.payment_method(source, code), [0, 0])
        sums[0] += n
        sums[1] += int(amount)
    last = (
        select(Allocation.invoice_id.label("invoice_id"), func.max(Payment.date).label("paid_on"))
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(Allocation.tenant_id == t, Allocation.kind == "invoice")
        .group_by(Allocation.invoice_id)
        .subquery()
    )
    paid_ids = (
        select(Invoice.id)
        .join(last, last.c.invoice_id == Invoice.id)
        .where(Invoice.tenant_id == t, Invoice.state == "paid", last.c.paid_on >= start, last.c.paid_on <= end)
    )
    paid_channels = facts.first_channels(t, paid_ids)
    groups: dict[str, list[int]] = {}
    for due, paid_on, ch in session.execute(
        select(Invoice.due_date, last.c.paid_on, paid_channels.c.channel)
        .join(last, last.c.invoice_id == Invoice.id)
        .outerjoin(paid_channels, paid_channels.c.invoice_id == Invoice.id)
        .where(Invoice.id.in_(paid_ids))
    ):
        g = groups.setdefault(facts.channel_group(ch), [0, 0, 0])
        after = (paid_on - due).days
        g[0], g[1], g[2] = g[0] + 1, g[1] + after, g[2] + (after <= 0)
    totals = aging.aging(session, tenant, as_of=end, limit=1).totals  # the grand total over every customer
    return {
        "invoices_issued": issued,
        "invoiced": int(invoiced),
        "paid": sum(v[1] for v in by_method.values()),
        "outstanding": sum(totals.values()),
        "aging": totals,
        "sent": {k: v for k, v in sent.items() if v},
        "failed": failed,
        "messages": messages,
        "payments": {m: v[0] for m, v in by_method.items()},
        "paid_groups": {g: tuple(v) for g, v in groups.items()},
    }


def from_kpis(k: kpis.Kpis) -> dict[str, Any]:
    """The same subset of figures, read from the KPI object."""
    return {
        "invoices_issued": k.invoices_issued,
        "invoiced": k.invoiced,
        "paid": k.paid,
        "outstanding": k.outstanding,
        "aging": k.aging,
        "sent": {c: n for c, n in k.invoices_sent.items() if n},
        "failed": k.delivery_failures,
        "messages": k.messages,
        "payments": k.payments,
        "paid_groups": {
            g: (
                k.invoices_paid[g],
                k.avg_days_paid_after_due[g].numerator,
                k.paid_before_due_share[g].numerator,
            )
            for g in facts.GROUPS
            if k.invoices_paid[g]
        },
    }


# --- timing -------------------------------------------------------------------------------------


def timed(call: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql://postgres@localhost:5432")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name = "kvitt_bench_dashboard"
    url = fresh_database(args.url, name)
    started = time.perf_counter()
    tenant_id = seed(url, args.count)
    print(f"seeded {args.count:,} invoices in {time.perf_counter() - started:.1f} s", flush=True)
    db = Database(url)
    try:
        rows, equal = measure(db, tenant_id, args.count)
    finally:
        db.dispose()
        if not args.keep:
            drop_database(args.url, name)
    print()
    print(f"KPIs (Översikt), PostgreSQL, {args.count:,} invoices over 12 months")
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"{'figure':44} {'goal':>7} {'measured':>10} {'full scan':>10} {'ratio':>8}")
    for figure, goal, measured, scan in rows:
        ratio = f"{measured / scan:.4f}" if scan else ""
        print(f"{figure:44} {goal:>7} {measured:>10.3f} {scan or '':>10} {ratio:>8}".replace(" None", ""))
    print()
    print("figures equal to the full scan's:", "yes" if equal else "NO")
    met = equal and all(measured <= GOAL for figure, goal, measured, _ in rows if goal)
    print("goals met" if met else "goals NOT met")


def measure(db: Database, tenant_id: int, count: int) -> tuple[list[tuple[str, str, float, Any]], bool]:
    rows: list[tuple[str, str, float, Any]] = []
    with db.transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        first, days = timed(lambda: facts.rebuild(session, tenant))
    rows.append((f"first computation of the aggregates ({len(days)} days)", "", first, None))
    busiest = month_days(11, 0)[0]
    with db.transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        facts.mark_dirty(session, tenant_id, [busiest])
        refresh, _ = timed(lambda: facts.refresh(session, tenant))
    rows.append((f"refresh of one billing day ({count // 12 // 28:,} invoices)", "", refresh, None))
    equal = True
    periods = [
        ("KPI answer: last month", date(2026, 11, 1), LAST_DAY),
        ("KPI answer: the whole year as one period", FIRST_MONTH, LAST_DAY),
    ]
    with db.transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        for label, start, end in periods:
            answer, k = timed(partial(_answer, session, tenant, start, end), repeat=5)
            scan, scanned = timed(partial(full_scan, session, tenant, start, end))
            equal = equal and from_kpis(k) == scanned
            if from_kpis(k) != scanned:
                print("DIFFERENT:", label, from_kpis(k), scanned, sep="\n  ")
            rows.append((label, f"≤ {GOAL:.0f} s", answer, round(scan, 3)))
        months = kpis.months_back(LAST_DAY, 12)
        trend, ks = timed(lambda: (facts.refresh(session, tenant), kpis.monthly(session, tenant, LAST_DAY, 12))[1], 5)
        scan, scans = timed(lambda: [full_scan(session, tenant, s, e) for s, e in months])
        equal = equal and [from_kpis(k) for k in ks] == scans
        rows.append(("KPI answer: 12-month trend (12 periods)", f"≤ {GOAL:.0f} s", trend, round(scan, 3)))
    return rows, equal


def _answer(session: Session, tenant: Tenant, start: date, end: date) -> kpis.Kpis:
    facts.refresh(session, tenant)
    return kpis.kpis(session, tenant, start, end)


if __name__ == "__main__":
    main()
