"""Shared steps of the batch tests: many issued invoices at once, their domain events, SQL counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import psycopg
from sqlalchemy import event, select

from kvitt.core.db import Database
from kvitt.core.events import DOMAIN_EVENT_JOB
from kvitt.core.outbox import PENDING, OutboxJob
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.invoices import service as invoices
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.tenants.models import Tenant

TODAY = date(2026, 11, 25)


def issue_many(db: Database, tenant_id: int, n: int, *, first: int = 0) -> list[int]:
    """``n`` customers (every third a company) with one issued invoice each; the invoices' ids."""
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        ids = []
        for i in range(first, first + n):
            data = CustomerCreate(
                customer_no=str(1000 + i),
                name=f"Kund {i}",
                email=f"k{i}@example.se",
                type="company" if i % 3 == 0 else "individual",
                delivery_method="letter",
            )
            ids.append(customers.create(session, tenant, data).id)
        line = LineIn(description="Abonnemang", quantity="1", unit_price=10000 + 100 * first, vat_rate=25)
        inputs = [InvoiceCreate(customer=c, lines=[line]) for c in ids]
        return list(invoices.create_and_issue(session, tenant, inputs, today=TODAY, actor="test"))


BUNDLE_JOB = "domain_events"  # many events in one job ({"events": [...]}), from bulk commands


def pending_events(db: Database, tenant_id: int) -> list[dict[str, Any]]:
    """The tenant's domain events waiting in the outbox, as the worker hands them to subscribers
    (an event of a bundle is named by the bundle's job id and its place in it)."""
    with db.transaction() as session:
        jobs = session.scalars(
            select(OutboxJob)
            .where(
                OutboxJob.tenant_id == tenant_id,
                OutboxJob.kind.in_([DOMAIN_EVENT_JOB, BUNDLE_JOB]),
                OutboxJob.state == PENDING,
            )
            .order_by(OutboxJob.id)
        )
        events: list[dict[str, Any]] = []
        for job in jobs:
            if job.kind == BUNDLE_JOB:
                events += [{**e, "event_job_id": f"{job.id}.{i}"} for i, e in enumerate(job.payload["events"])]
            else:
                events.append({**job.payload, "event_job_id": job.id})
        return events


@contextmanager
def counting_statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while inside but BEGIN (SQLite's BEGIN IMMEDIATE),
    COPYs included: ``bulk_insert`` sends them on psycopg's cursor, round SQLAlchemy's events,
    and an INSERT below ``COPY_FROM_ROWS`` rows, so a count must see both to compare sizes."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    copy = psycopg.Cursor.copy

    def counted_copy(cursor: psycopg.Cursor[Any], statement: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(statement))
        return copy(cursor, statement, *args, **kwargs)

    event.listen(db.engine, "before_cursor_execute", count)
    psycopg.Cursor.copy = counted_copy  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        psycopg.Cursor.copy = copy  # type: ignore[method-assign]
        event.remove(db.engine, "before_cursor_execute", count)
