"""Billing runs and the test clock in the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from kvitt.core.schemas import Input


class BillingRunCreate(Input):
    date: date  # the business date: subscriptions whose next period starts on or before it
    # Split by customer for workers to share (PostgreSQL); default 4 there, 1 on SQLite.
    partitions: int | None = Field(default=None, ge=1, le=64)


class BillingRunOut(BaseModel):
    id: int
    object: Literal["billing_run"] = "billing_run"
    date: date
    state: Literal["running", "done"]
    actor: str
    partitions: int
    partitions_done: int
    subscriptions_due: int
    invoices: int
    periods_without_charge: int
    net: int
    vat: int
    total: int
    error_count: int
    errors: list[dict[str, Any]]
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float


class ClockAdvance(Input):
    to: date
    # Where a tenant without a clock begins (default: today); its own jobs are not run.
    start: date | None = None


class ClockOut(BaseModel):
    object: Literal["test_clock"] = "test_clock"
    tenant: int
    date: date
    running: bool  # False: the tenant has no clock yet and lives on the real date
    failed_jobs: int
