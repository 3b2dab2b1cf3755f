"""Reading Billogram's request bodies: known fields only, money in kronor to öre exactly,
and pydantic errors of Kvitt's v1 inputs named with Billogram's field names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kvitt.billogram.errors import READ_ONLY_PARAMETER, UNKNOWN_PARAMETER, BillogramError, invalid
from kvitt.core.money import MoneyError, kronor_to_ore, ore_to_kronor


def as_object(value: Any, path: list[Any] | None = None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        where = ".".join(str(p) for p in path or []) or "the body"
        raise invalid(f"{where} must be a JSON object", None, path)
    return value


def writable_object(body: Any, known: Iterable[str], read_only: Iterable[str]) -> dict[str, Any]:
    """A create's or an update's body: an object of fields the resource lets a client write."""
    data = as_object(body)
    check_keys(data, known, read_only=read_only)
    return data


Input = TypeVar("Input", bound=BaseModel)


def kvitt_input(
    schema: type[Input], values: Mapping[str, Any], names: Mapping[str, tuple[str, list[Any] | None]]
) -> Input:
    """Kvitt's v1 input made of a Billogram body's values; a refusal names the Billogram field."""
    try:
        return schema(**values)
    except ValidationError as exc:
        raise from_pydantic(exc, names) from None


def check_keys(
    data: Mapping[str, Any],
    known: Iterable[str],
    *,
    read_only: Iterable[str] = (),
    path: list[Any] | None = None,
) -> None:
    """UNKNOWN_PARAMETER for a field Billogram does not have (or Kvitt does not take), and
    READ_ONLY_PARAMETER for one that cannot be written here."""
    allowed, frozen = set(known), set(read_only)
    for key in data:
        if key in frozen:
            raise BillogramError(READ_ONLY_PARAMETER, f"{key} cannot be written", field=key, field_path=path)
        if key not in allowed:
            raise BillogramError(UNKNOWN_PARAMETER, f"unknown field {key}", field=key, field_path=path)


def text(data: Mapping[str, Any], key: str, path: list[Any] | None = None) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise invalid(f"{key} must be a string", key, path)
    return str(value).strip()


def number_text(data: Mapping[str, Any], key: str, path: list[Any] | None = None) -> str | None:
    """A Billogram number field written as a number or a string (``customer_no``, ``item_no``)."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid(f"{key} must be a whole number or a string", key, path)
    return str(value).strip()


def decimal(data: Mapping[str, Any], key: str, path: list[Any] | None = None) -> Decimal | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool | float) or not isinstance(value, int | Decimal | str):
        raise invalid(f"{key} must be a number", key, path)
    try:
        result = Decimal(str(value).strip())
    except ArithmeticError:
        raise invalid(f"{key} {value!r} is not a number", key, path) from None
    if not result.is_finite():
        raise invalid(f"{key} {value!r} is not a number", key, path)
    return result


def money(data: Mapping[str, Any], key: str, path: list[Any] | None = None) -> int | None:
    """Kronor (a JSON number, read as Decimal) to öre; more than 2 decimals is refused."""
    amount = decimal(data, key, path)
    if amount is None:
        return None
    try:
        return kronor_to_ore(amount)
    except MoneyError:
        raise invalid(f"{key} {amount} has more than 2 decimals (kronor and öre)", key, path) from None


def kronor(ore: int) -> Decimal:
    return ore_to_kronor(ore)


def vat(data: Mapping[str, Any], key: str, path: list[Any] | None = None) -> int | None:
    rate = decimal(data, key, path)
    if rate is None:
        return None
    if rate != rate.to_integral_value():
        raise invalid(f"{key} must be a whole percentage (25, 12, 6 or 0)", key, path)
    return int(rate)


def boolean(data: Mapping[str, Any], key: str, path: list[Any] | None = None) -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise invalid(f"{key} must be true or false", key, path)


def from_pydantic(exc: ValidationError, names: Mapping[str, tuple[str, list[Any] | None]]) -> BillogramError:
    """The first error of a v1 input, with the Billogram name of its field."""
    first = exc.errors()[0]
    loc = [part for part in first.get("loc", ()) if isinstance(part, str | int)]
    key = next((part for part in reversed(loc) if isinstance(part, str)), "")
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    field, path = names.get(key, (key or None, None))
    return invalid(f"{field}: {message}" if field else message, field, path)
