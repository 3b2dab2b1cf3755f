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

  customer.segments   the ids of the tenant's segments the customer is in (``contains``)

Amounts are integers of öre, dates ISO strings (``2026-12-31``). The operators are evaluated
by ``segments.rules``, the one evaluator dunning policies and segments use too.
"""

from __future__ import annotations

import re
from typing import Any

from kvitt.segments import rules

OPERATORS = rules.OPERATORS
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
    "customer.segments",
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


MISSING = rules.MISSING


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
    """Whether every condition holds for the facts (no conditions: always): the one evaluator
    (``segments.rules``), with this language's short names."""
    return rules.holds(conditions, facts, ALIASES)


def lookup(facts: dict[str, Any], field: str) -> Any:
    """The fact a field names, or MISSING."""
    return rules.lookup(facts, field, ALIASES)


def _known_field(field: str) -> bool:
    if field in FIELDS:
        return True
    for prefix in OPEN_PREFIXES:
        if field.startswith(prefix):
            keys = field.removeprefix(prefix).split(".")
            return len(keys) <= _MAX_DEPTH and all(_KEY.match(k) for k in keys)
    return False


_is_int = rules.is_int
_is_scalar = rules.is_scalar
_is_date = rules.is_date


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def render(text: str, facts: dict[str, Any]) -> str:
    """Fill ``{{ invoice.number }}``-style placeholders from the facts (unknown ones stay empty)."""

    def value(match: re.Match[str]) -> str:
        found = lookup(facts, match.group(1))
        return "" if found is MISSING or found is None else str(found)

    return _PLACEHOLDER.sub(value, text)
