"""Payments, payment files and deviations in the API."""

from __future__ import annotations

from datetime import date as Day  # models with a field named date
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from kvitt.core.schemas import Id, Input, Ore


class PaymentCreate(Input):
    amount: Ore = Field(gt=0)
    date: Day | None = None
    reference: str | None = Field(default=None, max_length=100)
    customer: Id | None = None
    payer_name: str | None = Field(default=None, max_length=200)


class AllocationIn(Input):
    invoice: Id
    amount: Ore = Field(gt=0)


class ResolveIn(Input):
    action: Literal["match", "refund", "assign", "keep"]
    allocations: list[AllocationIn] = Field(default_factory=list, max_length=100)
    customer: Id | None = None
    amount: Ore | None = Field(default=None, gt=0)
    note: str | None = Field(default=None, max_length=500)


class AllocationOut(BaseModel):
    id: int
    kind: str
    invoice: int | None
    customer: int | None
    amount: int
    actor: str
    created_at: datetime


class PaymentOut(BaseModel):
    id: int
    object: Literal["payment"] = "payment"
    source: str
    file: int | None
    amount: int
    date: Day
    reference: str | None
    reference_code: int | None
    payer_name: str | None
    payer_account: str | None
    bank_serial: str | None
    customer: int | None
    unallocated: int
    details: dict[str, Any]
    allocations: list[AllocationOut]
    created_at: datetime


class PaymentFileOut(BaseModel):
    id: int
    object: Literal["payment_file"] = "payment_file"
    format: str
    filename: str | None
    content_hash: str
    created_by_bank: datetime | None
    test_file: bool
    deposits: int
    payments: int
    duplicates: int
    amount: int
    matched: int
    deviations: int
    source: str
    state: str
    error: str | None
    imported_at: datetime
    already_imported: bool = False


class DeviationOut(BaseModel):
    id: int
    object: Literal["deviation"] = "deviation"
    kind: str
    state: str
    amount: int
    payment: PaymentOut
    invoice: int | None
    customer: int | None
    suggestions: list[dict[str, Any]]
    resolution: dict[str, Any] | None
    created_at: datetime
    resolved_at: datetime | None
