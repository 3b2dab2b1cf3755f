"""Invoices in the API: amounts in öre, quantities as decimal strings, VAT rates as integers."""

from __future__ import annotations

from datetime import date, datetime
from datetime import date as Day  # PaymentIn has a field named date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from kvitt.core.schemas import Id, Input, Ore, Quantity, VatRate

MAX_LINES = 1000


class LineIn(Input):
    item: Id | None = None
    description: str | None = Field(default=None, max_length=500)
    quantity: Quantity = Decimal(1)
    unit: str | None = Field(default=None, max_length=20)
    unit_price: Ore | None = Field(default=None, ge=0)
    vat_rate: VatRate | None = None
    discount_percent: Decimal | None = Field(default=None, ge=0, le=100, decimal_places=2)
    account: str | None = Field(default=None, pattern=r"^\d{4}$")

    @field_validator("quantity")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("quantity must be greater than 0 (to take money back, credit the invoice)")
        return value

    @model_validator(mode="after")
    def _free_text_needs_price(self) -> LineIn:
        if self.item is None:
            missing = [f for f in ("description", "unit_price", "vat_rate") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a line without an item needs {', '.join(missing)}")
        return self


class InfoBlock(Input):
    title: str = Field(max_length=200)
    text: str = Field(max_length=4000)


class InvoiceCreate(Input):
    customer: Id
    lines: list[LineIn] = Field(default_factory=list, max_length=MAX_LINES)
    currency: Literal["SEK"] = "SEK"
    invoice_date: date | None = None
    due_date: date | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    invoice_fee: bool | None = None
    notes: str | None = Field(default=None, max_length=4000)
    info: list[InfoBlock] = Field(default_factory=list, max_length=50)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("due_date")
    @classmethod
    def _dates(cls, value: date | None, info: ValidationInfo) -> date | None:
        invoice_date = info.data.get("invoice_date")
        if value and invoice_date and value < invoice_date:
            raise ValueError("due_date is before invoice_date")
        return value


class InvoiceUpdate(Input):
    customer: Id | None = None
    lines: list[LineIn] | None = Field(default=None, max_length=MAX_LINES)
    invoice_date: date | None = None
    due_date: date | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    invoice_fee: bool | None = None
    notes: str | None = Field(default=None, max_length=4000)
    info: list[InfoBlock] | None = Field(default=None, max_length=50)
    metadata: dict[str, Any] | None = None


class CreditIn(Input):
    mode: Literal["full", "remaining", "amount"] = "full"
    amount: Ore | None = Field(default=None, gt=0, validate_default=True)
    reason: str | None = Field(default=None, max_length=500)
    # Crediting more than is left on the invoice frees money that paid it (the customer's credit
    # balance): true pays it back by the way it came (card, Swish: through the provider; bankgiro
    # and manual payments: a `refund_due` deviation for staff to pay out); false keeps it as
    # credit, spent on the customer's next invoice.
    refund: bool = True

    @field_validator("amount")
    @classmethod
    def _amount_for_amount_mode(cls, value: int | None, info: ValidationInfo) -> int | None:
        mode = info.data.get("mode")
        if mode is not None and (mode == "amount") != (value is not None):
            raise ValueError("give amount exactly when mode is 'amount'")
        return value


class PaymentIn(Input):
    amount: Ore = Field(gt=0)
    date: Day | None = None
    reference: str | None = Field(default=None, max_length=100)


class WriteOffIn(Input):
    reason: str | None = Field(default=None, max_length=500)


class LineOut(BaseModel):
    id: int
    kind: str
    item: int | None
    article_no: str | None
    description: str
    quantity: str
    unit: str | None
    unit_price: int
    discount_percent: str | None
    vat_rate: int
    account: str | None
    net: int


class VatGroupOut(BaseModel):
    rate: int
    net: int
    vat: int


class EventOut(BaseModel):
    id: int
    object: Literal["invoice_event"] = "invoice_event"
    type: str
    at: datetime
    actor: str
    data: dict[str, Any]


class InvoiceOut(BaseModel):
    id: int
    object: Literal["invoice"] = "invoice"
    kind: Literal["invoice", "credit_note"]
    number: int | None
    ocr: str | None
    state: str
    currency: str
    invoice_date: date | None
    due_date: date | None
    customer: Id
    buyer: dict[str, Any]
    lines: list[LineOut]
    vat_summary: list[VatGroupOut]
    net: int
    vat: int
    rounding: int
    total: int
    paid: int
    credited: int
    written_off: int
    remaining: int
    url: str
    credited_invoice: int | None
    notes: str | None
    info: list[dict[str, Any]]
    metadata: dict[str, Any]
    available_actions: list[str]
    events: list[EventOut] | None = None
    created_at: datetime
    issued_at: datetime | None
