"""Import an N-line canonical billing file (3 lines an invoice, one new customer an invoice).

Prints, per engine: lines/s and invoices/s of the whole import (check pass + apply pass, one
transaction, invoices issued), the peak RSS of the process, and the ratio to baselines measured
in the same run on the same file: a plain ``csv.reader`` pass (reading the bytes at all) and the
codec alone (``billing_file.read``: parsing and checking every row without a database).

Memory: ``--memory`` also runs the codec's check pass alone in fresh subprocesses over files of
growing size (default 100k, 1M and 3M lines, the last ~330 MB) and prints each one's peak RSS:
flat figures mean memory does not grow with the file (the file is streamed from disk).

    .venv/bin/python bench/billing_file.py --lines 1000000 --engines postgresql
    .venv/bin/python bench/billing_file.py --lines 100000 --engines sqlite
    .venv/bin/python bench/billing_file.py --memory --lines 0

PostgreSQL is expected on localhost:5432 (user postgres, trust); the script creates and drops
``kvitt_bench_billing_file``. Files go to a temporary folder, removed afterwards.
"""

from __future__ import annotations

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from kvitt.billing_files import service
from kvitt.core.db import Database
from kvitt.formats import billing_file as codec
from kvitt.invoices.models import Invoice
from kvitt.migrations import upgrade
from kvitt.tenants import service as tenants
from kvitt.tenants.schemas import TenantCreate

PG_SERVER = "postgresql://postgres@localhost:5432"
PG_NAME = "kvitt_bench_billing_file"
TODAY = date(2026, 11, 30)
LINES_PER_INVOICE = 3
console = Console(width=140)


def write_file(path: Path, lines: int) -> int:
    """A canonical file of ``lines`` rows, streamed to disk; returns its size in bytes."""
    products = [
        ("MOB-FRI", "Mobilabonnemang Fri", "316.00", "25"),
        ("SURF-5", "Extra surf 5 GB", "49.00", "25"),
        ("TIDN", "Tidning digital", "89.50", "6"),
    ]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(codec.FIELDS) + "\n")
        for index in range(lines):
            invoice, position = divmod(index, LINES_PER_INVOICE)
            item_no, text, price, rate = products[position % len(products)]
            if position == 0:
                customer = (
                    f"C{invoice:08d}",
                    f"Kund {invoice}",
                    f"kund{invoice}@example.se",
                    "",
                    "",
                    "Storgatan 1",
                    "11122",
                    "Stockholm",
                    "email",
                )
                dates = ("2026-11-30", "2026-12-30")
                info = f"Surf: {invoice % 20} GB av 20 GB | Bindningstid till: 2027-03-31"
            else:
                customer = (f"C{invoice:08d}", "", "", "", "", "", "", "", "")
                dates = ("", "")
                info = ""
            out.write(",".join((*customer, f"F-{invoice:08d}", *dates, item_no, text, "1", price, rate, info)) + "\n")
    return path.stat().st_size


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(work: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def csv_pass(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def codec_pass(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        for result in codec.read(handle):
            if isinstance(result, codec.BillingFileError):
                raise result
            count += len(result.lines)
    return count


def database(engine: str, folder: Path) -> str:
    if engine == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {PG_NAME}")
        connection.execute(f"CREATE DATABASE {PG_NAME}")
    return f"{PG_SERVER}/{PG_NAME}"


def drop(engine: str) -> None:
    if engine == "postgresql":
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {PG_NAME}")


def run_import(engine: str, path: Path, folder: Path) -> tuple[float, int, float]:
    url = database(engine, folder)
    try:
        upgrade(url)
        db = Database(url)
        with db.transaction() as session:
            tenant, _ = tenants.create(
                session, TenantCreate(name="Norrsken Telekom AB", org_number="556036-0793", bankgiro="5050-1055")
            )
        start = time.perf_counter()
        with db.transaction() as session:
            tenant = session.merge(tenant)
            outcome = service.import_billing_file(
                session,
                tenant,
                path,
                options=service.Options(issue=True),
                filename=path.name,
                source="cli",
                today=TODAY,
                actor="bench",
            )
            invoices = outcome.file.invoices
        seconds = time.perf_counter() - start
        with db.transaction() as session:
            stored = session.scalar(select(func.count(Invoice.id)).where(Invoice.state == "unpaid"))
            assert stored == invoices, (stored, invoices)
        db.dispose()
        return seconds, invoices, peak_rss_mb()
    finally:
        drop(engine)


def memory_child(lines: int) -> None:
    """Run in a fresh process: write a file, then check it with the codec; print peak RSS (MB)."""
    with tempfile.TemporaryDirectory(prefix="kvitt-bench-") as folder:
        path = Path(folder) / "billing.csv"
        size = write_file(path, lines)
        before = peak_rss_mb()
        seconds, count = timed(lambda: codec_pass(path))
        print(f"{lines} {size} {count} {seconds:.3f} {before:.1f} {peak_rss_mb():.1f}")


def memory_table(sizes: list[int]) -> None:
    table = Table(
        "lines",
        "file MB",
        "check pass s",
        "lines/s",
        "peak RSS MB (before → after check)",
        title="check pass alone, a fresh process per size",
    )
    for lines in sizes:
        output = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(lines)], check=True, capture_output=True, text=True
        ).stdout.split()
        _, size, count, seconds, before, after = output
        table.add_row(
            f"{lines:,}",
            f"{int(size) / 1e6:,.0f}",
            seconds,
            f"{int(count) / float(seconds):,.0f}",
            f"{before} → {after}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--memory", action="store_true", help="also the check pass alone at growing sizes")
    parser.add_argument("--memory-sizes", default="100000,1000000,3000000")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return
    if args.memory:
        memory_table([int(n) for n in args.memory_sizes.split(",")])
    if not args.lines:
        return
    with tempfile.TemporaryDirectory(prefix="kvitt-bench-") as name:
        folder = Path(name)
        path = folder / "billing.csv"
        size = write_file(path, args.lines)
        csv_seconds, rows = timed(lambda: csv_pass(path))
        codec_seconds, checked = timed(lambda: codec_pass(path))
        assert rows == checked == args.lines, (rows, checked)
        table = Table(
            "engine",
            "lines",
            "invoices",
            "import s",
            "lines/s",
            "invoices/s",
            "peak RSS MB",
            "× csv.reader pass",
            "× codec pass",
            title=f"billing file: {args.lines:,} lines, {size / 1e6:,.0f} MB, 3 lines an invoice, issued",
        )
        table.add_row(
            "(csv.reader)", f"{rows:,}", "", f"{csv_seconds:.1f}", f"{rows / csv_seconds:,.0f}", "", "", "1.0", ""
        )
        table.add_row(
            "(codec only)",
            f"{checked:,}",
            "",
            f"{codec_seconds:.1f}",
            f"{checked / codec_seconds:,.0f}",
            "",
            f"{peak_rss_mb():.0f}",
            f"{codec_seconds / csv_seconds:.1f}",
            "1.0",
        )
        for engine in args.engines.split(","):
            seconds, invoices, rss = run_import(engine, path, folder)
            table.add_row(
                engine,
                f"{args.lines:,}",
                f"{invoices:,}",
                f"{seconds:.1f}",
                f"{args.lines / seconds:,.0f}",
                f"{invoices / seconds:,.0f}",
                f"{rss:.0f}",
                f"{seconds / csv_seconds:.1f}",
                f"{seconds / codec_seconds:.1f}",
            )
        console.print(table)


if __name__ == "__main__":
    main()
