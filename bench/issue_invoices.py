"""Create and issue N invoices (3 lines each) through the service layer, on SQLite and PostgreSQL.

For each engine it prints invoices per second, and the ratio to a raw bulk insert of the very
same rows (invoices, lines, timeline events, journal entries and lines, outbox rows) measured in
the same run: ``COPY`` on PostgreSQL, ``executemany`` on SQLite, in as many transactions as the
service used. The raw figure is the ceiling for these tables, indexes and constraints on this
machine; the ratio says how much of it the service layer spends.

    .venv/bin/python bench/issue_invoices.py                      # 20,000 invoices, both engines
    .venv/bin/python bench/issue_invoices.py --n 5000 --engines postgresql --profile pyinstrument

Each engine gets fresh databases (a temporary SQLite file; ``kvitt_bench`` and
``kvitt_bench_raw`` on the local PostgreSQL, dropped afterwards). Timings are wall-clock and
include the commits; input objects (pydantic) are built before the clock starts, as the API
validates them before calling the service.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from kvitt.catalog import service as catalog
from kvitt.catalog.schemas import ItemCreate
from kvitt.core.db import Database
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.invoices import service as invoices
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.ledger import service as ledger
from kvitt.migrations import upgrade
from kvitt.models import Base
from kvitt.tenants import service as tenants
from kvitt.tenants.models import Tenant
from kvitt.tenants.schemas import TenantCreate

GOAL_PG = 2000  # invoices per second on PostgreSQL, this 2-core machine
PG_SERVER = "postgresql://postgres@localhost:5432"
TODAY = date(2026, 11, 25)
CUSTOMERS = 1000
# Copied untimed into the raw database so that its foreign keys hold.
FIXED_TABLES = ("tenants", "number_series", "customers", "items")
# What issuing writes, in foreign-key order: the raw baseline writes these.
WRITTEN_TABLES = ("invoices", "invoice_lines", "invoice_events", "journal_entries", "journal_lines", "outbox_jobs")

console = Console(width=130)


@dataclass
class Measure:
    engine: str
    what: str
    invoices: int
    seconds: float
    cpu_seconds: float  # this process only: the database server's work is not in it
    phases: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.invoices / self.seconds


# --- databases -----------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(engine: str, name: str) -> Iterator[str]:
    """A new, migrated, empty database; removed afterwards."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="kvitt-bench-") as directory:
            url = f"sqlite:///{directory}/{name}.db"
            upgrade(url)
            yield url
        return
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    url = f"{PG_SERVER}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _pg_admin(*statements: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


# --- the service run -----------------------------------------------------------------------------


def set_up(db: Database) -> tuple[int, list[int], list[int]]:
    """A tenant without invoice fee (so every invoice has exactly 3 lines), customers, 3 items."""
    with db.transaction() as session:
        tenant, _ = tenants.create(
            session,
            TenantCreate(name="Bänk Telekom AB", org_number="559274-3180", bankgiro="5050-1055", invoice_fee=0),
        )
        customer_ids = [
            customers.create(
                session,
                tenant,
                CustomerCreate(
                    customer_no=str(10000 + i),
                    name=f"Kund {i}",
                    email=f"kund{i}@example.com",
                    address_line1="Storgatan 1",
                    postal_code="972 31",
                    city="Luleå",
                ),
            ).id
            for i in range(CUSTOMERS)
        ]
        item_ids = [
            catalog.create(session, tenant, ItemCreate(**fields)).id
            for fields in (
                {"article_no": "MOB", "title": "Mobilabonnemang", "unit": "mån", "unit_price": 23920, "vat_rate": 25},
                {"article_no": "SURF", "title": "Extra surf 5 GB", "unit_price": 7920, "vat_rate": 25},
                {"article_no": "TIDN", "title": "Tidning digital", "unit": "mån", "unit_price": 5566, "vat_rate": 6},
            )
        ]
        return tenant.id, customer_ids, item_ids


def build_inputs(n: int, customer_ids: list[int], item_ids: list[int]) -> list[InvoiceCreate]:
    rng = random.Random(1)
    mobile, surf, magazine = item_ids
    return [
        InvoiceCreate(
            customer=customer_ids[i % len(customer_ids)],
            invoice_date=TODAY,
            lines=[
                LineIn(item=mobile),
                LineIn(item=surf, quantity=rng.randint(1, 3)),
                LineIn(item=magazine),
            ],
        )
        for i in range(n)
    ]


def run_service(
    engine: str, db: Database, tenant_id: int, inputs: list[InvoiceCreate], batch: int, path: str
) -> Measure:
    """``path`` "batch": invoices.create_and_issue (what billing runs use); "drafts": create_drafts
    then issue (what the API does for one invoice), in batches of the same size."""
    phases: dict[str, float] = (
        {"service call": 0.0, "commit": 0.0}
        if path == "batch"
        else {
            "create_drafts": 0.0,
            "issue": 0.0,
            "commit": 0.0,
        }
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, len(inputs), batch):
        chunk = inputs[start : start + batch]
        with db.transaction() as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            t0 = time.perf_counter()
            if path == "batch":
                invoices.create_and_issue(session, tenant, chunk, today=TODAY, actor="bench")
                t1 = t2 = time.perf_counter()
                phases["service call"] += t1 - t0
            else:
                drafts = invoices.create_drafts(session, tenant, chunk, actor="bench")
                t1 = time.perf_counter()
                invoices.issue(session, tenant, drafts, today=TODAY, actor="bench")
                t2 = time.perf_counter()
                phases["create_drafts"] += t1 - t0
                phases["issue"] += t2 - t1
        phases["commit"] += time.perf_counter() - t2
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    what = "service: create_and_issue" if path == "batch" else "service: create_drafts + issue"
    return Measure(engine, what, len(inputs), seconds, cpu, phases)


# --- the raw baseline ----------------------------------------------------------------------------


def columns_of(table: str) -> list[str]:
    return [column.name for column in Base.metadata.tables[table].columns]


def snapshot(db: Database, tables: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables`` as the driver returns it (on SQLite: exactly as stored)."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        result = {}
        for table in tables:
            cursor.execute(f"SELECT {', '.join(columns_of(table))} FROM {table} ORDER BY 1")
            result[table] = [tuple(row) for row in cursor.fetchall()]
        cursor.close()
        return result
    finally:
        raw.close()


def split_into_batches(rows: dict[str, list[tuple[Any, ...]]], batches: int) -> list[dict[str, list[tuple[Any, ...]]]]:
    """The rows of each service transaction, so that every raw transaction holds whole invoices."""
    invoice_rows = rows["invoices"]
    size = -(-len(invoice_rows) // batches)
    batch_of_invoice = {row[0]: index // size for index, row in enumerate(invoice_rows)}
    result: list[dict[str, list[tuple[Any, ...]]]] = [{t: [] for t in WRITTEN_TABLES} for _ in range(batches)]

    def by_invoice(table: str, column: str) -> None:
        position = columns_of(table).index(column)
        for row in rows[table]:
            result[batch_of_invoice[row[position]]][table].append(row)

    by_invoice("invoices", "id")
    by_invoice("invoice_lines", "invoice_id")
    by_invoice("invoice_events", "invoice_id")
    by_invoice("journal_entries", "invoice_id")
    batch_of_entry = {
        row[0]: batch_of_invoice[row[columns_of("journal_entries").index("invoice_id")]]
        for row in rows["journal_entries"]
    }
    entry_position = columns_of("journal_lines").index("entry_id")
    for row in rows["journal_lines"]:
        result[batch_of_entry[row[entry_position]]]["journal_lines"].append(row)
    payload_position = columns_of("outbox_jobs").index("payload")
    for row in rows["outbox_jobs"]:
        payload = row[payload_position]
        invoice_id = (json.loads(payload) if isinstance(payload, str) else payload)["invoice_id"]
        result[batch_of_invoice[invoice_id]]["outbox_jobs"].append(row)
    return result


class RawSqlite:
    """sqlite3 with the settings kvitt.core.db gives the application's connections."""

    def __init__(self, url: str) -> None:
        self.connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
            self.connection.execute(f"PRAGMA {pragma}")

    def insert(self, tables: dict[str, list[tuple[Any, ...]]]) -> None:
        """One transaction: executemany per table."""
        self.connection.execute("BEGIN IMMEDIATE")
        for table, rows in tables.items():
            if rows:
                names = columns_of(table)
                marks = ", ".join("?" for _ in names)
                self.connection.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


class RawPostgresql:
    """psycopg, one COPY per table."""

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(url)

    def insert(self, tables: dict[str, list[tuple[Any, ...]]]) -> None:
        """One transaction: COPY per table."""
        with self.connection.transaction(), self.connection.cursor() as cursor:
            for table, rows in tables.items():
                if not rows:
                    continue
                statement = f"COPY {table} ({', '.join(columns_of(table))}) FROM STDIN"
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row])

    def close(self) -> None:
        self.connection.close()


def run_baseline(
    engine: str, written: dict[str, list[tuple[Any, ...]]], fixed: dict[str, list[tuple[Any, ...]]], batches: int
) -> Measure:
    how = "raw: executemany" if engine == "sqlite" else "raw: COPY"
    with fresh_database(engine, "kvitt_bench_raw") as url:
        raw = RawSqlite(url) if engine == "sqlite" else RawPostgresql(url)
        try:
            raw.insert(fixed)
            chunks = split_into_batches(written, batches)
            started, cpu_started = time.perf_counter(), time.process_time()
            for chunk in chunks:
                raw.insert(chunk)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        finally:
            raw.close()
    rows = {table: len(r) for table, r in written.items()}
    return Measure(engine, how, len(written["invoices"]), seconds, cpu, rows=rows)


# --- running and reporting -----------------------------------------------------------------------


def bench_engine(engine: str, n: int, batch: int, profile: str | None) -> list[Measure]:
    measures = []
    for path in ("batch", "drafts"):
        with fresh_database(engine, "kvitt_bench") as url:
            db = Database(url)
            try:
                tenant_id, customer_ids, item_ids = set_up(db)
                t0 = time.perf_counter()
                inputs = build_inputs(n, customer_ids, item_ids)
                build = time.perf_counter() - t0
                with profiling(profile if path == "batch" else None, engine):
                    service = run_service(engine, db, tenant_id, inputs, batch, path)
                service.phases["(pydantic inputs, untimed)"] = build
                fixed = snapshot(db, FIXED_TABLES)
                written = snapshot(db, WRITTEN_TABLES)
                service.rows = {table: len(rows) for table, rows in written.items()}
                with db.transaction() as session:
                    # A fast wrong answer is worth nothing: the ledger must balance and agree.
                    assert ledger.unbalanced_entries(session, tenant_id) == []
                    balances = ledger.account_balances(session, tenant_id)
                    assert balances["1510"] == session.scalar(select(func.sum(Invoice.remaining)))
            finally:
                db.dispose()
        measures.append(service)
        if path == "batch":
            baseline = run_baseline(engine, written, fixed, batches=-(-n // batch))
    return [*measures, baseline]


@contextlib.contextmanager
def profiling(kind: str | None, engine: str) -> Iterator[None]:
    out = Path(__file__).parent / "out"
    if kind is None:
        yield
        return
    out.mkdir(exist_ok=True)
    if kind == "pyinstrument":
        from pyinstrument import Profiler  # optional: pip install pyinstrument

        profiler = Profiler(interval=0.0005)
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()
            path = out / f"profile-{engine}.html"
            path.write_text(profiler.output_html())
            print(profiler.output_text(unicode=True, color=False, show_all=False, short_mode=False)[:20000])
            console.print(f"[dim]profile written to {path}[/dim]")
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        path = out / f"profile-{engine}.prof"
        profile.dump_stats(path)
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
        print(text.getvalue())
        console.print(f"[dim]profile written to {path}[/dim]")


def _per_invoice(seconds: float, invoices: int) -> str:
    return f"{seconds / invoices * 1e6:,.0f} µs/invoice"


def report_rows(measures: list[Measure]) -> list[tuple[str, str, str, str]]:
    rows = []
    for engine in dict.fromkeys(m.engine for m in measures):
        *services, baseline = (m for m in measures if m.engine == engine)
        for number, service in enumerate(services):
            headline = engine == "postgresql" and number == 0  # the goal is the batch path's
            goal = f">= {GOAL_PG:,}/s" if headline else "-"
            verdict = "" if not headline else (" (met)" if service.rate >= GOAL_PG else " (not met)")
            ratio = f"{service.rate / baseline.rate:.2f}"
            rows.append((f"{engine}: {service.what}", goal, f"{service.rate:,.0f} invoices/s{verdict}", ratio))
            for phase, seconds in service.phases.items():
                rows.append((f"  {phase}", "", f"{seconds:.2f} s, {_per_invoice(seconds, service.invoices)}", ""))
            rows.append(("  client CPU (this process)", "", _per_invoice(service.cpu_seconds, service.invoices), ""))
        rows.append((f"{engine}: {baseline.what}", "", f"{baseline.rate:,.0f} invoices/s", "1.00"))
        rows.append(("  client CPU (this process)", "", _per_invoice(baseline.cpu_seconds, baseline.invoices), ""))
    return rows


def report(measures: list[Measure], markdown: bool) -> None:
    rows = report_rows(measures)
    table = Table("figure", "goal", "measured", "ratio to raw", title="create and issue invoices (3 lines each)")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print("rows written per run: " + ", ".join(f"{t} {c:,}" for t, c in measures[0].rows.items()))
    # Other work on the machine shows in wall-clock figures: say how busy it was.
    console.print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if markdown:
        print("| figure | goal | measured | ratio to raw |\n| --- | --- | --- | --- |")
        for row in rows:
            cells = [row[0].replace("  ", "↳ ", 1) if row[0].startswith("  ") else row[0], *row[1:]]
            print("| " + " | ".join(cell or " " for cell in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000, help="invoices to create and issue")
    parser.add_argument("--batch", type=int, default=1000, help="invoices per transaction")
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--profile", choices=("cprofile", "pyinstrument"), help="profile the service run")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()
    measures: list[Measure] = []
    for engine in args.engines.split(","):
        console.print(f"[bold]{engine}[/bold]: {args.n:,} invoices in batches of {args.batch:,} ...")
        measures += bench_engine(engine.strip(), args.n, args.batch, args.profile)
    report(measures, args.markdown)


if __name__ == "__main__":
    main()
