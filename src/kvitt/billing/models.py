"""Billing runs and the ledger of billed periods (the exactly-once guard)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow

RUNNING, DONE = "running", "done"


class BillingRun(Base):
    __tablename__ = "billing_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    run_date: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), default=RUNNING)
    actor: Mapped[str] = mapped_column(String(100))
    # The run is split by customer (customer_id % partitions); each partition is processed
    # in batches, by one process or as outbox jobs shared by workers.
    partitions: Mapped[int] = mapped_column(Integer, default=1)
    partitions_done: Mapped[int] = mapped_column(Integer, default=0)
    subscriptions_due: Mapped[int] = mapped_column(Integer, default=0)
    invoices: Mapped[int] = mapped_column(Integer, default=0)
    periods_without_charge: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)  # öre, the invoices' totals
    net: Mapped[int] = mapped_column(BigInteger, default=0)
    vat: Mapped[int] = mapped_column(BigInteger, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)  # the first 100
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BilledPeriod(Base):
    """One subscription period billed once: the unique key is what stops double billing."""

    __tablename__ = "billing_periods"
    __table_args__ = (UniqueConstraint("subscription_id", "period_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # None: nothing to charge for the period (paused throughout).
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    billing_run_id: Mapped[int | None] = mapped_column(ForeignKey("billing_runs.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


__all__ = ["BilledPeriod", "BillingRun"]
