"""Subscriptions in the API: amounts in öre, quantities as decimal strings, dates ISO."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from kvitt.core.schemas import Id, Input, Ore, Quantity, VatRate
from kvitt.invoices.schemas import InfoBlock

Interval = Literal["month", "quarter", "year"]
MAX_LINES = 100


class SubscriptionLineIn(Input):
    item: Id | None = None
    description: str | None = Field(default=None, max_length=400)
    quantity: Quantity = Decimal(1)
    unit: str | None = Field(default=None, max_length=20)
    unit_price: Ore | None = Field(default=None, ge=0)
    vat_rate: VatRate | None = None
    account: str | None = Field(default=None, pattern=r"^\d{4}$")

    @field_validator("quantity")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("quantity must be greater than 0")
        return value

    @model_validator(mode="after")
    def _free_text_needs_price(self) -> SubscriptionLineIn:
        if self.item is None:
            missing = [f for f in ("description", "unit_price", "vat_rate") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a line without an item needs {', '.join(missing)}")
        return self


class SubscriptionCreate(Input):
    customer: Id
    lines: list[SubscriptionLineIn] = Field(min_length=1, max_length=MAX_LINES)
    interval: Interval = "month"
    start_date: date | None = None  # default: today
    # The day of the month periods start on (clamped to shorter months); default: the start's day.
    anchor_day: int | None = Field(default=None, ge=1, le=31)
    binding_months: int = Field(default=0, ge=0, le=36)
    end_date: date | None = None  # the first day without service
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    notes: str | None = Field(default=None, max_length=4000)
    metadata: dict[str, Any] = Field(default_factory=dict)


class SubscriptionUpdate(Input):
    """New lines (the whole set) from ``effective_date``; or notes and metadata at once."""

    lines: list[SubscriptionLineIn] | None = Field(default=None, min_length=1, max_length=MAX_LINES)
    # Default: the first day not yet billed. A date inside an already billed period is refused.
    effective_date: date | None = None
    notes: str | None = Field(default=None, max_length=4000)
    metadata: dict[str, Any] | None = None


class PauseIn(Input):
    start: date | None = None  # default: the first day not yet billed
    end: date | None = None  # the day billing resumes; None: until resumed

    @model_validator(mode="after")
    def _order(self) -> PauseIn:
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ResumeIn(Input):
    on: date | None = None  # default: the first day not yet billed


class CancelIn(Input):
    # The first day without service; default: the first day not yet billed, or the end of the
    # binding period if that is later.
    end_date: date | None = None


class PeriodInfoIn(Input):
    period_start: date
    blocks: list[InfoBlock] = Field(min_length=1, max_length=20)


class SubscriptionLineOut(BaseModel):
    id: int
    position: int
    item: int | None
    description: str
    quantity: str
    unit: str | None
    unit_price: int
    vat_rate: int
    account: str | None
    valid_from: date
    valid_to: date | None


class PauseOut(BaseModel):
    start: date
    end: date | None


class SubscriptionOut(BaseModel):
    id: int
    object: Literal["subscription"] = "subscription"
    customer: int
    status: Literal["scheduled", "active", "paused", "canceled"]
    interval: Interval
    anchor_date: date
    start_date: date
    end_date: date | None
    binding_until: date | None
    next_period_start: date | None
    lines: list[SubscriptionLineOut]
    pauses: list[PauseOut]
    payment_terms_days: int | None
    notes: str | None
    metadata: dict[str, Any]
    canceled_at: datetime | None
    created_at: datetime


class PeriodInfoOut(BaseModel):
    subscription: int
    period_start: date
    blocks: list[InfoBlock]
