"""The customer's behaviour as set-based SQL: each fact is one grouped query over the tenant's
invoices, events or payments (one row per customer who has the fact), and a condition on it is
``customers.id IN (those whose value holds)``, plus ``NOT IN (all of them)`` when the fact's
default (0, or missing) holds too. PostgreSQL and SQLite run these as hash joins over one pass of
each table, instead of one correlated lookup per customer (bench/segments.py).

``only`` (a list of customer ids) narrows every grouped query to those customers' rows: asking
which segments the few customers of a page view or a delivery batch are in (``memberships``)
then reads their invoices only, never the whole tenant's. A condition made with ``only`` holds
for those customers alone: the caller's query must keep to them.

The meaning of every fact is documented in docs/engagement.md and pinned by the Hypothesis test
that compares this SQL with the Python evaluation (tests/segments/test_rules_sql.py), with and
without ``only``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, func, literal, or_, select
from sqlalchemy.sql import Select

from kvitt.core.clock import STOCKHOLM
from kvitt.customers.models import Customer
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.payments.models import Payment
from kvitt.segments import rules

AVG_LATE_WINDOW_DAYS = 365
# What a customer without any row has: a sum or a count is 0, anything else is missing.
DEFAULTS: dict[str, Any] = {"open_balance": 0, "reminders_last_year": 0}


def condition(
    field: str, op: str, value: Any, tenant_id: int, today: date, only: Sequence[int] | None = None
) -> ColumnElement[bool]:
    values = _values(field, tenant_id, today, only).subquery()
    holds = Customer.id.in_(select(values.c.customer_id).where(rules.compare_sql(values.c.value, op, value)))
    if default_holds(field, op, value):
        return or_(holds, Customer.id.not_in(select(values.c.customer_id)))
    return holds


def default_holds(field: str, op: str, value: Any) -> bool:
    """Whether the condition holds for a customer who has no row for the fact (no invoices,
    reminders or payments): a count or a sum is 0 then, anything else is missing."""
    default = 0 if rules.LATE_FIELD.match(field) else DEFAULTS.get(field)
    return rules.holds_one({"field": "x", "op": op, "value": value}, {"x": default})


def _values(field: str, tenant_id: int, today: date, only: Sequence[int] | None) -> Select[Any, Any]:
    late = rules.LATE_FIELD.match(field)
    if late:
        return _late_count(int(late.group(1)), tenant_id, today, only)
    makers = {
        "open_balance": lambda: open_balance(tenant_id, only),
        "last_invoice_total": lambda: last_invoice_total(tenant_id, only),
        "avg_days_late": lambda: _avg_days_late(tenant_id, today, only),
        "reminders_last_year": lambda: reminders_last_year(tenant_id, today, only),
        "payment_method": lambda: payment_method(tenant_id, only),
    }
    return makers[field]()


def _theirs(only: Sequence[int] | None) -> list[ColumnElement[bool]]:
    """The invoices of the ``only`` customers (no condition without ``only``)."""
    return [] if only is None else [Invoice.customer_id.in_(sorted(set(only)))]


def _own_invoices(tenant_id: int, only: Sequence[int] | None) -> list[ColumnElement[bool]]:
    return [
        Invoice.tenant_id == tenant_id,
        Invoice.kind == "invoice",
        Invoice.state.in_(rules.ISSUED_STATES),
        *_theirs(only),
    ]


def open_balance(tenant_id: int, only: Sequence[int] | None) -> Select[Any, Any]:
    return (
        select(Invoice.customer_id.label("customer_id"), func.sum(Invoice.remaining).label("value"))
        .where(Invoice.tenant_id == tenant_id, Invoice.state.in_(rules.OPEN_STATES), *_theirs(only))
        .group_by(Invoice.customer_id)
    )


def _newest_first() -> Any:
    return func.row_number().over(partition_by=Invoice.customer_id, order_by=Invoice.id.desc())


def last_invoice_total(tenant_id: int, only: Sequence[int] | None) -> Select[Any, Any]:
    ranked = (
        select(Invoice.customer_id.label("customer_id"), Invoice.total.label("value"), _newest_first().label("rn"))
        .where(*_own_invoices(tenant_id, only))
        .subquery()
    )
    return select(ranked.c.customer_id, ranked.c.value).where(ranked.c.rn == 1)


def _invoice_events(tenant_id: int, only: Sequence[int] | None) -> Any:
    """Per invoice: whether it was ever marked overdue, and the day of its last payment."""
    theirs = []
    if only is not None:
        invoice_ids = select(Invoice.id).where(Invoice.tenant_id == tenant_id, *_theirs(only))
        theirs = [InvoiceEvent.invoice_id.in_(invoice_ids)]
    return (
        select(
            InvoiceEvent.invoice_id.label("invoice_id"),
            func.max(case((InvoiceEvent.type == "overdue", 1), else_=0)).label("went_overdue"),
            func.max(case((InvoiceEvent.type == "payment", InvoiceEvent.data["date"].as_string()), else_=None)).label(
                "paid_on"
            ),
        )
        .where(InvoiceEvent.tenant_id == tenant_id, InvoiceEvent.type.in_(("overdue", "payment")), *theirs)
        .group_by(InvoiceEvent.invoice_id)
        .subquery()
    )


def _late_count(last: int, tenant_id: int, today: date, only: Sequence[int] | None) -> Select[Any, Any]:
    """How many of the customer's ``last`` newest invoices (by id) were late: paid after the due
    date, open past it, or marked overdue at some point."""
    ranked = late_ranked(tenant_id, today, only)
    return (
        select(ranked.c.customer_id, func.sum(ranked.c.late).label("value"))
        .where(ranked.c.rn <= last)
        .group_by(ranked.c.customer_id)
    )


def late_ranked(tenant_id: int, today: date, only: Sequence[int] | None) -> Any:
    """Per issued invoice: its customer, ``late`` (1 or 0) and ``rn`` (1 = the customer's newest)."""
    events = _invoice_events(tenant_id, only)
    due = cast(Invoice.due_date, String)
    late = or_(
        and_(Invoice.state.in_(rules.OPEN_STATES), Invoice.due_date < today),
        events.c.went_overdue == 1,
        events.c.paid_on > due,
    )
    ranked = (
        select(
            Invoice.customer_id.label("customer_id"),
            case((late, 1), else_=0).label("late"),
            _newest_first().label("rn"),
        )
        .select_from(Invoice)
        .outerjoin(events, events.c.invoice_id == Invoice.id)
        .where(*_own_invoices(tenant_id, only))
        .subquery()
    )
    return ranked


def _avg_days_late(tenant_id: int, today: date, only: Sequence[int] | None) -> Select[Any, Any]:
    days = late_days(tenant_id, today, only)
    return select(days.c.customer_id, func.avg(days.c.days).label("value")).group_by(days.c.customer_id)


def late_days(tenant_id: int, today: date, only: Sequence[int] | None) -> Any:
    """Per issued invoice due in the last :data:`AVG_LATE_WINDOW_DAYS` days: its customer and
    ``days`` late (0 when on time): paid invoices to their last payment, open ones to today."""
    events = _invoice_events(tenant_id, only)
    due = cast(Invoice.due_date, String)
    end = case(
        (Invoice.state.in_(rules.OPEN_STATES), literal(today.isoformat(), String)),
        (and_(Invoice.state == "paid", events.c.paid_on.is_not(None)), events.c.paid_on),
        else_=due,
    )
    days = rules.DaysBetween(end, due)
    return (
        select(Invoice.customer_id.label("customer_id"), case((days > 0, days), else_=0).label("days"))
        .select_from(Invoice)
        .outerjoin(events, events.c.invoice_id == Invoice.id)
        .where(
            *_own_invoices(tenant_id, only),
            Invoice.due_date.is_not(None),
            Invoice.due_date >= today - timedelta(days=AVG_LATE_WINDOW_DAYS),
            Invoice.due_date <= today,
        )
        .subquery()
    )


def reminders_last_year(tenant_id: int, today: date, only: Sequence[int] | None) -> Select[Any, Any]:
    since = datetime.combine(today - timedelta(days=365), time(0), tzinfo=STOCKHOLM)
    return (
        select(Invoice.customer_id.label("customer_id"), func.count(InvoiceEvent.id).label("value"))
        .join(Invoice, and_(Invoice.id == InvoiceEvent.invoice_id, Invoice.tenant_id == tenant_id))
        .where(
            InvoiceEvent.tenant_id == tenant_id,
            InvoiceEvent.type == "reminder_sent",
            InvoiceEvent.at >= since,
            *_theirs(only),
        )
        .group_by(Invoice.customer_id)
    )


def payment_method(tenant_id: int, only: Sequence[int] | None) -> Select[Any, Any]:
    """The source of the customer's newest payment (by date, then id)."""
    ranked = (
        select(
            Payment.customer_id.label("customer_id"),
            Payment.source.label("value"),
            func.row_number()
            .over(partition_by=Payment.customer_id, order_by=(Payment.date.desc(), Payment.id.desc()))
            .label("rn"),
        )
        .where(
            Payment.tenant_id == tenant_id,
            Payment.customer_id.is_not(None),
            Payment.amount > 0,
            *([] if only is None else [Payment.customer_id.in_(sorted(set(only)))]),
        )
        .subquery()
    )
    return select(ranked.c.customer_id, ranked.c.value).where(ranked.c.rn == 1)
