"""API shapes of payment requests and refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kvitt.core.schemas import NoNul, Ore


class PaymentRequestIn(NoNul):
    model_config = ConfigDict(extra="forbid")

    method: Literal["swish", "card"]
    payer_alias: str | None = Field(
        None,
        max_length=20,
        description="Swish e-commerce: the payer's mobile number (46701234567); leave out for m-commerce",
    )


class RefundIn(NoNul):
    model_config = ConfigDict(extra="forbid")

    amount: Ore | None = Field(None, gt=0, description="öre; leave out for all the payment still holds")
    reason: str | None = Field(None, max_length=300)


class RefundOut(BaseModel):
    id: int
    object: Literal["refund"] = "refund"
    payment_request: int
    method: str
    amount: int
    state: str
    provider_reference: str | None
    error_code: str | None
    error_message: str | None
    reason: str | None
    created_at: datetime
    ended_at: datetime | None


class PaymentRequestOut(BaseModel):
    id: int
    object: Literal["payment_request"] = "payment_request"
    invoice: int
    method: str
    flow: str
    amount: int
    currency: str
    state: Literal["created", "paid", "declined", "error", "cancelled", "expired"]
    provider_reference: str | None
    token: str | None = Field(description="Swish m-commerce: the PaymentRequestToken; card: the client secret")
    payer_alias: str | None
    error_code: str | None
    error_message: str | None = Field(description="why it did not go through, in plain words")
    payment: int | None
    paid_amount: int | None
    refunded: int
    refunds: list[RefundOut]
    created_at: datetime
    ended_at: datetime | None
