"""Import and match a BGMax file that pays N open invoices, on PostgreSQL (or SQLite).

The issue's goal: 1,000,000 open invoices and a BGMax file paying them (95 % exact, 2 % partial,
1 % over, 2 % wrong or missing OCR), imported and matched on PostgreSQL in <= 30 s on this
2-core machine, with memory bounded (the file streamed).

Not timed (setup): a fresh database, a tenant with bankgiro 5050-1055, one customer per invoice
(the shape of a monthly billing run), N real invoices issued through ``invoices.create_and_issue``
in batches (each with its ledger entry on 1510), VACUUM ANALYZE and a CHECKPOINT so that the
import does not pay for the setup's dirty pages, then the BGMax file written with
``formats.bgmax.write`` (deposits of ``--deposit-size`` payments) into a temporary file.

Setting up 1,000,000 takes 5.5-7 minutes here (create_and_issue at 2,700-4,000 invoices/s).

Timed: what ``kvitt import bgmax`` does: read the file, ``payments.imports.import_bgmax`` in one
``Database.transaction()`` (a validating pass over the whole file, then booking and matching in
batches), and the commit. It runs in a fresh child process, so that its peak RSS (``VmHWM``,
reset at the child's start, see ``_reset_peak_rss``) is the import's own, not the setup's. The
steps of the import are timed by wrapping the functions it calls (``_instrument``); a step whose
batches slow down as the import goes on is flagged, and weighs quadratically in the
extrapolation to 1,000,000 when fewer are run.

Baselines, same run, same database:
- parse + validate: ``bgmax.validate`` over the same file (one pass; the import makes two);
- raw write: the very rows the import wrote (payments, allocations, deviations, journal entries
  and lines, invoice events, outbox rows; dumped after the import, untimed) loaded with ``COPY``
  into fresh tables with the same columns, indexes, constraints and foreign keys, plus the
  invoices' new ``paid``/``remaining``/``state`` through ``COPY`` into a temporary table and one
  ``UPDATE ... FROM``, in one transaction (after VACUUM ANALYZE of the invoices and a CHECKPOINT,
  as before the import). On SQLite: ``executemany`` and ``UPDATE ... FROM``.

After the import the ledger must balance, 1510 must equal the invoices' ``remaining``, and the
invoices' states, the deviations and the file's counts must be what the mix says.

    .venv/bin/python bench/bgmax_match.py                         # 1,000,000 on PostgreSQL
    .venv/bin/python bench/bgmax_match.py --n 100000 --markdown
    .venv/bin/python bench/bgmax_match.py --n 50000 --profile pyinstrument   # bench/out/profile-bgmax.*
    .venv/bin/python bench/bgmax_match.py --n 5000 --engine sqlite
    .venv/bin/python bench/bgmax_match.py --n 100000 --prototype any-array --prototype bulk-update

``--prototype`` patches a proposed change to src/ into the import's process only (see
``PROTOTYPES``), to measure it before anyone writes it; ``--import-batch`` sets
``payments.imports.BATCH``. The table names them in its first row.

PostgreSQL is expected on localhost:5432, user postgres, trust authentication; the script
creates ``kvitt_bench_bgmax`` and drops it afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import gc
import io
import itertools
import multiprocessing
import os
import pstats
import random
import re
import resource
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from kvitt.core.db import Database, bulk_insert, is_postgresql, reserve_ids
from kvitt.customers.models import Customer
from kvitt.customers.schemas import CustomerCreate
from kvitt.formats import bgmax
from kvitt.formats.ocr import make_reference
from kvitt.invoices import service as invoices
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.ledger import service as ledger
from kvitt.migrations import upgrade
from kvitt.payments.models import Deviation, PaymentFile
from kvitt.tenants import service as tenants
from kvitt.tenants.models import Tenant
from kvitt.tenants.schemas import TenantCreate

GOAL_SECONDS = 30.0
GOAL_N = 1_000_000
PG_SERVER = "postgresql://postgres@localhost:5432"
DB_NAME = "kvitt_bench_bgmax"
BANKGIRO = "5050-1055"
TODAY = date(2026, 11, 25)  # the invoices' date; due 30 days later
PAID_ON = TODAY + timedelta(days=10)  # the deposits' date and the import's "today": nothing overdue
OVERPAY = 10000  # öre: 100 kr too much
# The payment mix of the issue. "wrong" is a valid-looking OCR that is not ours; "missing" has
# reference code 0 or 1 and no reference.
MIX = (("exact", 0.95), ("partial", 0.02), ("over", 0.01), ("wrong", 0.01), ("missing", 0.01))
# What the import writes (beside one payment_files row and the invoices it updates).
WRITTEN = (
    "payments",
    "payment_allocations",
    "payment_deviations",
    "journal_entries",
    "journal_lines",
    "invoice_events",
    "outbox_jobs",
)

console = Console(width=160)


# --- databases -----------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(engine: str) -> Iterator[str]:
    """A new, migrated, empty database; removed afterwards."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="kvitt-bench-bgmax-") as directory:
            url = f"sqlite:///{directory}/{DB_NAME}.db"
            upgrade(url)
            yield url
        return
    _pg_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    url = f"{PG_SERVER}/{DB_NAME}"
    try:
        upgrade(url)
        yield url
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def _pg_admin(*statements: str, database: str = "postgres") -> None:
    with psycopg.connect(f"{PG_SERVER}/{database}", autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


# --- setup (not timed) ---------------------------------------------------------------------------


def set_up(db: Database, url: str, n: int, batch: int) -> int:
    """A tenant, n customers and n issued invoices (one each); returns the tenant id."""
    started = time.perf_counter()
    with db.transaction() as session:
        tenant, _ = tenants.create(
            session,
            TenantCreate(name="Bänk Energi AB", org_number="559274-3180", bankgiro=BANKGIRO, invoice_fee=0),
        )
        tenant_id = tenant.id
        delivery = tenant.default_delivery
    # Customers are setup data, not what is measured: the row customers.create builds (the
    # schema's dump, the tenant's default delivery), written in bulk instead of one by one.
    template = CustomerCreate(
        customer_no="0", name="Kund", address_line1="Storgatan 1", postal_code="972 31", city="Luleå"
    ).model_dump()
    customer_ids: list[int] = []
    for start in range(0, n, 50_000):
        count = min(50_000, n - start)
        with db.transaction() as session:
            ids = reserve_ids(session, Customer, count)
            rows = [
                {
                    **template,
                    "id": cid,
                    "tenant_id": tenant_id,
                    "customer_no": str(100000 + start + i),
                    "name": f"Kund {start + i}",
                    "email": f"kund{start + i}@example.com",
                    "delivery_method": delivery,
                }
                for i, cid in enumerate(ids)
            ]
            bulk_insert(session, Customer, rows)
        customer_ids += ids
    console.print(f"  {n:,} customers in {time.perf_counter() - started:.1f} s")
    rng = random.Random(1)
    started = time.perf_counter()
    batches = -(-n // batch)
    every = max(1, batches // 20)
    for number, start in enumerate(range(0, n, batch), start=1):
        inputs = [
            InvoiceCreate(
                customer=customer_ids[i],
                invoice_date=TODAY,
                payment_terms_days=30,
                lines=[
                    LineIn(description="Elnät och elhandel, november", unit_price=rng.randint(7900, 99900), vat_rate=25)
                ],
            )
            for i in range(start, min(n, start + batch))
        ]
        with db.transaction() as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            invoices.create_and_issue(session, tenant, inputs, today=TODAY, actor="bench")
        if number % every == 0 or number == batches:
            done = min(n, start + batch)
            seconds = time.perf_counter() - started
            eta = seconds / done * (n - done)
            console.print(f"  issued {done:,} / {n:,} invoices, {done / seconds:,.0f}/s, {eta:,.0f} s to go")
    if url.startswith("postgresql"):
        # A production database has been vacuumed and analysed; and the import should not pay
        # for writing out the setup's dirty buffers.
        _pg_admin("VACUUM ANALYZE", "CHECKPOINT", database=DB_NAME)
    else:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    return tenant_id


@dataclass
class BgmaxOut:
    path: Path
    size: int
    payments: int
    deposits: int
    counts: dict[str, int]
    amounts: dict[str, int]  # öre paid per kind
    shortfall: dict[str, int]  # öre left open per kind


def write_file(db: Database, tenant_id: int, deposit_size: int, directory: str) -> BgmaxOut:
    """The BGMax file paying the tenant's invoices in the mix, in deposits of deposit_size."""
    rng = random.Random(2)
    kinds = [kind for kind, _ in MIX]
    weights = [share for _, share in MIX]
    counts = dict.fromkeys(kinds, 0)
    amounts = dict.fromkeys(kinds, 0)
    shortfall = dict.fromkeys(kinds, 0)
    deposits: list[bgmax.BgmaxDeposit] = []
    current: list[bgmax.BgmaxPayment] = []

    def close() -> None:
        deposits.append(
            bgmax.BgmaxDeposit(
                payee_bankgiro=BANKGIRO.replace("-", "").zfill(10),
                payee_plusgiro=None,
                currency="SEK",
                payments=tuple(current),
                account="000000000000000000000012345",
                date=PAID_ON,
                deposit_serial=f"{len(deposits) + 1:05d}",
                amount=sum(p.amount for p in current),
                count=len(current),
            )
        )
        current.clear()

    query = (
        select(Invoice.ocr, Invoice.total, Invoice.customer_id)
        .where(Invoice.tenant_id == tenant_id, Invoice.kind == "invoice")
        .order_by(Invoice.id)
        .execution_options(yield_per=20_000)  # streamed (a server-side cursor on PostgreSQL)
    )
    with db.transaction() as session:
        for serial, (ocr, total, customer_id) in enumerate(session.execute(query), start=1):
            kind = rng.choices(kinds, weights)[0]
            reference, code, amount = ocr or "", 2, total
            if kind == "partial":
                amount = total // 2
            elif kind == "over":
                amount = total + OVERPAY
            elif kind == "wrong":
                reference = make_reference(10**9 + serial)  # 12 digits, Luhn-valid; ours are shorter
            elif kind == "missing":
                reference, code = "", rng.choice((0, 1))
            counts[kind] += 1
            amounts[kind] += amount
            shortfall[kind] += max(0, total - amount) if kind in ("exact", "partial", "over") else total
            current.append(
                bgmax.BgmaxPayment(
                    kind=bgmax.PAYMENT,
                    payer_bankgiro="0000000000",
                    reference=reference,
                    amount=amount,
                    reference_code=code,
                    channel=1,
                    bgc_serial=f"{serial:012d}",
                    has_image=False,
                    payer_name=f"Kund {customer_id}",
                )
            )
            if len(current) >= deposit_size:
                close()
    if current:
        close()
    data = bgmax.write(bgmax.file_of(datetime(2026, 12, 5, 6, 30), deposits))
    path = Path(directory) / "bench.bgmax"
    path.write_bytes(data)
    return BgmaxOut(path, len(data), sum(counts.values()), len(deposits), counts, amounts, shortfall)


# --- the timed import (in a fresh child process) --------------------------------------------------


class Phases:
    """Exclusive wall-clock time per wrapped function (nested calls are charged to the inner one),
    and a snapshot of the totals as each batch starts, to see whether batches get slower."""

    def __init__(self, root: str, batch_label: str) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.snapshots: list[dict[str, float]] = []
        self.batch_label = batch_label
        self.stack = [root]
        self.mark = time.perf_counter()

    def switch(self) -> None:
        now = time.perf_counter()
        self.seconds[self.stack[-1]] += now - self.mark
        self.mark = now

    def root(self, label: str, *, restart: bool = False) -> None:
        """Charge what ran so far, then charge to ``label`` what runs outside wrapped calls."""
        if restart:
            self.seconds.clear()
            self.calls.clear()
            self.snapshots.clear()
            self.mark = time.perf_counter()
        else:
            self.switch()
        self.stack = [label]

    def snapshot(self) -> None:
        self.switch()
        self.snapshots.append(dict(self.seconds))

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if label == self.batch_label:
                self.snapshot()
            self.switch()
            self.stack.append(label)
            self.calls[label] += 1
            try:
                return function(*args, **kwargs)
            finally:
                self.switch()
                self.stack.pop()

        return timed


def per_batch(snapshots: list[dict[str, float]]) -> dict[str, list[float]]:
    """Each step's time in each batch (from one batch's start to the next's)."""
    series: dict[str, list[float]] = defaultdict(list)
    for before, after in itertools.pairwise(snapshots):
        for label in after:
            series[label].append(after[label] - before.get(label, 0.0))
    return dict(series)


def growth(series: list[float]) -> float | None:
    """The mean of the last tenth of the batches over that of the first tenth: about 1 for work
    proportional to the batch, more when batches slow down as the tables grow in the transaction."""
    tenth = len(series) // 10
    if tenth < 1:
        return None
    early, late = sum(series[:tenth]) / tenth, sum(series[-tenth:]) / tenth
    return late / early if early > 1e-4 else None


RECEIVE = "receive: plans, rows (Python)"


def _instrument(phases: Phases) -> None:
    """Wrap the steps of import_bgmax where they are looked up (module attributes, at call time)."""
    import kvitt.invoices.service as invoice_service
    import kvitt.invoices.settlement as settlement
    import kvitt.ledger.service as ledger_service
    import kvitt.payments.imports as imports
    import kvitt.payments.service as payment_service

    patches: list[tuple[Any, str, str]] = [
        (imports, "content_hash", "content hash (SHA-256 of the file)"),
        (imports, "_validate", "pass 1: validate the whole file"),
        (imports, "receive", RECEIVE),
        (payment_service, "_without_duplicates", "receive: duplicate check (bank_key IN)"),
        (payment_service, "reserve_ids", "receive: reserve payment ids"),
        (invoice_service, "by_ocr", "receive: load invoices by OCR (ORM, FOR UPDATE)"),
        (invoice_service, "open_for_customers", "receive: customers' open invoices (surplus)"),
        (payment_service, "bulk_insert", "receive: COPY payments, allocations, deviations"),
        (ledger_service, "post", "receive: ledger.post (COPY entries + lines)"),
        (invoice_service, "apply_payments", "receive: apply_payments (ORM attributes, events)"),
        (settlement, "_update_amounts", "receive: UPDATE invoices FROM unnest (one per batch)"),
        (settlement, "record", "receive: timeline + outbox (COPY)"),
        (payment_service, "record", "receive: timeline + outbox (COPY)"),
    ]
    for module, name, label in patches:
        setattr(module, name, phases.wrap(label, getattr(module, name)))
    # This process only imports: the flushes are apply_payments' UPDATE of the invoices (and one
    # INSERT of the payment_files row).
    Session.flush = phases.wrap("receive: ORM flush (UPDATE invoices)", Session.flush)  # type: ignore[method-assign]


# Prototypes of proposed changes to src/, applied in the import's process only (--prototype).
# The four measured here on 2026-11-25 (any-array, lazy-lines, bulk-update, fast-defaults) are in
# src/ now (core.db.any_of, imports streaming the open file, settlement._write_amounts,
# core.db._DEFAULTED); git history has their patches. New ones go here.
PROTOTYPES: dict[str, str] = {}


def _apply_prototypes(prototypes: list[str], batch: int | None) -> None:
    import kvitt.payments.imports as imports

    if batch is not None:
        imports.BATCH = batch  # read by _batches at call time


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> float:
    """Start measuring the peak from now; returns the current RSS (MB).

    ``getrusage``'s ``ru_maxrss`` alone would not do in a spawned child: Linux keeps it across
    ``execve``, so it starts at the parent's RSS when it forked (the setup's, here). Writing 5 to
    ``/proc/self/clear_refs`` resets the process's high-water mark (``VmHWM``) to its current RSS.
    """
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return _status_mb("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_mb() -> float:
    """The high-water mark since ``_reset_peak_rss`` (getrusage's where /proc is missing)."""
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _server_cpu(pid: int | None) -> float | None:
    """CPU seconds of a PostgreSQL backend (it runs on this machine), or None if unreadable."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wal_lsn(session: Session) -> int | None:
    if not is_postgresql(session):
        return None
    return int(session.scalar(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")))


@dataclass
class ImportRun:
    seconds: float
    cpu_seconds: float
    server_cpu_seconds: float | None
    wal_bytes: int | None
    rss_before_mb: float
    rss_peak_mb: float
    phases: dict[str, float]
    calls: dict[str, int]
    snapshots: list[dict[str, float]]  # the totals as each batch started, and at the end
    file: dict[str, int]
    prototypes: tuple[str, ...]
    batch: int
    profile_text: str = ""


def timed_import(
    url: str, tenant_id: int, path: str, profile: str | None, prototypes: list[str], batch: int | None
) -> ImportRun:
    """What ``kvitt import bgmax`` does, timed; run in a fresh process (see run_in_child)."""
    import kvitt.payments.imports as imports

    _apply_prototypes(prototypes, batch)
    db = Database(url)
    phases = Phases("not timed", batch_label=RECEIVE)
    _instrument(phases)
    with db.transaction() as session:  # connect and warm the pool before the clock
        session.execute(text("SELECT 1"))
    gc.collect()
    rss_before = _reset_peak_rss()
    profiler: Any = None
    if profile == "cprofile":
        profiler = cProfile.Profile()
        profiler.enable()
    elif profile == "pyinstrument":
        from pyinstrument import Profiler  # optional: pip install pyinstrument (not a dependency)

        profiler = Profiler(interval=0.001)
        profiler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    phases.root("read the file", restart=True)
    # As the CLI does: import_bgmax takes the open file and reads it line by line (twice).
    data = open(path, "rb")  # noqa: SIM115 - closed after the import
    phases.root("other (tenant, counters)")
    with data, db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        pid = int(session.scalar(text("SELECT pg_backend_pid()"))) if is_postgresql(session) else None
        server_cpu_started, wal_started = _server_cpu(pid), _wal_lsn(session)
        phases.root("pass 2: parse deposits, build Incoming (Python)")
        outcome = imports.import_bgmax(
            session, tenant, data, filename="bench.bgmax", source="cli", today=PAID_ON, actor="bench"
        )
        phases.snapshot()
        phases.root("commit")
        file = outcome.file
        summary = {
            "id": file.id,
            "deposits": file.deposits,
            "payments": file.payments,
            "duplicates": file.duplicates,
            "amount": file.amount,
            "matched": file.matched,
            "deviations": file.deviations,
        }
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    phases.switch()
    if profile == "cprofile":
        profiler.disable()
    elif profile == "pyinstrument":
        profiler.stop()
    profile_text = ""
    if profiler is not None:
        out = Path(__file__).parent / "out"
        out.mkdir(exist_ok=True)
        if profile == "cprofile":
            profiler.dump_stats(out / "profile-bgmax.prof")
            for sort in ("tottime", "cumulative"):
                buffer = io.StringIO()
                pstats.Stats(profiler, stream=buffer).sort_stats(sort).print_stats(35)
                profile_text += buffer.getvalue()
        else:
            (out / "profile-bgmax.html").write_text(profiler.output_html())
            profile_text = profiler.output_text(unicode=True, color=False, show_all=False)[:30000]
    server_cpu = None
    wal = None
    with db.transaction() as session:
        after = _server_cpu(pid)
        if after is not None and server_cpu_started is not None:
            server_cpu = after - server_cpu_started
        wal_after = _wal_lsn(session)
        if wal_after is not None and wal_started is not None:
            wal = wal_after - wal_started
    db.dispose()
    return ImportRun(
        seconds=seconds,
        cpu_seconds=cpu,
        server_cpu_seconds=server_cpu,
        wal_bytes=wal,
        rss_before_mb=rss_before,
        rss_peak_mb=_peak_rss_mb(),
        phases=dict(phases.seconds),
        calls=dict(phases.calls),
        snapshots=phases.snapshots,
        file=summary,
        prototypes=tuple(prototypes),
        batch=imports.BATCH,
        profile_text=profile_text,
    )


@dataclass
class ParseRun:
    seconds: float
    rss_before_mb: float
    rss_peak_mb: float


def timed_parse(path: str) -> ParseRun:
    """The parse + validate baseline: read the file and run bgmax.validate once, as pass 1 does."""
    gc.collect()
    rss_before = _reset_peak_rss()
    started = time.perf_counter()
    with open(path, "rb") as data:
        header, deposits, payments = bgmax.validate(data)
    seconds = time.perf_counter() - started
    assert payments > 0 and deposits > 0 and header is not None
    return ParseRun(seconds, rss_before, _peak_rss_mb())


def run_in_child(function: Callable[..., Any], *args: Any) -> Any:
    """Run in a fresh (spawned) interpreter, so its peak memory is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


# --- the raw-write baseline ----------------------------------------------------------------------


@dataclass
class RawRun:
    seconds: float
    rows: dict[str, int]
    updated_invoices: int
    per_table: dict[str, float]
    server_cpu_seconds: float | None = None
    wal_bytes: int | None = None


UPDATE_INVOICES = (
    "UPDATE invoices SET paid = c.paid, remaining = c.remaining, state = c.state, updated_at = c.updated_at "
    "FROM raw_invoice_changes c WHERE invoices.id = c.id"
)


def max_ids(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        return {t: int(session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {t}")) or 0) for t in WRITTEN}


def _changed_invoices_query(before: dict[str, int]) -> str:
    return (
        "SELECT id, paid, remaining, state, updated_at FROM invoices WHERE id IN "
        f"(SELECT invoice_id FROM payment_allocations WHERE id > {before['payment_allocations']})"
    )


def raw_baseline_postgresql(url: str, before: dict[str, int], directory: str) -> RawRun:
    """COPY the rows the import wrote into fresh look-alike tables, and UPDATE the invoices."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    files: dict[str, Path] = {}
    rows: dict[str, int] = {}
    with psycopg.connect(dsn, autocommit=True) as connection, connection.cursor() as cursor:
        # Untimed: dump the rows (text COPY format) and build the look-alike tables.
        sources = {t: f"SELECT * FROM {t} WHERE id > {before[t]} ORDER BY id" for t in WRITTEN}
        sources["invoices"] = _changed_invoices_query(before)
        for table, query in sources.items():
            files[table] = Path(directory) / f"raw-{table}.copy"
            with files[table].open("wb") as out, cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
                for block in copy:
                    out.write(block)
            rows[table] = int(cursor.execute(f"SELECT count(*) FROM ({query}) q").fetchone()[0])  # type: ignore[index]
        for table in WRITTEN:
            cursor.execute(f"DROP TABLE IF EXISTS raw_{table}")
            cursor.execute(f"CREATE TABLE raw_{table} (LIKE {table} INCLUDING ALL)")
            constraints = cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'f'",
                (table,),
            ).fetchall()
            for name, definition in constraints:
                # The same foreign keys, to the real tables: the ids are the same, so they hold.
                cursor.execute(f"ALTER TABLE raw_{table} ADD CONSTRAINT raw_{name[:55]} {definition}")
        cursor.execute("VACUUM ANALYZE invoices")
        cursor.execute("CHECKPOINT")
        pid = int(cursor.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        cpu_started = _server_cpu(pid)
        wal_started = int(cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0])  # type: ignore[index]
        per_table: dict[str, float] = {}
        started = time.perf_counter()
        with connection.transaction():
            for table in WRITTEN:
                table_started = time.perf_counter()
                with files[table].open("rb") as source, cursor.copy(f"COPY raw_{table} FROM STDIN") as copy:
                    while block := source.read(1 << 20):
                        copy.write(block)
                per_table[table] = time.perf_counter() - table_started
            table_started = time.perf_counter()
            cursor.execute(
                "CREATE TEMP TABLE raw_invoice_changes "
                "(id bigint, paid bigint, remaining bigint, state varchar(15), updated_at timestamptz) ON COMMIT DROP"
            )
            with files["invoices"].open("rb") as source, cursor.copy("COPY raw_invoice_changes FROM STDIN") as copy:
                while block := source.read(1 << 20):
                    copy.write(block)
            cursor.execute(UPDATE_INVOICES)
            per_table["invoices (COPY to a temp table + UPDATE ... FROM)"] = time.perf_counter() - table_started
            table_started = time.perf_counter()
        per_table["commit"] = time.perf_counter() - table_started
        seconds = time.perf_counter() - started
        cpu_after = _server_cpu(pid)
        wal = int(cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0]) - wal_started  # type: ignore[index]
        for table in WRITTEN:
            cursor.execute(f"DROP TABLE raw_{table}")
    for path in files.values():
        path.unlink()
    updated = rows.pop("invoices")
    server_cpu = None if cpu_after is None or cpu_started is None else cpu_after - cpu_started
    return RawRun(seconds, rows, updated, per_table, server_cpu, wal)


def raw_baseline_sqlite(url: str, before: dict[str, int]) -> RawRun:
    """executemany the rows the import wrote into look-alike tables, and UPDATE ... FROM the invoices."""
    connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
        connection.execute(f"PRAGMA {pragma}")
    data = {
        t: connection.execute(f"SELECT * FROM {t} WHERE id > ? ORDER BY id", (before[t],)).fetchall() for t in WRITTEN
    }
    changed = connection.execute(_changed_invoices_query(before)).fetchall()
    for table in WRITTEN:
        for (sql,) in connection.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL", (table,)
        ):
            sql = re.sub(rf'^CREATE TABLE "?{table}"?', f"CREATE TABLE raw_{table}", sql)
            sql = re.sub(
                rf'^CREATE (UNIQUE )?INDEX "?(\w+)"? ON "?{table}"?', rf"CREATE \1INDEX raw_\2 ON raw_{table}", sql
            )
            connection.execute(sql)
    per_table: dict[str, float] = {}
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    for table, rows in data.items():
        table_started = time.perf_counter()
        if rows:
            marks = ", ".join("?" for _ in rows[0])
            connection.executemany(f"INSERT INTO raw_{table} VALUES ({marks})", rows)
        per_table[table] = time.perf_counter() - table_started
    table_started = time.perf_counter()
    connection.execute("CREATE TEMP TABLE raw_invoice_changes (id, paid, remaining, state, updated_at)")
    connection.executemany("INSERT INTO raw_invoice_changes VALUES (?, ?, ?, ?, ?)", changed)
    connection.execute(UPDATE_INVOICES)
    per_table["invoices (temp table + UPDATE ... FROM)"] = time.perf_counter() - table_started
    table_started = time.perf_counter()
    connection.execute("COMMIT")
    per_table["commit"] = time.perf_counter() - table_started
    seconds = time.perf_counter() - started
    connection.close()
    return RawRun(seconds, {t: len(r) for t, r in data.items()}, len(changed), per_table)


# --- correctness ---------------------------------------------------------------------------------


def check(db: Database, tenant_id: int, made: BgmaxOut, run: ImportRun) -> list[str]:
    """A fast wrong answer is worth nothing: the ledger, the invoices and the queue must agree."""
    c = made.counts
    problems = []

    def expect(what: str, got: Any, wanted: Any) -> None:
        if got != wanted:
            problems.append(f"{what}: got {got}, expected {wanted}")

    with db.transaction() as session:
        expect("unbalanced entries", ledger.unbalanced_entries(session, tenant_id), [])
        balances = ledger.account_balances(session, tenant_id)
        remaining = int(session.scalar(select(func.sum(Invoice.remaining)).where(Invoice.tenant_id == tenant_id)))
        expect("1510 = sum of invoices' remaining", balances.get("1510"), remaining)
        expect("sum of invoices' remaining", remaining, sum(made.shortfall.values()))
        expect("1930 = money in", balances.get("1930"), sum(made.amounts.values()))
        held = c["over"] * OVERPAY + made.amounts["wrong"] + made.amounts["missing"]
        expect("2420 = overpaid + unidentified", balances.get("2420"), -held)
        states = dict(
            session.execute(
                select(Invoice.state, func.count()).where(Invoice.tenant_id == tenant_id).group_by(Invoice.state)
            ).all()
        )
        expect("paid invoices", states.get("paid", 0), c["exact"] + c["over"])
        expect("partly paid invoices", states.get("partly_paid", 0), c["partial"])
        expect("unpaid invoices", states.get("unpaid", 0), c["wrong"] + c["missing"])
        kinds = dict(
            session.execute(
                select(Deviation.kind, func.count()).where(Deviation.tenant_id == tenant_id).group_by(Deviation.kind)
            ).all()
        )
        expect(
            "deviations",
            kinds,
            {
                k: v
                for k, v in {
                    "overpayment": c["over"],
                    "unknown_reference": c["wrong"],
                    "no_reference": c["missing"],
                }.items()
                if v
            },
        )
        file = session.get(PaymentFile, run.file["id"])
        assert file is not None
        expect("file payments", file.payments, made.payments)
        expect("file deposits", file.deposits, made.deposits)
        expect("file matched", file.matched, c["exact"] + c["partial"])
        expect("file deviations", file.deviations, c["over"] + c["wrong"] + c["missing"])
        expect("file amount", file.amount, sum(made.amounts.values()))
    return problems


# --- reporting -----------------------------------------------------------------------------------


def _us(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:,.1f} µs/payment"


SLOWING = 3.0  # a step whose last tenth of batches takes this many times its first tenth grows with the tables


def extrapolate(run: ImportRun, n: int, target: int) -> float:
    """The import's time for ``target`` payments, from this run of ``n``.

    Each step whose batches slow down markedly (``SLOWING``) gets a least-squares line through
    its time per batch (a + b × batch number), summed over the batches ``target`` makes: it
    grows quadratically. Everything else scales linearly (a fit through the ordinary noise of a
    shared machine would overstate it: the 100,000 run with the prototypes extrapolated that way
    to ~770 s, the 1,000,000 run then took 350 s)."""
    scale = target / n
    series = per_batch(run.snapshots)
    total = run.seconds * scale
    for values in series.values():
        factor = growth(values)
        if factor is None or factor < SLOWING:
            continue
        count = len(values)
        mean_x, mean_y = (count - 1) / 2, sum(values) / count
        spread = sum((i - mean_x) ** 2 for i in range(count))
        slope = max(0.0, sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values)) / spread)
        intercept = mean_y - slope * mean_x
        batches = count * scale
        total += intercept * batches + slope * batches * (batches - 1) / 2 - sum(values) * scale
    return total


def report_rows(
    engine: str, n: int, made: BgmaxOut, run: ImportRun, parse: ParseRun, raw: RawRun
) -> list[tuple[str, str, str, str]]:
    headline = engine == "postgresql"
    floor = parse.seconds + raw.seconds
    rows: list[tuple[str, str, str, str]] = []
    goal = f"<= {GOAL_SECONDS:.0f} s for {GOAL_N:,}" if headline else "-"
    measured = f"{run.seconds:,.1f} s, {n / run.seconds:,.0f} payments/s"
    if headline and n == GOAL_N:
        verdict = "met" if run.seconds <= GOAL_SECONDS else "not met"
        measured += f" ({verdict}: {run.seconds / GOAL_SECONDS:.1f}× the goal)"
    what = f"{engine}: import_bgmax, {n:,} payments, batches of {run.batch:,}"
    if run.prototypes:
        what += f" WITH PROTOTYPE {', '.join(run.prototypes)}"
    rows.append((what, goal, measured, f"{run.seconds / raw.seconds:.1f}"))
    series = per_batch(run.snapshots)
    for phase, seconds in sorted(run.phases.items(), key=lambda item: -item[1]):
        calls = run.calls.get(phase)
        label = f"  {phase}" + (f" ×{calls:,}" if calls and calls > 1 else "")
        trend = ""
        factor = growth(series.get(phase, []))
        if factor is not None and factor >= 1.5:
            trend = f"; batches slow down: last tenth {factor:.1f}× the first"
        rows.append((label, "", f"{seconds:,.2f} s, {_us(seconds, n)}{trend}", ""))
    rows.append(("  client CPU (the import process)", "", f"{run.cpu_seconds:,.1f} s, {_us(run.cpu_seconds, n)}", ""))
    if run.server_cpu_seconds is not None:
        rows.append(("  server CPU (its PostgreSQL backend)", "", f"{run.server_cpu_seconds:,.1f} s", ""))
    if run.wal_bytes is not None:
        rows.append(("  WAL written", "", f"{run.wal_bytes / 2**20:,.0f} MB", ""))
    growth_mb = run.rss_peak_mb - run.rss_before_mb
    rows.append(
        (
            "  peak RSS of the import process",
            "bounded (streamed)",
            f"{run.rss_peak_mb:,.0f} MB ({run.rss_before_mb:,.0f} MB before: +{growth_mb:,.0f} MB"
            f" = {growth_mb * 2**20 / made.size:.1f}× the {made.size / 2**20:,.0f} MB file)",
            "",
        )
    )
    if headline and n != GOAL_N:
        scaled = extrapolate(run, n, GOAL_N)
        linear = run.seconds * GOAL_N / n
        rows.append(
            (
                f"{engine}: EXTRAPOLATED to {GOAL_N:,} (not measured)",
                f"<= {GOAL_SECONDS:.0f} s",
                f"~{scaled:,.0f} s ({scaled / GOAL_SECONDS:.0f}× the goal)"
                + (f"; ~{linear:,.0f} s if every step were linear" if abs(scaled - linear) > 1 else " (linear)"),
                "",
            )
        )
    rows.append(
        (
            f"{engine}: baseline: parse + validate the file once",
            "",
            f"{parse.seconds:,.2f} s, {_us(parse.seconds, n)}; peak RSS {parse.rss_peak_mb:,.0f} MB",
            f"{parse.seconds / raw.seconds:.2f}",
        )
    )
    how = "COPY" if engine == "postgresql" else "executemany"
    rows.append(
        (
            f"{engine}: baseline: raw {how} of the same {sum(raw.rows.values()):,} rows"
            f" + UPDATE ... FROM of {raw.updated_invoices:,} invoices",
            "",
            f"{raw.seconds:,.2f} s, {_us(raw.seconds, n)}",
            "1.00",
        )
    )
    for table, seconds in raw.per_table.items():
        count = raw.rows.get(table)
        rows.append((f"  {table}" + (f" ({count:,} rows)" if count is not None else ""), "", f"{seconds:,.2f} s", ""))
    if raw.server_cpu_seconds is not None:
        rows.append(("  server CPU (its PostgreSQL backend)", "", f"{raw.server_cpu_seconds:,.1f} s", ""))
    if raw.wal_bytes is not None:
        rows.append(("  WAL written", "", f"{raw.wal_bytes / 2**20:,.0f} MB", ""))
    rows.append(
        (
            f"{engine}: floor: parse once + raw write",
            "",
            f"{floor:,.2f} s, {_us(floor, n)} (the import takes {run.seconds / floor:.1f}× this)",
            f"{floor / raw.seconds:.2f}",
        )
    )
    return rows


def report(
    engine: str, n: int, made: BgmaxOut, run: ImportRun, parse: ParseRun, raw: RawRun, markdown: bool, setup: float
) -> None:
    rows = report_rows(engine, n, made, run, parse, raw)
    table = Table("figure", "goal", "measured", "× raw write", title=f"BGMax import and matching, {engine}")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    mix = ", ".join(f"{kind} {count:,}" for kind, count in made.counts.items())
    console.print(
        f"file: {made.size / 2**20:,.1f} MB, {made.payments:,} payments in {made.deposits:,} deposits ({mix}); "
        f"setup (untimed) {setup:,.0f} s"
    )
    console.print("rows written by the import: " + ", ".join(f"{t} {c:,}" for t, c in raw.rows.items()))
    console.print(f"invoices updated: {raw.updated_invoices:,}; file: {run.file}")
    for name in run.prototypes:
        console.print(f"prototype {name}: {PROTOTYPES[name]}")
    console.print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if markdown:
        print("| figure | goal | measured | × raw write |\n| --- | --- | --- | --- |")
        for row in rows:
            cells = [row[0].replace("  ", "↳ ", 1) if row[0].startswith("  ") else row[0], *row[1:]]
            print("| " + " | ".join(cell or " " for cell in cells) + " |")


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=GOAL_N, help="open invoices, and payments in the file")
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--deposit-size", type=int, default=10_000, help="payments per deposit (TK05..TK15)")
    parser.add_argument("--setup-batch", type=int, default=5_000, help="invoices per create_and_issue call (setup)")
    parser.add_argument("--profile", choices=("cprofile", "pyinstrument"), help="profile the import (bench/out/)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument(
        "--prototype",
        action="append",
        choices=sorted(PROTOTYPES),
        default=[],
        help="measure a proposed change to src/, patched into the import's process only (repeatable)",
    )
    parser.add_argument("--import-batch", type=int, help="payments per receive() call (payments.imports.BATCH)")
    args = parser.parse_args()
    n, engine = args.n, args.engine
    console.print(
        f"[bold]{engine}[/bold]: {n:,} open invoices, a BGMax file paying them, deposits of {args.deposit_size:,}"
    )
    console.print("load average (1, 5, 15 min) at the start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    with fresh_database(engine) as url, tempfile.TemporaryDirectory(prefix="kvitt-bgmax-") as directory:
        db = Database(url)
        try:
            started = time.perf_counter()
            tenant_id = set_up(db, url, n, args.setup_batch)
            made = write_file(db, tenant_id, args.deposit_size, directory)
            setup = time.perf_counter() - started
            console.print(
                f"  file written: {made.size / 2**20:,.1f} MB, {made.payments:,} payments, {made.deposits:,} deposits; "
                f"setup took {setup:,.0f} s"
            )
            before = max_ids(db)
            console.print("  parse baseline ...")
            parse = run_in_child(timed_parse, str(made.path))
            console.print(f"  import (timed, fresh process{', profiled' if args.profile else ''}) ...")
            console.print("  load average before the import: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
            run: ImportRun = run_in_child(
                timed_import, url, tenant_id, str(made.path), args.profile, args.prototype, args.import_batch
            )
            console.print(f"  imported in {run.seconds:,.1f} s; checking ...")
            problems = check(db, tenant_id, made, run)
            if problems:
                for problem in problems:
                    console.print(f"[red]WRONG[/red] {problem}")
                raise SystemExit(1)
            console.print("  ledger balanced, 1510 = invoices' remaining, states and deviations as the mix says")
            console.print("  raw-write baseline ...")
            raw = (
                raw_baseline_postgresql(url, before, directory)
                if engine == "postgresql"
                else raw_baseline_sqlite(url, before)
            )
        finally:
            db.dispose()
    if run.profile_text:
        print(run.profile_text)
    report(engine, n, made, run, parse, raw, args.markdown, setup)


if __name__ == "__main__":
    main()
