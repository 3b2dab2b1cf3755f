"""Autogiro's API shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from kvitt.core.schemas import Id, Input


class MandateCreate(Input):
    """A mandate the issuer already holds (signed on paper or elsewhere)."""

    customer: Id
    clearing: str = Field(min_length=4, max_length=6)
    account: str = Field(min_length=1, max_length=20)
    payer_number: str | None = Field(default=None, min_length=1, max_length=16, pattern=r"^\d+$")
    personal_number: str | None = Field(default=None, min_length=10, max_length=13)


class MandateOut(BaseModel):
    object: Literal["autogiro_mandate"] = "autogiro_mandate"
    id: int
    customer: int
    payer_number: str
    clearing: str
    account: str
    status: str
    source: str
    signed_with_bankid: bool
    comment_code: str | None
    comment_text: str | None
    created_at: datetime
    sent_at: datetime | None
    activated_at: datetime | None
    cancelled_at: datetime | None


class SettingsUpdate(Input):
    bgc_customer_number: str | None = Field(default=None, pattern=r"^\d{1,6}$")
    banking_days_before: int | None = Field(default=None, ge=1, le=30)


class SettingsOut(BaseModel):
    object: Literal["autogiro_settings"] = "autogiro_settings"
    bgc_customer_number: str | None
    banking_days_before: int
    bankgiro: str | None


class DebitOut(BaseModel):
    object: Literal["autogiro_debit"] = "autogiro_debit"
    id: int
    invoice: int
    mandate: int
    amount: int
    debit_on: date
    order_on: date
    status: str
    result_code: str | None
    result_text: str | None
