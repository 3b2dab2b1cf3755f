"""Shapes shared by every feature's API: money, quantities, lists."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator

from kvitt.core.money import MoneyError, parse_quantity

T = TypeVar("T")


def _reject_float(value: Any) -> Any:
    if isinstance(value, (bool, float)):
        raise ValueError("amounts are integers of öre (e.g. 31600 for 316,00 kr)")
    return value


def _quantity(value: Any) -> Decimal:
    if isinstance(value, float):
        raise ValueError('quantities are decimal strings, e.g. "2.5"')
    try:
        quantity = parse_quantity(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc
    if abs(quantity) > MAX_QUANTITY:
        raise ValueError(f"quantity must be at most {MAX_QUANTITY}")
    return quantity


# Ids are positive 64-bit integers (BIGINT); anything else cannot name an object.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# Amounts in öre: integers only, so "316.5" or 316.5 is refused rather than guessed at; at most
# 1,000,000,000 kr a figure, so that sums stay far inside BIGINT.
MAX_AMOUNT = 100_000_000_000
Ore = Annotated[int, BeforeValidator(_reject_float), Field(strict=True, ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
MAX_QUANTITY = Decimal(1_000_000)
Quantity = Annotated[
    Decimal,
    BeforeValidator(_quantity),
    PlainSerializer(lambda d: format(d, "f"), return_type=str),
]


def _integer_rate(value: Any) -> Any:
    if isinstance(value, bool | float):
        raise ValueError("VAT rates are integers: 25, 12, 6 or 0")
    return value


VatRate = Annotated[Literal[25, 12, 6, 0], BeforeValidator(_integer_rate)]


class NoNul(BaseModel):
    """A request body whose text never holds NUL characters (422, not a database error)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold U+0000; refuse it here rather than fail in the database.
        if _has_nul(value):
            raise ValueError("text must not contain NUL characters")
        return value


class Input(NoNul):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class ListResponse(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool
