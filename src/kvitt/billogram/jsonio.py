"""JSON in and out with exact money: numbers are read as ``Decimal`` and ``Decimal`` is written
as a JSON number (never through ``float``)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any


class NotJson(ValueError):
    """A request body that is not JSON."""


def _refuse_constant(name: str) -> Any:
    raise NotJson(f"{name} is not a number")


def loads(raw: bytes) -> Any:
    """The body as Python values; every JSON number with a fraction or exponent is a Decimal."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotJson(f"the request body is not valid JSON: {exc}") from None


def dumps(value: Any) -> bytes:
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode()


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            out.append("," if index else "")
            out.append(json.dumps(str(key), ensure_ascii=False) + ":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            out.append("," if index else "")
            _write(item, out)
        out.append("]")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as JSON")
        out.append(format(value, "f"))
    elif isinstance(value, float):
        raise TypeError("a float in a Billogram API answer (money must be Decimal)")
    elif isinstance(value, datetime | date):
        out.append(json.dumps(value.isoformat()))
    else:
        out.append(json.dumps(value, ensure_ascii=False))
