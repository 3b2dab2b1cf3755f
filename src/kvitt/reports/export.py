"""``kvitt export facts``: invoices, lines, payments, deliveries and events for a data warehouse.

A period's export is a series of runs into one folder. Each run writes, per table, the rows that
are new or changed since the run before (``<table>-<from>-<to>-<run>.csv``), then records how far
it got in ``kvitt-facts-cursor.json`` in the same folder; a rerun with nothing new writes
nothing. A warehouse loads the files in run order and upserts by ``id``.

What belongs to the period ``from``..``to``: the tenant's issued invoices and credit notes dated
in it, their lines, their deliveries and their timeline events; and the payments dated in it.

The cursor is a time bound per run. A row is in the run whose bound is the first at or after
its timestamp (``updated_at`` for invoices and deliveries, which change; the invoice's
``issued_at`` for its lines; ``created_at`` for payments; ``at`` for events). A run's bound is
``settle`` seconds before the earliest of the database's clock and the start of the oldest
transaction still writing (PostgreSQL; on SQLite the export holds the write lock), so that a row
written by a transaction that has not committed yet is left for a later run, not skipped. It
assumes the application servers' clocks are within ``settle`` of the database's and that a
transaction stamps its rows less than ``settle`` seconds before it writes them.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Integer, Select, select, text
from sqlalchemy.orm import Session

from kvitt.core.db import Base, UtcDateTime, is_postgresql, utcnow
from kvitt.delivery.models import Delivery
from kvitt.invoices.models import Invoice, InvoiceEvent, InvoiceLine
from kvitt.payments.models import Payment
from kvitt.tenants.models import Tenant

CURSOR_FILE = "kvitt-facts-cursor.json"
TABLES = ("invoices", "invoice_lines", "payments", "deliveries", "events")
DEFAULT_SETTLE_SECONDS = 60
BATCH = 5000


@dataclass
class Outcome:
    run: int
    bound: datetime
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def export_facts(
    session: Session,
    tenant: Tenant,
    folder: Path,
    start: date,
    end: date,
    *,
    fmt: str = "csv",
    settle_seconds: int = DEFAULT_SETTLE_SECONDS,
    now: datetime | None = None,
) -> Outcome:
    """Write this run's files into ``folder`` and move the cursor; see the module's text."""
    writer = _writer(fmt)
    folder.mkdir(parents=True, exist_ok=True)
    cursors = _read_cursors(folder, tenant.id)
    series = f"{start.isoformat()}..{end.isoformat()}"
    previous = cursors["series"].get(series, {})
    after = datetime.fromisoformat(previous["bound"]) if previous.get("bound") else None
    bound = settled_bound(session, settle_seconds, now)
    if after is not None and bound <= after:
        bound = after  # the clock went back or a writer is still open: nothing can be taken yet
    outcome = Outcome(run=int(previous.get("run", 0)) + 1, bound=bound)
    for name in TABLES:
        query = QUERIES[name](tenant.id, start, end, after, bound)
        path = folder / f"{name}-{start.isoformat()}-{end.isoformat()}-{outcome.run:04d}.{fmt}"
        count = writer(session, query, _model(name), path)
        outcome.rows[name] = count
        if count:
            outcome.files.append(path)
    if not outcome.files:
        outcome.run -= 1  # nothing new: no files and no run number used, only the bound moves on
    cursors["series"][series] = {"run": outcome.run, "bound": bound.isoformat()}
    _write_cursors(folder, cursors)
    return outcome


def settled_bound(session: Session, settle_seconds: int, now: datetime | None = None) -> datetime:
    """The newest timestamp every row at or before which is committed (see the module's text)."""
    if is_postgresql(session):
        db_now, oldest = session.execute(
            text(
                "SELECT clock_timestamp(), min(xact_start) FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
            )
        ).one()
        newest = min(db_now, oldest) if oldest is not None else db_now
    else:
        newest = utcnow()  # the export's transaction holds SQLite's write lock: no writer is open
    if now is not None:
        newest = min(newest, now)
    bound: datetime = (newest - timedelta(seconds=settle_seconds)).astimezone(UTC)
    return bound


# --- what each table exports --------------------------------------------------------------------

Query = Select[Any]


def _window(column: Any, after: datetime | None, bound: datetime) -> Any:
    return (column <= bound) if after is None else ((column > after) & (column <= bound))


def _period_invoices(tenant_id: int, start: date, end: date) -> Any:
    return select(Invoice.id).where(
        Invoice.tenant_id == tenant_id,
        Invoice.state != "draft",
        Invoice.invoice_date >= start,
        Invoice.invoice_date <= end,
    )


def _invoices(tenant_id: int, start: date, end: date, after: datetime | None, bound: datetime) -> Query:
    return (
        select(Invoice)
        .where(Invoice.id.in_(_period_invoices(tenant_id, start, end)), _window(Invoice.updated_at, after, bound))
        .order_by(Invoice.id)
    )


def _lines(tenant_id: int, start: date, end: date, after: datetime | None, bound: datetime) -> Query:
    issued = select(Invoice.id).where(
        Invoice.id.in_(_period_invoices(tenant_id, start, end)), _window(Invoice.issued_at, after, bound)
    )
    return (
        select(InvoiceLine)
        .where(InvoiceLine.tenant_id == tenant_id, InvoiceLine.invoice_id.in_(issued))
        .order_by(InvoiceLine.id)
    )


def _payments(tenant_id: int, start: date, end: date, after: datetime | None, bound: datetime) -> Query:
    return (
        select(Payment)
        .where(
            Payment.tenant_id == tenant_id,
            Payment.date >= start,
            Payment.date <= end,
            _window(Payment.created_at, after, bound),
        )
        .order_by(Payment.id)
    )


def _deliveries(tenant_id: int, start: date, end: date, after: datetime | None, bound: datetime) -> Query:
    return (
        select(Delivery)
        .where(
            Delivery.tenant_id == tenant_id,
            Delivery.invoice_id.in_(_period_invoices(tenant_id, start, end)),
            _window(Delivery.updated_at, after, bound),
        )
        .order_by(Delivery.id)
    )


def _events(tenant_id: int, start: date, end: date, after: datetime | None, bound: datetime) -> Query:
    return (
        select(InvoiceEvent)
        .where(
            InvoiceEvent.tenant_id == tenant_id,
            InvoiceEvent.invoice_id.in_(_period_invoices(tenant_id, start, end)),
            _window(InvoiceEvent.at, after, bound),
        )
        .order_by(InvoiceEvent.id)
    )


QUERIES: dict[str, Callable[[int, date, date, datetime | None, datetime], Query]] = {
    "invoices": _invoices,
    "invoice_lines": _lines,
    "payments": _payments,
    "deliveries": _deliveries,
    "events": _events,
}
MODELS: dict[str, type[Base]] = {
    "invoices": Invoice,
    "invoice_lines": InvoiceLine,
    "payments": Payment,
    "deliveries": Delivery,
    "events": InvoiceEvent,
}


def _model(name: str) -> type[Base]:
    return MODELS[name]


def columns_of(model: type[Base]) -> list[tuple[str, str]]:
    """(column name, attribute name) of every column, in the table's order."""
    mapper = model.__mapper__
    return [(prop.columns[0].name, prop.key) for prop in mapper.column_attrs]


def cell(value: Any) -> Any:
    """A value as the CSV writes it: JSON as text, dates ISO 8601 (UTC for times), None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def _rows(session: Session, query: Query, model: type[Base]) -> Iterator[list[Any]]:
    names = columns_of(model)
    for obj in session.scalars(query.execution_options(yield_per=BATCH)):
        yield [getattr(obj, attribute) for _, attribute in names]


# --- writers ------------------------------------------------------------------------------------

Writer = Callable[[Session, Query, type[Base], Path], int]


def write_csv(session: Session, query: Query, model: type[Base], path: Path) -> int:
    """Write the rows to ``path`` (through a temporary file; nothing is left when there are none)."""
    partial = path.with_suffix(path.suffix + ".partial")
    count = 0
    with partial.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow([name for name, _ in columns_of(model)])
        for row in _rows(session, query, model):
            out.writerow([cell(value) for value in row])
            count += 1
    if count:
        os.replace(partial, path)
    else:
        partial.unlink()
    return count


def write_parquet(session: Session, query: Query, model: type[Base], path: Path) -> int:
    """The same rows as Parquet with a schema from the table's columns: whole numbers (every
    amount in öre, quantities in thousandths) as int64, flags as bool, days as date32, times as
    UTC timestamps (microseconds), text as string and JSON as its text; needs pyarrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(model)
    partial = path.with_suffix(path.suffix + ".partial")
    count = 0
    batch: list[list[Any]] = []
    with pq.ParquetWriter(str(partial), schema) as parquet:

        def flush() -> None:
            columns = [pa.array([row[i] for row in batch], schema.field(i).type) for i in range(len(schema))]
            parquet.write_table(pa.Table.from_arrays(columns, schema=schema))
            batch.clear()

        for row in _rows(session, query, model):
            batch.append([_parquet_cell(value) for value in row])
            count += 1
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
    if count:
        os.replace(partial, path)
    else:
        partial.unlink()
    return count


def parquet_schema(model: type[Base]) -> Any:
    """The Arrow schema of a table's export (see ``write_parquet``)."""
    import pyarrow as pa

    fields = []
    by_name = {column.name: column for column in model.__table__.columns}
    for name, _ in columns_of(model):
        column = by_name[name]
        kind = column.type
        if column.foreign_keys or isinstance(kind, Integer):  # a foreign key's type may be unresolved
            arrow = pa.int64()
        elif isinstance(kind, Boolean):
            arrow = pa.bool_()
        elif isinstance(kind, DateTime | UtcDateTime):
            arrow = pa.timestamp("us", tz="UTC")
        elif isinstance(kind, Date):
            arrow = pa.date32()
        else:  # text, JSON as its text
            arrow = pa.string()
        fields.append(pa.field(name, arrow, nullable=column.nullable is not False))
    return pa.schema(fields)


def _parquet_cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str | date):  # datetimes are dates too
        return value.astimezone(UTC) if isinstance(value, datetime) else value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def pyarrow_installed() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _writer(fmt: str) -> Writer:
    if fmt == "csv":
        return write_csv
    if fmt == "parquet":
        if not pyarrow_installed():
            raise ValueError("Parquet needs pyarrow (pip install pyarrow); without it use --format csv")
        return write_parquet
    raise ValueError(f"unknown format {fmt!r}: csv or parquet")


# --- the cursor file ----------------------------------------------------------------------------


def _read_cursors(folder: Path, tenant_id: int) -> dict[str, Any]:
    path = folder / CURSOR_FILE
    if not path.exists():
        return {"version": 1, "tenant_id": tenant_id, "series": {}}
    cursors: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if cursors.get("tenant_id") != tenant_id:
        raise ValueError(f"{folder} holds another tenant's export (tenant {cursors.get('tenant_id')})")
    return cursors


def _write_cursors(folder: Path, cursors: dict[str, Any]) -> None:
    partial = folder / (CURSOR_FILE + ".partial")
    partial.write_text(json.dumps(cursors, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, folder / CURSOR_FILE)
