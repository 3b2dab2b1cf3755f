"""``customer_behaviour``: every customer's behaviour facts computed once, so that a segment
count at a million customers reads one narrow row per customer instead of grouping the tenant's
invoices, invoice events and payments at every count (bench/segments.py, bench/RESULTS.md).

The facts mean exactly what ``segments.behaviour`` computes (the same grouped queries fill the
table), as of the business day ``computed_on``. Three facts move with the date alone (late: an
open invoice passes its due date; average days late: open invoices grow a day later and the
window moves; reminders in the last year), so the table answers only on the day it was built
for (:func:`current`); on any other day the rules group the invoices as before (exact, slower).

Who keeps it current:

- :func:`rebuild` for the whole tenant: the daily segments job (after the overdue sweep and
  dunning) and ``kvitt segments rebuild-behaviour``; one set-based ``INSERT ... SELECT`` with
  ``ON CONFLICT`` update;
- the same for the customers a batch of ``invoice.`` events touched (payments, reminders,
  overdue, issue, credit: every change of an invoice is on its timeline and published), by the
  subscriber in ``segments.jobs``, which skips the events that change no fact (sent, opened,
  messages, clicks). Until the worker has handled an event the row is behind by that
  event (the outbox's usual delay);
- :func:`refresh` for the customers of a payment that reaches no invoice (it publishes no
  ``invoice.`` event), called by the payments service in the payment's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, Integer, and_, cast, func, literal, literal_column, not_, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from kvitt.core.db import is_postgresql, utcnow
from kvitt.customers.models import Customer
from kvitt.payments import hooks as payment_hooks
from kvitt.segments import behaviour, rules
from kvitt.segments.models import BehaviourBuild, CustomerBehaviour

LATE_BITS = 24  # late_invoices_last_<1-24>: the newest 24 invoices' flags
# An average of days late is below this (27,000 years): a rule's value is clamped into
# [-1, MAX_DAYS] before it is multiplied by a count, so that the product stays far inside BIGINT
# whatever number (up to 10**15) the rule names, and means the same.
MAX_DAYS = 10**7
COLUMNS = (
    "tenant_id",
    "customer_id",
    "open_balance",
    "last_invoice_total",
    "late_mask",
    "late_days_sum",
    "late_days_count",
    "reminders_last_year",
    "payment_method",
    "computed_on",
)
FACTS = COLUMNS[2:-1]
# The facts no date moves (what is left to pay, the newest invoice's total, how the customer paid
# last): the subscriber and :func:`refresh` keep them as events happen, so the table answers them
# on any day after it was first built, not only on the day it was built for.
DATELESS = frozenset({"open_balance", "last_invoice_total", "payment_method"})


# --- keeping it ------------------------------------------------------------------------------------


def current(session: Session, tenant_id: int, today: date) -> bool:
    """Whether the tenant's table was built for ``today`` (then every row is today's)."""
    built = session.scalar(select(BehaviourBuild.built_on).where(BehaviourBuild.tenant_id == tenant_id))
    return built == today


def answers(session: Session, tenant_id: int, today: date) -> bool | frozenset[str]:
    """Which behaviour fields the table answers ``today``: every one (True) on the day it was
    built for; the :data:`DATELESS` ones on another day (late, average days late and reminders
    in the last year move with the date alone, so those group the invoices then); none (False)
    for a tenant whose table was never built."""
    built = session.scalar(select(BehaviourBuild.built_on).where(BehaviourBuild.tenant_id == tenant_id))
    if built is None:
        return False
    return True if built == today else DATELESS


def is_built(session: Session, tenant_id: int) -> bool:
    return session.scalar(select(BehaviourBuild.tenant_id).where(BehaviourBuild.tenant_id == tenant_id)) is not None


def rebuild(session: Session, tenant_id: int, today: date, only: Sequence[int] | None = None) -> None:
    """The rows of the tenant's customers (or of the ``only`` ones) computed for ``today``, in the
    caller's transaction; a whole-tenant rebuild also records the day (:func:`current`)."""
    dialect: Any = postgresql if is_postgresql(session) else sqlite
    insert = dialect.insert(CustomerBehaviour).from_select(COLUMNS, _rows(tenant_id, today, only))
    kept = {name: insert.excluded[name] for name in COLUMNS[2:]}
    # A row whose facts did not change is left as it is: the daily rebuild then rewrites only
    # the customers whose behaviour moved, not a million row versions for autovacuum to clear
    # (the build's day, not the row's computed_on, says for which day the table answers).
    changed = or_(*(getattr(CustomerBehaviour, name).is_distinct_from(insert.excluded[name]) for name in FACTS))
    session.execute(insert.on_conflict_do_update(index_elements=["tenant_id", "customer_id"], set_=kept, where=changed))
    if only is None:
        if is_postgresql(session):
            # The planner's statistics of the table just (re)written: until autovacuum looks, it
            # takes a million rows for a few and joins them to customers by a nested loop
            # (bench/RESULTS.md; PostgreSQL manual 14.4.9). ANALYZE may run in a transaction.
            session.execute(text("ANALYZE customer_behaviour"))
        mark = dialect.insert(BehaviourBuild).values(tenant_id=tenant_id, built_on=today, built_at=utcnow())
        session.execute(
            mark.on_conflict_do_update(
                index_elements=["tenant_id"], set_={"built_on": today, "built_at": mark.excluded.built_at}
            )
        )


@payment_hooks.on_customers_paid
def refresh(session: Session, tenant_id: int, today: date, customer_ids: Sequence[int]) -> None:
    """These customers' rows computed again for ``today``, in the caller's transaction, once the
    tenant's table has been built (before that the first build computes everyone).

    For what changes a fact without an ``invoice.`` event for the subscriber: a payment that
    reaches no invoice (held for the customer as a credit balance, or a deviation's money given
    to a customer) is the customer's newest way of paying, ``payment_method``. The payments
    service calls this (registered in ``payments.hooks``) when it books one, so the fact does not
    wait for the daily rebuild."""
    wanted = sorted(set(customer_ids))
    if wanted and is_built(session, tenant_id):
        rebuild(session, tenant_id, today, only=wanted)


def _rows(tenant_id: int, today: date, only: Sequence[int] | None) -> Select[Any, Any]:
    """One row per customer in scope: every fact from the grouped queries of
    ``segments.behaviour`` (left-joined: a customer without invoices gets the defaults)."""
    balance = behaviour.open_balance(tenant_id, only).subquery()
    last = behaviour.last_invoice_total(tenant_id, only).subquery()
    reminders = behaviour.reminders_last_year(tenant_id, today, only).subquery()
    method = behaviour.payment_method(tenant_id, only).subquery()
    ranked = behaviour.late_ranked(tenant_id, today, only)
    shifted = literal(1).op("<<")(cast(ranked.c.rn - 1, Integer))
    mask = (
        select(ranked.c.customer_id, func.sum(ranked.c.late * shifted).label("value"))
        .where(ranked.c.rn <= LATE_BITS)
        .group_by(ranked.c.customer_id)
        .subquery()
    )
    days = behaviour.late_days(tenant_id, today, only)
    late_days = (
        select(days.c.customer_id, func.sum(days.c.days).label("total"), func.count().label("n"))
        .group_by(days.c.customer_id)
        .subquery()
    )
    query = (
        select(
            Customer.tenant_id,
            Customer.id,
            func.coalesce(balance.c.value, 0),
            last.c.value,
            func.coalesce(mask.c.value, 0),
            func.coalesce(late_days.c.total, 0),
            func.coalesce(late_days.c.n, 0),
            func.coalesce(reminders.c.value, 0),
            method.c.value,
            literal(today, Date),
        )
        .select_from(Customer)
        .outerjoin(balance, balance.c.customer_id == Customer.id)
        .outerjoin(last, last.c.customer_id == Customer.id)
        .outerjoin(reminders, reminders.c.customer_id == Customer.id)
        .outerjoin(method, method.c.customer_id == Customer.id)
        .outerjoin(mask, mask.c.customer_id == Customer.id)
        .outerjoin(late_days, late_days.c.customer_id == Customer.id)
        .where(Customer.tenant_id == tenant_id)
    )
    if only is not None:
        query = query.where(Customer.id.in_(sorted(set(only))))
    return query


# --- reading it ------------------------------------------------------------------------------------


def condition(field: str, op: str, value: Any, tenant_id: int) -> ColumnElement[bool]:
    """The condition on ``customers`` from the table: the customers whose row holds it, plus
    those without a row when the facts' defaults hold it (as ``behaviour.condition``)."""
    rows = CustomerBehaviour
    theirs = select(rows.customer_id).where(rows.tenant_id == tenant_id)
    holds = Customer.id.in_(theirs.where(_holds(field, op, value)))
    if behaviour.default_holds(field, op, value):
        return or_(holds, Customer.id.not_in(theirs))
    return holds


def _holds(field: str, op: str, value: Any) -> ColumnElement[bool]:
    late = rules.LATE_FIELD.match(field)
    if late:
        return rules.compare_sql(late_count(int(late.group(1))), op, value)
    if field == "avg_days_late":
        return _average_holds(op, value)
    return rules.compare_sql(getattr(CustomerBehaviour, field), op, value)


def late_count(last: int) -> ColumnElement[int]:
    """How many of the ``last`` newest invoices were late: the set bits among the mask's lowest."""
    mask = CustomerBehaviour.late_mask
    # Our own small integers written into the SQL: PostgreSQL shifts a BIGINT by an INTEGER only.
    bits = [mask.op(">>")(literal_column(str(i))).op("&")(literal_column("1")) for i in range(last)]
    total: Any = bits[0]
    for bit in bits[1:]:
        total = total + bit
    return total  # type: ignore[no-any-return]


def _average_holds(op: str, value: Any) -> ColumnElement[bool]:
    """``avg_days_late op value`` with the average as ``sum / count`` compared exactly as
    ``sum op value * count`` (the count is positive), missing when the count is 0."""
    total, count = CustomerBehaviour.late_days_sum, CustomerBehaviour.late_days_count
    present = count > 0

    def times(v: int) -> Any:
        return count * max(-1, min(MAX_DAYS, v))

    def equal_to_one_of(values: list[int]) -> ColumnElement[bool]:
        return and_(present, or_(*(total == times(v) for v in values)))

    match op:
        case "exists":
            return present
        case "not_exists":
            return not_(present)
        case "eq" | "in":
            return equal_to_one_of(value if op == "in" else [value])
        case "ne" | "not_in":
            return not_(equal_to_one_of(value if op == "not_in" else [value]))
        case "lt":
            return and_(present, total < times(value))
        case "lte":
            return and_(present, total <= times(value))
        case "gt":
            return and_(present, total > times(value))
        case "gte":
            return and_(present, total >= times(value))
    raise ValueError(f"operator {op!r} has no SQL form for avg_days_late")
