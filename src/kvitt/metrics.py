"""Figures read from the database when Prometheus scrapes ``/metrics`` (see ``core.metrics``).

Jobs waiting, running and dead by kind, the age of the oldest due job, deliveries by channel
and state, bank-file and billing-file imports. They are the same whichever process answers, so
they hold for any number of API and worker processes (take ``max`` across scrape targets), and
the workers need no endpoint of their own. The queries read an index (``outbox_jobs`` by state,
``deliveries`` by state and channel) or small tables (one row per imported file), run under a
2 s statement timeout on PostgreSQL and are cached for ``CACHE_SECONDS`` per process; a failed
read gives ``kvitt_metrics_database_up 0`` instead of a failed scrape. They count across all
tenants: ``/metrics`` is for the operator, never exposed to the internet (docs/operations.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, case, func, select, text

from kvitt.billing_files.models import BillingFile
from kvitt.core.db import Database
from kvitt.core.outbox import DEAD, PENDING, RUNNING, OutboxJob
from kvitt.delivery.models import Delivery
from kvitt.payments.models import PaymentFile

CACHE_SECONDS = 10.0
STATEMENT_TIMEOUT_MS = 2000

log = structlog.get_logger("kvitt.metrics")


class DatabaseCollector(Collector):
    """Figures read from the database when Prometheus scrapes, cached for a few seconds."""

    def __init__(self, db: Database, cache_seconds: float = CACHE_SECONDS) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: list[Metric] = []
        self._cached_at = float("-inf")

    def describe(self) -> Iterable[Metric]:
        return []  # the figures need the database; describing must not query it

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._cached_at >= self.cache_seconds:
                self._cached = self._read()
                self._cached_at = time.monotonic()
            metrics = list(self._cached)
        yield from metrics

    def _read(self) -> list[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("kvitt_metrics_database_up", "1 when the last read of the figures succeeded.")
        try:
            with self.db.engine.connect() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
                metrics = [*_jobs(connection), *_deliveries(connection), *_imports(connection)]
                connection.rollback()
        except Exception as exc:  # a scrape never fails: the figures are missing and up is 0
            log.warning("metrics: reading the database failed", error=str(exc).splitlines()[0][:300])
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        seconds = GaugeMetricFamily("kvitt_metrics_database_seconds", "Time the last read of the figures took.")
        seconds.add_metric([], time.perf_counter() - started)
        return [*metrics, up, seconds]


def _jobs(connection: Connection) -> list[Metric]:
    now = datetime.now(UTC)
    due = OutboxJob.run_at <= now
    rows = connection.execute(
        select(
            OutboxJob.kind,
            OutboxJob.state,
            func.count(),
            func.count(case((due, 1))),
            func.min(case((due, OutboxJob.run_at))),
        )
        .where(OutboxJob.state.in_((PENDING, RUNNING, DEAD)))  # 'done' grows for ever: not counted here
        .group_by(OutboxJob.kind, OutboxJob.state)
    ).all()
    jobs = GaugeMetricFamily(
        "kvitt_jobs", "Jobs in the outbox by kind and state (pending, running, dead).", labels=["kind", "state"]
    )
    due_jobs = GaugeMetricFamily("kvitt_jobs_due", "Pending jobs whose time has come, by kind.", labels=["kind"])
    age = GaugeMetricFamily(
        "kvitt_jobs_queue_age_seconds",
        "How long the oldest due pending job has waited past its run time, by kind (0: none waiting).",
        labels=["kind"],
    )
    for kind, state, count, due_count, oldest in rows:
        jobs.add_metric([kind, state], count)
        if state == PENDING:
            due_jobs.add_metric([kind], due_count)
            waited = 0.0
            if oldest is not None:
                oldest = _utc(oldest)
                waited = max(0.0, (now - oldest).total_seconds())
            age.add_metric([kind], waited)
    return [jobs, due_jobs, age]


def _deliveries(connection: Connection) -> list[Metric]:
    rows = connection.execute(
        select(Delivery.channel, Delivery.state, func.count()).group_by(Delivery.channel, Delivery.state)
    ).all()
    deliveries = GaugeMetricFamily(
        "kvitt_deliveries",
        "Deliveries by channel and state (pending, sending, sent, delivered, failed, unknown).",
        labels=["channel", "state"],
    )
    for channel, state, count in rows:
        deliveries.add_metric([channel, state], count)
    return [deliveries]


def _imports(connection: Connection) -> list[Metric]:
    bank = GaugeMetricFamily(
        "kvitt_bank_file_imports",
        "Bank files (BGMax) received, by format, source (api, cli, inbox) and state (imported, rejected).",
        labels=["format", "source", "state"],
    )
    bank_payments = GaugeMetricFamily(
        "kvitt_bank_file_payments", "Payments read from imported bank files, by format.", labels=["format"]
    )
    bank_last = GaugeMetricFamily(
        "kvitt_bank_file_last_import_timestamp_seconds",
        "When the newest bank file was imported (Unix time), by format.",
        labels=["format"],
    )
    payments_by_format: dict[str, int] = {}
    last_by_format: dict[str, datetime] = {}
    for fmt, source, state, count, payments, last in connection.execute(
        select(
            PaymentFile.format,
            PaymentFile.source,
            PaymentFile.state,
            func.count(),
            func.coalesce(func.sum(PaymentFile.payments), 0),
            func.max(PaymentFile.imported_at),
        ).group_by(PaymentFile.format, PaymentFile.source, PaymentFile.state)
    ):
        bank.add_metric([fmt, source, state], count)
        payments_by_format[fmt] = payments_by_format.get(fmt, 0) + int(payments)
        if state == "imported" and last is not None:
            last = _utc(last)
            last_by_format[fmt] = max(last, last_by_format.get(fmt, last))
    for fmt, payments in payments_by_format.items():
        bank_payments.add_metric([fmt], payments)
    for fmt, last in last_by_format.items():
        bank_last.add_metric([fmt], last.timestamp())

    billing = GaugeMetricFamily(
        "kvitt_billing_file_imports",
        "Billing files received, by format, source and state (imported, rejected).",
        labels=["format", "source", "state"],
    )
    for fmt, source, state, count in connection.execute(
        select(BillingFile.format, BillingFile.source, BillingFile.state, func.count()).group_by(
            BillingFile.format, BillingFile.source, BillingFile.state
        )
    ):
        billing.add_metric([fmt, source, state], count)
    return [bank, bank_payments, bank_last, billing]


def _utc(value: datetime | str) -> datetime:
    # SQLite hands back aggregates (min/max) of timestamps as text, without the column's type.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def database_registry(db: Database) -> CollectorRegistry:
    """A registry holding the database's figures, for ``core.metrics.exposition``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db))
    return registry
