"""The condition language of event chains: data, never code.

A condition is ``{"field": "invoice.remaining", "op": "gt", "value": 50000}``; a rule's
conditions must all hold. Fields name facts about the event's customer, invoice and the event
itself; operators compare; nothing is evaluated as an expression, so a rule cannot run code.

Fields:
  customer.type | customer_no | name | email | phone | city | postal_code | country |
  delivery_method | language | age_days | segment (= attributes.segment) | tags (= attributes.tags)
  customer.attributes.<key>[.<key>...]
  invoice.state | kind | currency | number | total | remaining | paid | credited | due_date |
  invoice_date | days_overdue
  invoice.metadata.<key>[.<key>...]
  event.<key>[...]   the event's own data (e.g. event.channel, event.amount, event.level)
  channel            short for event.channel

Amounts are integers of öre, dates ISO strings (``2026-12-31``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

OPERATORS = (
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "exists",
    "not_exists",
)
FIELDS = {
    "customer.type",
    "customer.customer_no",
    "customer.name",
    "customer.email",
    "customer.phone",
    "customer.city",
    "customer.postal_code",
    "customer.country",
    "customer.delivery_method",
    "customer.language",
    "customer.age_days",
    "customer.segment",
    "customer.tags",
    "invoice.state",
    "invoice.kind",
    "invoice.currency",
    "invoice.number",
    "invoice.total",
    "invoice.remaining",
    "invoice.paid",
    "invoice.credited",
    "invoice.due_date",
    "invoice.invoice_date",
    "invoice.days_overdue",
    "channel",
}
OPEN_PREFIXES = ("customer.attributes.", "invoice.metadata.", "event.")
ALIASES = {
    "channel": "event.channel",
    "customer.segment": "customer.attributes.segment",
    "customer.tags": "customer.attributes.tags",
}
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
_MAX_DEPTH = 6
_MAX_LIST = 100
Scalar = str | int | bool | None


class MissingFact:
    """What a field names when the facts do not have it (never equal to anything)."""


MISSING = MissingFact()


def check(condition: dict[str, Any]) -> dict[str, Any]:
    """The condition as stored, or ValueError saying what is wrong with it."""
    field, op = condition.get("field"), condition.get("op")
    value = condition.get("value")
    if not isinstance(field, str) or not _known_field(field):
        raise ValueError(
            f"unknown field {field!r}: use one of {', '.join(sorted(FIELDS))}, "
            "or customer.attributes.<key>, invoice.metadata.<key>, event.<key>"
        )
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}: use one of {', '.join(OPERATORS)}")
    if op in ("exists", "not_exists"):
        if value is not None:
            raise ValueError(f"{op} takes no value")
    elif op in ("lt", "lte", "gt", "gte"):
        if not (_is_int(value) or _is_date(value)):
            raise ValueError(f"{op} compares with an integer (öre, days) or a date (YYYY-MM-DD)")
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value or len(value) > _MAX_LIST or not all(map(_is_scalar, value)):
            raise ValueError(f"{op} takes a list of 1 to {_MAX_LIST} strings, integers or booleans")
    elif not _is_scalar(value):
        raise ValueError(f"{op} takes a string, an integer, a boolean or null")
    return {"field": field, "op": op, "value": value}


def holds(conditions: list[dict[str, Any]], facts: dict[str, Any]) -> bool:
    """Whether every condition holds for the facts (no conditions: always)."""
    return all(_holds(c, facts) for c in conditions)


def lookup(facts: dict[str, Any], field: str) -> Any:
    """The fact a field names, or MISSING."""
    current: Any = facts
    for key in ALIASES.get(field, field).split("."):
        if not isinstance(current, dict) or key not in current:
            return MISSING
        current = current[key]
    return current


def _holds(condition: dict[str, Any], facts: dict[str, Any]) -> bool:
    op, expected = condition["op"], condition.get("value")
    actual = lookup(facts, condition["field"])
    if op == "exists":
        return actual is not MISSING and actual is not None
    if op == "not_exists":
        return actual is MISSING or actual is None
    if op == "eq":
        return actual is not MISSING and _same(actual, expected)
    if op == "ne":
        return not (actual is not MISSING and _same(actual, expected))
    if op == "in":
        return actual is not MISSING and any(_same(actual, v) for v in expected)
    if op == "not_in":
        return not (actual is not MISSING and any(_same(actual, v) for v in expected))
    if op in ("contains", "not_contains"):
        found = _contains(actual, expected)
        return found if op == "contains" else not found
    return _compare(op, actual, expected)


def _same(actual: Any, expected: Any) -> bool:
    # 1 == True in Python; a flag and a count are different facts here.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return bool(actual == expected)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_same(item, expected) for item in actual)
    if isinstance(actual, str) and isinstance(expected, str):
        return expected.casefold() in actual.casefold()
    return False


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if _is_int(actual) and _is_int(expected):
        left, right = actual, expected
    elif _is_date(actual) and _is_date(expected):
        left, right = date.fromisoformat(actual), date.fromisoformat(expected)
    else:
        return False  # different kinds of thing are not ordered: the condition does not hold
    return {"lt": left < right, "lte": left <= right, "gt": left > right, "gte": left >= right}[op]


def _known_field(field: str) -> bool:
    if field in FIELDS:
        return True
    for prefix in OPEN_PREFIXES:
        if field.startswith(prefix):
            keys = field.removeprefix(prefix).split(".")
            return len(keys) <= _MAX_DEPTH and all(_KEY.match(k) for k in keys)
    return False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | bool)


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def render(text: str, facts: dict[str, Any]) -> str:
    """Fill ``{{ invoice.number }}``-style placeholders from the facts (unknown ones stay empty)."""

    def value(match: re.Match[str]) -> str:
        found = lookup(facts, match.group(1))
        return "" if found is MISSING or found is None else str(found)

    return _PLACEHOLDER.sub(value, text)
