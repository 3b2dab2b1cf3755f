"""The one rule language of Kvitt: conditions as data, evaluated in Python and in SQL.

A condition is ``{"field": ..., "op": ..., "value": ...}``. Three features use it:

- event chains (``automation.conditions``) evaluate conditions in Python against the facts of
  an event (:func:`holds`);
- dunning policies (``dunning.policies``) turn their customer rules into SQL with
  :func:`compare_sql` and :func:`attribute` (one ``CASE`` in the tick's query);
- segments (``segments.service``) turn a whole rule (``match`` all/any over conditions on the
  customer and the customer's behaviour) into one SQL condition on ``customers``
  (:func:`customer_sql`), and the tests evaluate the same rule in Python with :func:`matches`.

The operators mean the same everywhere: a missing fact is equal to nothing (``eq`` and ``in``
fail, ``ne`` and ``not_in`` hold), things of different kinds are never ordered (``"5" > 3`` does
not hold, neither in Python nor in SQL), a flag is not a number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from kvitt.catalog.models import Item
from kvitt.core.clock import STOCKHOLM
from kvitt.customers.models import Customer
from kvitt.invoices.models import Invoice, InvoiceLine
from kvitt.subscriptions.models import Subscription, SubscriptionLine

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
ORDERING = ("lt", "lte", "gt", "gte")
MAX_LIST = 100
MAX_CONDITIONS = 20
MAX_NUMBER = 10**15  # far inside BIGINT and a float's exact integers


class MissingFact:
    """What a field names when the facts do not have it (never equal to anything)."""


MISSING = MissingFact()


# --- Python evaluation ---------------------------------------------------------------------------


def holds(conditions: list[dict[str, Any]], facts: dict[str, Any], aliases: dict[str, str] | None = None) -> bool:
    """Whether every condition holds for the facts (no conditions: always)."""
    return all(holds_one(c, facts, aliases) for c in conditions)


def matches(rule: dict[str, Any], facts: dict[str, Any]) -> bool:
    """A segment rule (``match`` all/any) in Python: what :func:`customer_sql` computes in SQL."""
    results = [holds_one(c, facts, SEGMENT_ALIASES) for c in rule.get("conditions", [])]
    if rule.get("match", "all") == "any":
        return any(results)
    return all(results)


def lookup(facts: dict[str, Any], field: str, aliases: dict[str, str] | None = None) -> Any:
    """The fact a field names, or MISSING."""
    current: Any = facts
    for key in (aliases or {}).get(field, field).split("."):
        if not isinstance(current, dict) or key not in current:
            return MISSING
        current = current[key]
    return current


def holds_one(condition: dict[str, Any], facts: dict[str, Any], aliases: dict[str, str] | None = None) -> bool:
    op, expected = condition["op"], condition.get("value")
    actual = lookup(facts, condition["field"], aliases)
    if op == "exists":
        return actual is not MISSING and actual is not None
    if op == "not_exists":
        return actual is MISSING or actual is None
    if op == "eq":
        return actual is not MISSING and same(actual, expected)
    if op == "ne":
        return not (actual is not MISSING and same(actual, expected))
    if op == "in":
        return actual is not MISSING and any(same(actual, v) for v in expected or ())
    if op == "not_in":
        return not (actual is not MISSING and any(same(actual, v) for v in expected or ()))
    if op in ("contains", "not_contains"):
        found = _contains(actual, expected)
        return found if op == "contains" else not found
    return _compare(op, actual, expected)


def same(actual: Any, expected: Any) -> bool:
    # 1 == True in Python; a flag and a count are different facts here.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return bool(actual == expected)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(same(item, expected) for item in actual)
    if isinstance(actual, str) and isinstance(expected, str):
        return expected.casefold() in actual.casefold()
    return False


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if is_number(actual) and is_int(expected):
        left, right = actual, expected
    elif is_date(actual) and is_date(expected):
        left, right = date.fromisoformat(actual), date.fromisoformat(expected)
    else:
        return False  # different kinds of thing are not ordered: the condition does not hold
    return bool({"lt": left < right, "lte": left <= right, "gt": left > right, "gte": left >= right}[op])


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A stored fact that is a number (an attribute may hold 12.5 GB); never a flag."""
    return isinstance(value, int | float | Fraction | Decimal) and not isinstance(value, bool)


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | bool)


def is_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


# --- SQL building blocks (dunning policies and segments) ------------------------------------------


def compare_sql(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    """``column op value`` with the Python semantics of :func:`holds_one` for NULL (= missing)."""
    match op:
        case "eq":
            return column == value  # type: ignore[no-any-return]
        case "ne":
            return (column != value) | column.is_(None)  # type: ignore[no-any-return]
        case "in":
            return column.in_(value)  # type: ignore[no-any-return]
        case "not_in":
            return ~column.in_(value) | column.is_(None)  # type: ignore[no-any-return]
        case "gt":
            return column > value  # type: ignore[no-any-return]
        case "gte":
            return column >= value  # type: ignore[no-any-return]
        case "lt":
            return column < value  # type: ignore[no-any-return]
        case "lte":
            return column <= value  # type: ignore[no-any-return]
        case "exists":
            return column.is_not(None)  # type: ignore[no-any-return]
        case "not_exists":
            return column.is_(None)  # type: ignore[no-any-return]
    raise ValueError(f"operator {op!r} has no SQL form for this field")


def attribute(key: str, kind: str) -> Any:
    """A customer's ``attributes[key]`` as a ``number``, ``boolean``, ``string`` or ``date`` (an
    ISO date string); NULL where the stored value is of another kind, so that one customer's
    ``"many"`` in a field a rule compares as a number is "no match" for that customer instead of
    a cast error that stops the tick (on PostgreSQL) or a silent 0 (SQLite's CAST)."""
    element = Customer.attributes[key]
    if kind in ("string", "date"):
        text = element.as_string()
        guard: ColumnElement[bool] = JsonKindIs(Customer.attributes, key, "string")
        if kind == "date":
            guard = and_(guard, text.like("____-__-__"))
        return case((guard, text), else_=None)
    # A number in a customer's free attributes (data_usage_gb, age ...) is never money: money in
    # rules comes from the öre integer columns (amounts, balances). SQLite has no exact JSON
    # numeric, so attribute numbers compare as the database's double, on both engines alike.
    value = element.as_boolean() if kind == "boolean" else element.as_float()
    return case((JsonKindIs(Customer.attributes, key, kind), value), else_=None)


def attribute_present(key: str) -> ColumnElement[bool]:
    """``attributes[key]`` is there and not JSON null."""
    return JsonKindIs(Customer.attributes, key, "present")


class JsonKindIs(FunctionElement[bool]):
    """``attributes -> key`` holds a JSON value of ``kind`` (number, boolean, string, or any
    non-null value: ``present``), per dialect."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, column: Any, key: str, kind: str) -> None:
        self.column, self.key, self.kind = column, key, kind
        super().__init__(column)


_PG_KINDS = {"number": "= 'number'", "boolean": "= 'boolean'", "string": "= 'string'", "present": "<> 'null'"}
_SQLITE_KINDS = {
    "number": "IN ('integer', 'real')",
    "boolean": "IN ('true', 'false')",
    "string": "= 'text'",
    "present": "<> 'null'",
}


@compiles(JsonKindIs, "postgresql")
def _json_kind_postgresql(element: JsonKindIs, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    key = compiler.process(literal(element.key), **kw)
    return f"(coalesce(jsonb_typeof({column} -> {key}), 'null') {_PG_KINDS[element.kind]})"


@compiles(JsonKindIs)
def _json_kind_sqlite(element: JsonKindIs, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    path = compiler.process(literal(f'$."{element.key}"'), **kw)
    return f"(coalesce(json_type({column}, {path}), 'null') {_SQLITE_KINDS[element.kind]})"


class JsonArrayHas(FunctionElement[bool]):
    """``attributes -> key`` is a JSON array with the text ``value`` as an element, per dialect."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, column: Any, key: str, value: str) -> None:
        self.column, self.key, self.value = column, key, value
        super().__init__(column)


@compiles(JsonArrayHas, "postgresql")
def _array_has_postgresql(element: JsonArrayHas, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    key = compiler.process(literal(element.key), **kw)
    value = compiler.process(literal(element.value), **kw)
    kind = f"coalesce(jsonb_typeof({column} -> {key}), '')"
    return f"({kind} = 'array' AND ({column} -> {key}) @> jsonb_build_array({value}))"


@compiles(JsonArrayHas)
def _array_has_sqlite(element: JsonArrayHas, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    path = compiler.process(literal(f'$."{element.key}"'), **kw)
    value = compiler.process(literal(element.value), **kw)
    each = f"json_each({column}, {path}) AS e"
    found = f"EXISTS (SELECT 1 FROM {each} WHERE e.type = 'text' AND e.value = {value})"  # noqa: S608 - bound value
    return f"(coalesce(json_type({column}, {path}), '') = 'array' AND {found})"


class DaysBetween(FunctionElement[int]):
    """Whole days from ``start`` (a date) to ``end`` (a date, or an ISO date string), per dialect."""

    inherit_cache = False

    def __init__(self, end: Any, start: Any) -> None:
        self.end, self.start = end, start
        super().__init__(end, start)


@compiles(DaysBetween, "postgresql")
def _days_postgresql(element: DaysBetween, compiler: Any, **kw: Any) -> str:
    end, start = compiler.process(element.end, **kw), compiler.process(element.start, **kw)
    return f"(CAST({end} AS DATE) - CAST({start} AS DATE))"


@compiles(DaysBetween)
def _days_sqlite(element: DaysBetween, compiler: Any, **kw: Any) -> str:
    end, start = compiler.process(element.end, **kw), compiler.process(element.start, **kw)
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


def years_before(today: date, years: int) -> datetime:
    """The first moment of the Swedish day ``years`` before ``today`` (28 Feb for 29 Feb)."""
    try:
        day = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        day = today.replace(year=today.year - years, day=28)
    return datetime.combine(day, time(0), tzinfo=STOCKHOLM)


# --- segments: fields over the customer and the customer's behaviour -------------------------------

TEXT_FIELDS = ("type", "delivery_method", "language", "country", "city", "postal_code", "customer_no")
SEGMENT_ALIASES = {"channel": "delivery_method"}
# Whole numbers about the customer: öre, days, counts.
NUMBER_FIELDS = (
    "age_years",
    "tenure_days",
    "open_balance",
    "last_invoice_total",
    "avg_days_late",
    "reminders_last_year",
)
COMPUTED_TEXT_FIELDS = ("payment_method",)
LIST_FIELDS = ("subscription_items", "invoiced_items")  # article numbers
LATE_FIELD = re.compile(r"^late_invoices_last_([1-9]|1[0-9]|2[0-4])$")
ATTRIBUTE_FIELD = re.compile(r"^attributes\.([A-Za-z0-9_-]{1,60})$")
TEXT_OPS = ("eq", "ne", "in", "not_in", "exists", "not_exists")
NUMBER_OPS = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "exists", "not_exists")
TENURE_OPS = ("eq", "ne", "lt", "lte", "gt", "gte")
LIST_OPS = ("contains", "not_contains")
OPEN_STATES = ("unpaid", "partly_paid", "overdue", "in_collection")
ISSUED_STATES = (*OPEN_STATES, "paid", "credited", "written_off")
AVG_LATE_WINDOW_DAYS = 365


class RuleError(ValueError):
    """A rule that cannot be saved; ``param`` names the condition (``conditions[2].value``)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def field_kind(field: str) -> str:
    """text | number | list | attribute, or RuleError naming what can be used."""
    field = SEGMENT_ALIASES.get(field, field)
    if field in TEXT_FIELDS or field in COMPUTED_TEXT_FIELDS:
        return "text"
    if field in NUMBER_FIELDS or LATE_FIELD.match(field):
        return "number"
    if field in LIST_FIELDS:
        return "list"
    if ATTRIBUTE_FIELD.match(field):
        return "attribute"
    if field.startswith("attributes.") and field.count(".") > 1:
        raise ValueError(f"{field!r} nests too deep: attributes.<key> names one key of the customer's attributes")
    known = (*TEXT_FIELDS, "channel", *COMPUTED_TEXT_FIELDS, *NUMBER_FIELDS, "late_invoices_last_<1-24>", *LIST_FIELDS)
    raise ValueError(f"unknown field {field!r}: use one of {', '.join(known)} or attributes.<key>")


def check_rule(match: str, conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conditions as stored, or RuleError saying which one is wrong and why."""
    if match not in ("all", "any"):
        raise RuleError("match is 'all' or 'any'", "match")
    if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
        raise RuleError(f"conditions is a list of at most {MAX_CONDITIONS}", "conditions")
    checked = []
    for index, condition in enumerate(conditions):
        try:
            checked.append(check_condition(condition))
        except ValueError as exc:
            raise RuleError(str(exc), f"conditions[{index}]") from exc
    return checked


def check_condition(condition: Any) -> dict[str, Any]:
    if not isinstance(condition, dict) or set(condition) - {"field", "op", "value"}:
        raise ValueError("a condition is {field, op, value}; conditions do not nest")
    field, op, value = condition.get("field"), condition.get("op", "eq"), condition.get("value")
    if not isinstance(field, str):
        raise ValueError("field is a text")
    kind = field_kind(field)
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}: use one of {', '.join(OPERATORS)}")
    allowed = {"text": TEXT_OPS, "number": NUMBER_OPS, "list": LIST_OPS, "attribute": OPERATORS}[kind]
    if field in ("age_years", "tenure_days"):
        allowed = TENURE_OPS
    if op not in allowed:
        raise ValueError(f"{field} takes the operators {', '.join(allowed)}")
    _check_value(field, kind, op, value)
    return {"field": field, "op": op, "value": value}


def _check_value(field: str, kind: str, op: str, value: Any) -> None:
    if op in ("exists", "not_exists"):
        if value is not None:
            raise ValueError(f"{op} takes no value")
        return
    values = value if op in ("in", "not_in") else [value]
    if op in ("in", "not_in") and (not isinstance(value, list) or not 0 < len(value) <= MAX_LIST):
        raise ValueError(f"{op} takes a list of 1 to {MAX_LIST} values")
    if not all(is_scalar(v) and v is not None for v in values):
        raise ValueError("values are texts, whole numbers or true/false")
    if len({_kind_of(v) for v in values}) > 1:
        raise ValueError("a list compares with values of one kind")
    if kind in ("text", "list") and not all(isinstance(v, str) for v in values):
        raise ValueError(f"{field} is text: compare it with text")
    if any(is_int(v) and abs(v) > MAX_NUMBER for v in values):
        raise ValueError(f"numbers are at most {MAX_NUMBER:,} (öre, days, counts)")
    if kind == "number" and not all(is_int(v) for v in values):
        raise ValueError(f"{field} is a whole number: compare it with a whole number")
    if op in ORDERING and not (is_int(value) or is_date(value)):
        raise ValueError(f"{op} compares with a whole number (öre, days) or a date (YYYY-MM-DD)")
    if op in ("contains", "not_contains") and kind == "attribute" and not isinstance(value, str):
        raise ValueError(f"{op} looks for a text")


def _kind_of(value: Any) -> str:
    return "boolean" if isinstance(value, bool) else "number" if isinstance(value, int) else "string"


def customer_sql(
    match: str,
    conditions: list[dict[str, Any]],
    tenant_id: int,
    today: date,
    only: Sequence[int] | None = None,
    *,
    table: bool | frozenset[str] = False,
) -> ColumnElement[bool]:
    """The rule as one SQL condition on ``customers`` (set-based: one grouped query for each
    behaviour field, scoped to the tenant). ``only``: the query asks about these customers alone
    (and must keep to them), so the behaviour queries read their rows only (``behaviour``).
    ``table``: behaviour fields read ``customer_behaviour`` instead (``behaviour_table``; the
    caller has checked that it is current for ``today``), or only the fields named (the
    table's ``DATELESS`` facts, on a day it was not built for: ``behaviour_table.answers``)."""
    parts = [condition_sql(c, tenant_id, today, only, table=table) for c in conditions]
    if not parts:
        return true() if match == "all" else false()
    return and_(*parts) if match == "all" else or_(*parts)


def condition_sql(
    condition: dict[str, Any],
    tenant_id: int,
    today: date,
    only: Sequence[int] | None = None,
    *,
    table: bool | frozenset[str] = False,
) -> ColumnElement[bool]:
    field, op, value = (
        SEGMENT_ALIASES.get(condition["field"], condition["field"]),
        condition["op"],
        condition.get("value"),
    )
    kind = field_kind(field)
    if kind == "attribute":
        return _attribute_sql(field.removeprefix("attributes."), op, value)  # type: ignore[no-any-return]
    if kind == "list":
        found = exists(_items_query(field, tenant_id, today).where(_article_column(field) == value))
        return found if op == "contains" else ~found
    if field in ("age_years", "tenure_days"):
        return _tenure_sql(field, op, value if isinstance(value, int) else 0, today)
    if field in TEXT_FIELDS:
        return compare_sql(getattr(Customer, field), op, value)
    if table is True or (isinstance(table, frozenset) and field in table):
        from kvitt.segments import behaviour_table  # one row per customer (behaviour_table.answers)

        return behaviour_table.condition(field, op, value, tenant_id)
    from kvitt.segments import behaviour  # set-based queries over invoices, events, payments

    return behaviour.condition(field, op, value, tenant_id, today, only)


def reads_behaviour(condition: dict[str, Any]) -> bool:
    """Whether :func:`condition_sql` makes the condition a grouped query over the tenant's
    invoices, events or payments (``segments.behaviour``)."""
    field = SEGMENT_ALIASES.get(condition["field"], condition["field"])
    if field_kind(field) in ("attribute", "list"):
        return False
    return field not in ("age_years", "tenure_days") and field not in TEXT_FIELDS


def _attribute_sql(key: str, op: str, value: Any) -> Any:
    if op == "exists":
        return attribute_present(key)
    if op == "not_exists":
        return ~attribute_present(key)
    if op in ("contains", "not_contains"):
        # a text that holds the value (case-insensitively), or a list that has it as an element
        text = attribute(key, "string")
        in_text = func.lower(text).contains(value.lower(), autoescape=True) & text.is_not(None)
        found = or_(in_text, JsonArrayHas(Customer.attributes, key, value))
        return found if op == "contains" else ~found
    sample = value[0] if isinstance(value, list) else value
    kind = "boolean" if isinstance(sample, bool) else "number" if is_int(sample) else "string"
    if op in ORDERING and isinstance(value, str):
        kind = "date"
    return compare_sql(attribute(key, kind), op, value)


def cutoff_day(field: str, today: date, n: int) -> date:
    """The last day a customer may have been created on to be ``n`` (years or days) old today."""
    if field == "tenure_days":
        return today - timedelta(days=n)
    try:
        return today.replace(year=today.year - n)
    except ValueError:  # 29 February
        return today.replace(year=today.year - n, day=28)


def _tenure_sql(field: str, op: str, value: int, today: date) -> ColumnElement[bool]:
    """Age as a customer by comparing ``created_at`` with the start of a Swedish day: no date
    arithmetic in SQL, and an index on created_at can serve it."""

    def at_least(n: int) -> ColumnElement[bool]:
        if n <= 0:
            return true()
        day = cutoff_day(field, today, n) + timedelta(days=1)
        return Customer.created_at < datetime.combine(day, time(0), tzinfo=STOCKHOLM)

    match op:
        case "gte":
            return at_least(value)
        case "gt":
            return at_least(value + 1)
        case "lt":
            return ~at_least(value)
        case "lte":
            return ~at_least(value + 1)
        case "eq":
            return and_(at_least(value), ~at_least(value + 1))
        case "ne":
            return ~and_(at_least(value), ~at_least(value + 1))
        case "exists":
            return true()
        case _:
            return false()


def _own_invoices(tenant_id: int) -> list[ColumnElement[bool]]:
    return [
        Invoice.tenant_id == tenant_id,
        Invoice.customer_id == Customer.id,
        Invoice.kind == "invoice",
        Invoice.state.in_(ISSUED_STATES),
    ]


def _article_column(field: str) -> Any:
    return Item.article_no if field == "subscription_items" else InvoiceLine.article_no


def _items_query(field: str, tenant_id: int, today: date) -> Any:
    if field == "subscription_items":
        return (
            select(SubscriptionLine.id)
            .join(Subscription, Subscription.id == SubscriptionLine.subscription_id)
            .join(Item, Item.id == SubscriptionLine.item_id)
            .where(
                Subscription.tenant_id == tenant_id,
                SubscriptionLine.tenant_id == tenant_id,
                Item.tenant_id == tenant_id,
                Subscription.customer_id == Customer.id,
                Subscription.canceled_at.is_(None),
                or_(Subscription.end_date.is_(None), Subscription.end_date >= today),
                SubscriptionLine.valid_from <= today,
                or_(SubscriptionLine.valid_to.is_(None), SubscriptionLine.valid_to >= today),
            )
            .correlate(Customer)
        )
    return (
        select(InvoiceLine.id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoiceLine.tenant_id == tenant_id, *_own_invoices(tenant_id))
        .correlate(Customer)
    )
