"""Autogiro's API shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from kvitt.core.schemas import Id, Input, Ore


class MandateCreate(Input):
    """A mandate the issuer already holds (signed on paper or elsewhere)."""

    customer: Id
    clearing: str = Field(min_length=4, max_length=6)
    account: str = Field(min_length=1, max_length=20)
    payer_number: str | None = Field(default=None, min_length=1, max_length=16, pattern=r"^\d+$")
    personal_number: str | None = Field(default=None, min_length=10, max_length=13)


class PayerNumberChange(Input):
    """A new payer number for an active mandate (TK05 in the next file)."""

    payer_number: str = Field(min_length=1, max_length=16, pattern=r"^\d+$")


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
    new_payer_number: str | None  # a change asked for, until Bankgirot's advice answers it
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


class CreditCreate(Input):
    """Pay money the tenant holds for the customer (their credit balance) back to the account of
    their active mandate: a TK32 in the next order file."""

    customer: Id
    amount: Ore = Field(gt=0, description="öre")
    reference: str | None = Field(default=None, min_length=1, max_length=16)
    reason: str | None = Field(default=None, max_length=200)


class CreditOut(BaseModel):
    object: Literal["autogiro_credit"] = "autogiro_credit"
    id: int
    customer: int
    mandate: int
    payer_number: str
    amount: int
    reference: str
    reason: str | None
    pay_on: date | None
    status: str
    result_code: str | None
    result_text: str | None
    created_at: datetime
    sent_at: datetime | None
