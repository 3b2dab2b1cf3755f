"""Items in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from kvitt.core.schemas import Input, Ore, VatRate

Account = str


def _account(value: str | None) -> str | None:
    if value is not None and not (value.isdigit() and len(value) == 4):
        raise ValueError("a BAS account is four digits, e.g. 3001")
    return value


class ItemCreate(Input):
    article_no: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=200)
    unit: str = Field(default="st", min_length=1, max_length=20)
    unit_price: Ore = Field(ge=0)
    vat_rate: VatRate
    account: str | None = None

    _check_account = field_validator("account")(_account)


class ItemUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    unit: str | None = Field(default=None, min_length=1, max_length=20)
    unit_price: Ore | None = Field(default=None, ge=0)
    vat_rate: VatRate | None = None
    account: str | None = None
    active: bool | None = None

    _check_account = field_validator("account")(_account)


class ItemOut(BaseModel):
    id: int
    object: Literal["item"] = "item"
    article_no: str
    title: str
    unit: str
    unit_price: int
    vat_rate: int
    account: str | None
    active: bool
    created_at: datetime
    updated_at: datetime

    model_config = {"from_attributes": True}
