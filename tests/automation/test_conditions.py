"""The condition language: data only, every operator, refusals with a reason."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvitt.automation.conditions import check, holds, render

FACTS: dict[str, Any] = {
    "customer": {
        "type": "company",
        "city": "Luleå",
        "age_days": 800,
        "email": "ekonomi@norrsken.se",
        "phone": None,
        "attributes": {"segment": "vip", "tags": ["b2b", "autogiro"], "contract": {"fee_agreed": True}},
    },
    "invoice": {"state": "overdue", "total": 31600, "remaining": 11600, "due_date": "2026-11-30", "number": 42},
    "event": {"channel": "email", "error": "550 mailbox unavailable"},
}


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("customer.type", "eq", "company", True),
        ("customer.type", "eq", "individual", False),
        ("customer.type", "ne", "individual", True),
        ("customer.segment", "eq", "vip", True),
        ("customer.attributes.segment", "in", ["vip", "gold"], True),
        ("customer.attributes.contract.fee_agreed", "eq", True, True),
        ("customer.attributes.contract.fee_agreed", "eq", 1, False),
        ("customer.attributes.missing", "eq", None, False),
        ("customer.attributes.missing", "not_exists", None, True),
        ("customer.phone", "exists", None, False),
        ("customer.email", "exists", None, True),
        ("customer.tags", "contains", "b2b", True),
        ("customer.tags", "not_contains", "b2c", True),
        ("customer.age_days", "gt", 730, True),
        ("invoice.remaining", "gt", 10000, True),
        ("invoice.remaining", "lte", 11600, True),
        ("invoice.remaining", "lt", 11600, False),
        ("invoice.total", "gte", 31601, False),
        ("invoice.state", "in", ["unpaid", "overdue"], True),
        ("invoice.state", "not_in", ["paid", "credited"], True),
        ("invoice.due_date", "lt", "2026-12-01", True),
        ("invoice.due_date", "gt", 5, False),  # a date and a number are not ordered
        ("channel", "eq", "email", True),
        ("event.error", "contains", "MAILBOX", True),
        ("invoice.metadata.plan", "eq", "fri", False),
    ],
)
def test_each_operator(field: str, op: str, value: Any, expected: bool) -> None:
    condition = check({"field": field, "op": op, "value": value})
    assert holds([condition], FACTS) is expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "customer.password", "op": "eq", "value": "x"}, "unknown field"),
        ({"field": "__import__('os')", "op": "eq", "value": "x"}, "unknown field"),
        ({"field": "customer.attributes.a b", "op": "eq", "value": "x"}, "unknown field"),
        ({"field": "invoice.total", "op": "like", "value": "x"}, "unknown operator"),
        ({"field": "invoice.total", "op": "gt", "value": "lots"}, "integer"),
        ({"field": "invoice.total", "op": "gt", "value": 1.5}, "integer"),
        ({"field": "invoice.total", "op": "gt", "value": True}, "integer"),
        ({"field": "invoice.state", "op": "in", "value": "paid"}, "list"),
        ({"field": "invoice.state", "op": "in", "value": []}, "list"),
        ({"field": "invoice.state", "op": "eq", "value": {"$ne": 1}}, "string"),
        ({"field": "customer.email", "op": "exists", "value": 1}, "no value"),
    ],
)
def test_bad_conditions_are_refused_with_a_reason(condition: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check(condition)


def test_no_conditions_always_hold_and_all_must_hold() -> None:
    assert holds([], {})
    a = check({"field": "customer.type", "op": "eq", "value": "company"})
    b = check({"field": "invoice.remaining", "op": "eq", "value": 0})
    assert holds([a], FACTS) and not holds([a, b], FACTS)


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=-(10**12), max_value=10**12))
def test_orderings_agree_with_integer_arithmetic(actual: int, bound: int) -> None:
    facts = {"invoice": {"remaining": actual}}

    def ok(op: str) -> bool:
        return holds([check({"field": "invoice.remaining", "op": op, "value": bound})], facts)

    assert ok("lt") == (actual < bound) and ok("gte") == (actual >= bound)
    assert ok("gt") == (actual > bound) and ok("lte") == (actual <= bound)
    assert ok("eq") != ok("ne")


def test_placeholders_are_filled_from_the_facts_and_nothing_else() -> None:
    text = "Faktura {{ invoice.number }} ({{customer.segment}}) {{ invoice.__class__ }} {{ nope }}"
    assert render(text, FACTS) == "Faktura 42 (vip)  "
