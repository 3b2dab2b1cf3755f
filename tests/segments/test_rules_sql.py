"""The rule language in SQL equals the same rule in Python: per operator, and by Hypothesis."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kvitt.core.db import Database
from kvitt.customers.models import Customer
from kvitt.segments import behaviour_table, rules
from tests.segments.helpers import Cust, Inv, clear, facts, write

TODAY = date(2026, 12, 6)


def sql_members(
    db: Database, tenant_id: int, rule: dict[str, Any], only: list[int] | None = None, *, table: bool = False
) -> set[int]:
    """The customers the SQL holds for; ``only``: asked about those alone (as ``memberships``);
    ``table``: behaviour read from ``customer_behaviour`` (built for TODAY by the caller)."""
    with db.read() as session:
        where = rules.customer_sql(rule["match"], rule["conditions"], tenant_id, TODAY, only, table=table)
        query = select(Customer.id).where(Customer.tenant_id == tenant_id, where)
        if only is not None:
            query = query.where(Customer.id.in_(only))
        return set(session.scalars(query))


def python_members(ids: list[int], customers: list[Cust], rule: dict[str, Any]) -> set[int]:
    return {i for i, c in zip(ids, customers, strict=True) if rules.matches(rule, facts(c, TODAY))}


CUSTOMERS = [
    Cust(attributes={"plan": "Medium", "gb": 12.5, "autogiro": True, "contract_end": "2027-01-31"}),
    Cust(
        type="company",
        language="en",
        delivery_method="sms",
        city="Luleå",
        attributes={"plan": "Global Plus", "gb": 3, "contract_end": "2026-12-31", "tags": "b2b vip", "list": ["vip"]},
        created_days_ago=900,
        invoices=[Inv(state="paid", remaining=0, due=-40, paid_on=[-30]), Inv(state="overdue", due=-5)],
        payments=[("bankgiro", -30), ("swish", -20)],
    ),
    Cust(
        attributes={"plan": 5, "gb": "many"},
        created_days_ago=3000,
        invoices=[
            Inv(state="paid", total=20000, remaining=0, due=-70, paid_on=[-71], reminders=[-60]),
            Inv(state="paid", total=30000, remaining=0, due=-40, paid_on=[-41]),
            Inv(state="unpaid", total=40000, remaining=40000, due=10, reminders=[-400]),
        ],
        payments=[("card", -41)],
    ),
    Cust(attributes={}, created_days_ago=0),
]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "attributes.plan", "op": "eq", "value": "Medium"}, {0}),
        ({"field": "attributes.plan", "op": "ne", "value": "Medium"}, {1, 2, 3}),
        ({"field": "attributes.plan", "op": "in", "value": ["Medium", "Global Plus"]}, {0, 1}),
        ({"field": "attributes.plan", "op": "not_in", "value": ["Medium"]}, {1, 2, 3}),
        ({"field": "attributes.plan", "op": "eq", "value": 5}, {2}),  # a number is not the text "5"
        ({"field": "attributes.gb", "op": "gt", "value": 10}, {0}),  # 12.5 > 10; "many" is not a number
        ({"field": "attributes.gb", "op": "lte", "value": 3}, {1}),
        ({"field": "attributes.gb", "op": "gte", "value": 3}, {0, 1}),
        ({"field": "attributes.gb", "op": "lt", "value": 4}, {1}),
        ({"field": "attributes.autogiro", "op": "eq", "value": True}, {0}),
        ({"field": "attributes.contract_end", "op": "lt", "value": "2027-01-01"}, {1}),
        ({"field": "attributes.plan", "op": "exists", "value": None}, {0, 1, 2}),
        ({"field": "attributes.plan", "op": "not_exists", "value": None}, {3}),
        ({"field": "attributes.tags", "op": "contains", "value": "VIP"}, {1}),
        ({"field": "attributes.tags", "op": "not_contains", "value": "vip"}, {0, 2, 3}),
        ({"field": "attributes.list", "op": "contains", "value": "vip"}, {1}),
        ({"field": "attributes.list", "op": "contains", "value": "vi"}, set()),  # a list has elements
        ({"field": "type", "op": "eq", "value": "company"}, {1}),
        ({"field": "language", "op": "ne", "value": "sv"}, {1}),
        ({"field": "channel", "op": "eq", "value": "sms"}, {1}),
        ({"field": "city", "op": "in", "value": ["Luleå", "Umeå"]}, {1}),
        ({"field": "city", "op": "not_exists", "value": None}, {0, 2, 3}),
        ({"field": "open_balance", "op": "gt", "value": 0}, {1, 2}),
        ({"field": "last_invoice_total", "op": "eq", "value": 40000}, {2}),
        ({"field": "late_invoices_last_1", "op": "gte", "value": 1}, {1}),
        ({"field": "late_invoices_last_3", "op": "gte", "value": 1}, {1}),
        ({"field": "late_invoices_last_3", "op": "eq", "value": 0}, {0, 2, 3}),
        ({"field": "avg_days_late", "op": "gt", "value": 5}, {1}),  # (10 + 5) / 2
        ({"field": "reminders_last_year", "op": "eq", "value": 1}, {2}),  # -400 days is too old
        ({"field": "payment_method", "op": "eq", "value": "swish"}, {1}),
        ({"field": "payment_method", "op": "not_exists", "value": None}, {0, 3}),
        ({"field": "tenure_days", "op": "lt", "value": 1}, {3}),
        ({"field": "age_years", "op": "gte", "value": 2}, {1, 2}),
        ({"field": "age_years", "op": "gt", "value": 2}, {2}),
        ({"field": "tenure_days", "op": "eq", "value": 900}, {1}),
    ],
)
def test_each_operator_in_sql_and_python(
    db: Database, tenant_a: tuple[int, str], condition: dict[str, Any], expected: set[int]
) -> None:
    tenant_id = tenant_a[0]
    rule = {"match": "all", "conditions": rules.check_rule("all", [condition])}
    with db.transaction() as session:
        ids = write(session, tenant_id, CUSTOMERS, TODAY)
        behaviour_table.rebuild(session, tenant_id, TODAY)
    assert sql_members(db, tenant_id, rule) == {ids[i] for i in expected}
    assert sql_members(db, tenant_id, rule, table=True) == {ids[i] for i in expected}
    assert python_members(ids, CUSTOMERS, rule) == {ids[i] for i in expected}


def test_all_and_any(db: Database, tenant_a: tuple[int, str]) -> None:
    tenant_id = tenant_a[0]
    conditions = [
        {"field": "attributes.plan", "op": "eq", "value": "Medium"},
        {"field": "type", "op": "eq", "value": "company"},
    ]
    with db.transaction() as session:
        ids = write(session, tenant_id, CUSTOMERS, TODAY)
    assert sql_members(db, tenant_id, {"match": "all", "conditions": conditions}) == set()
    assert sql_members(db, tenant_id, {"match": "any", "conditions": conditions}) == {ids[0], ids[1]}
    assert sql_members(db, tenant_id, {"match": "all", "conditions": []}) == set(ids)
    assert sql_members(db, tenant_id, {"match": "any", "conditions": []}) == set()


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "attributes.plan.name", "op": "eq", "value": "x"}, "nests too deep"),
        ({"field": "shoe_size", "op": "eq", "value": 42}, "unknown field"),
        ({"field": "type", "op": "eq", "value": 3}, "is text"),
        ({"field": "open_balance", "op": "gt", "value": "many"}, "whole number"),
        ({"field": "attributes.gb", "op": "gt", "value": "many"}, "compares with a whole number"),
        ({"field": "attributes.gb", "op": "between", "value": 1}, "unknown operator"),
        ({"field": "type", "op": "gt", "value": "a"}, "takes the operators"),
        ({"field": "late_invoices_last_25", "op": "gt", "value": 1}, "unknown field"),
        ({"field": "attributes.x", "op": "in", "value": ["a", 1]}, "one kind"),
        ({"field": "attributes.x", "op": "exists", "value": 1}, "takes no value"),
        ({"match": "all", "conditions": []}, "do not nest"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(condition: dict[str, Any], message: str) -> None:
    with pytest.raises(rules.RuleError, match=message) as refused:
        rules.check_rule("all", [condition])
    assert refused.value.param == "conditions[0]"


# --- Hypothesis: random customers and rules, SQL == Python ----------------------------------------

TEXTS = st.sampled_from(["Medium", "Global Plus", "Bas", "2026-12-31", "2027-03-01", ""])
ATTRIBUTE = st.one_of(
    TEXTS, st.integers(-5, 50), st.floats(-5, 50, allow_nan=False).map(lambda f: round(f, 2)), st.booleans(), st.none()
)
ATTRIBUTE = st.one_of(ATTRIBUTE, st.lists(st.sampled_from(["med", "Medium", "vip", "plus"]), max_size=3))
KEYS = ("plan", "gb", "end")

invoices = st.builds(
    Inv,
    state=st.sampled_from(["draft", "unpaid", "partly_paid", "overdue", "paid", "credited", "written_off"]),
    total=st.integers(0, 50000),
    remaining=st.integers(0, 50000),
    due=st.integers(-400, 30),
    paid_on=st.lists(st.integers(-420, 0), max_size=2),
    went_overdue=st.booleans(),
    reminders=st.lists(st.integers(-400, 0), max_size=2),
)
customers = st.builds(
    Cust,
    type=st.sampled_from(["individual", "company"]),
    language=st.sampled_from(["sv", "en"]),
    delivery_method=st.sampled_from(["email", "sms", "letter"]),
    city=st.sampled_from([None, "Luleå", "Malmö"]),
    attributes=st.dictionaries(st.sampled_from(KEYS), ATTRIBUTE, max_size=3),
    created_days_ago=st.integers(0, 2000),
    invoices=st.lists(invoices, max_size=4),
    payments=st.lists(st.tuples(st.sampled_from(["bankgiro", "swish", "card"]), st.integers(-100, 0)), max_size=2),
)


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["attribute", "text", "number", "method"]))
    if kind == "attribute":
        key = draw(st.sampled_from(KEYS))
        op = draw(st.sampled_from(rules.OPERATORS))
        if op in ("exists", "not_exists"):
            value: Any = None
        elif op in rules.ORDERING:
            value = draw(st.one_of(st.integers(-5, 50), st.sampled_from(["2026-12-31", "2027-01-01"])))
        elif op in ("in", "not_in"):
            value = draw(
                st.one_of(
                    st.lists(TEXTS, min_size=1, max_size=3), st.lists(st.integers(-5, 50), min_size=1, max_size=3)
                )
            )
        elif op in ("contains", "not_contains"):
            value = draw(st.sampled_from(["med", "plus", "2026", "vip", "Medium"]))
        else:
            value = draw(st.one_of(TEXTS, st.integers(-5, 50), st.booleans()))
        return {"field": f"attributes.{key}", "op": op, "value": value}
    if kind == "text":
        field = draw(st.sampled_from(["type", "language", "channel", "city"]))
        op = draw(st.sampled_from(rules.TEXT_OPS))
        values = ["individual", "company", "sv", "en", "email", "sms", "Luleå"]
        value = None if op in ("exists", "not_exists") else draw(st.sampled_from(values))
        if op in ("in", "not_in"):
            value = [value, draw(st.sampled_from(values))]
        return {"field": field, "op": op, "value": value}
    if kind == "method":
        op = draw(st.sampled_from(["eq", "ne", "exists", "not_exists"]))
        value = None if op in ("exists", "not_exists") else draw(st.sampled_from(["swish", "card", "bankgiro"]))
        return {"field": "payment_method", "op": op, "value": value}
    field = draw(
        st.sampled_from(
            [
                "open_balance",
                "last_invoice_total",
                "avg_days_late",
                "reminders_last_year",
                "late_invoices_last_1",
                "late_invoices_last_3",
                "tenure_days",
                "age_years",
            ]
        )
    )
    ops = (
        rules.TENURE_OPS
        if field in ("tenure_days", "age_years")
        else ("eq", "ne", "lt", "lte", "gt", "gte", "exists", "not_exists")
    )
    op = draw(st.sampled_from(ops))
    value = (
        None
        if op in ("exists", "not_exists")
        else draw(st.integers(0, 60000 if "balance" in field or "total" in field else 400))
    )
    return {"field": field, "op": op, "value": value}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    data=st.lists(customers, min_size=1, max_size=5),
    match=st.sampled_from(["all", "any"]),
    conds=st.lists(conditions(), min_size=1, max_size=3),
)
def test_sql_evaluation_equals_python_evaluation(
    db: Database, tenant_a: tuple[int, str], data: list[Cust], match: str, conds: list[dict[str, Any]]
) -> None:
    tenant_id = tenant_a[0]
    rule = {"match": match, "conditions": rules.check_rule(match, conds)}
    with db.transaction() as session:
        clear(session, tenant_id)
        ids = write(session, tenant_id, data, TODAY)
        behaviour_table.rebuild(session, tenant_id, TODAY)
    expected = python_members(ids, data, rule)
    assert sql_members(db, tenant_id, rule) == expected
    # The same rule over the behaviour table (what a count reads on the day it was built for).
    assert sql_members(db, tenant_id, rule, table=True) == expected
    # Asked about some of the customers only (a page view's, a batch's): their rows are read
    # alone, and the answer for them is the same.
    some = ids[::2]
    assert sql_members(db, tenant_id, rule, only=some) == expected & set(some)
