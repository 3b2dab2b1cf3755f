"""Segments: save (checked), count, preview, list their customers, tell who is in which.

Every query is the tenant's: the rule becomes one SQL condition on ``customers``
(``rules.customer_sql``) next to ``customers.tenant_id = :tenant``.

A rule on behaviour groups the tenant's invoices (or payments) by customer: at a million
customers the grouping outgrows PostgreSQL's default ``work_mem`` (4 MB) and spills to disk.
Counting and listing a segment (:func:`count_and_examples`, :func:`customers_page`) run such a
rule with :data:`WORK_MEM` for their own statements (:func:`roomy`); :func:`memberships`, which
asks about a page's or a batch's few customers, reads those customers' rows only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, text
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.db import is_postgresql, utcnow
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.customers.models import Customer
from kvitt.segments import behaviour_table, rules
from kvitt.segments.models import Segment
from kvitt.segments.schemas import Condition, SegmentCreate, SegmentUpdate
from kvitt.tenants.models import Tenant

PREVIEW_EXAMPLES = 5
# PostgreSQL's memory for one sort or hash while a behaviour rule is counted or listed: the
# per-customer grouping of 2,000,000 invoices fits in it (bench/segments.py, bench/RESULTS.md).
# And no parallel workers: each would build the whole grouped subquery again for its share of
# the customers (loops=3 in the plan), which on two cores took 5 s instead of 3.
WORK_MEM = "256MB"
SETTINGS = {"work_mem": WORK_MEM, "max_parallel_workers_per_gather": "0"}
# A rule standing for the behaviour table's rebuild, which groups every fact: :func:`roomy` then
# applies :data:`SETTINGS` to it as to any rule on behaviour.
GROUPS_EVERY_FACT = [{"field": "open_balance", "op": "exists", "value": None}]


@dataclass
class Preview:
    count: int
    examples: list[Customer]

    def text(self) -> str:
        names = ", ".join(c.name for c in self.examples)
        return f"{self.count:,} customers" + (f", e.g. {names}" if names else "")


def business_date(session: Session, tenant: Tenant) -> date:
    """The tenant's date: its test clock's if it has one, else today in Sweden."""
    if not tenant.is_test:
        return clock.today()
    from kvitt.testclock import service as testclock

    return testclock.today_for(session, tenant)


def checked(match: str, conditions: list[Condition] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    raw = [c.model_dump() if isinstance(c, Condition) else c for c in conditions]
    try:
        return rules.check_rule(match, raw)
    except rules.RuleError as exc:
        raise ValidationFailed(str(exc), param=exc.param, code="invalid_rule") from exc


def create(session: Session, tenant: Tenant, data: SegmentCreate) -> Segment:
    conditions = checked(data.match, data.conditions)
    _unique_name(session, tenant, data.name, None)
    segment = Segment(tenant_id=tenant.id, name=data.name, match=data.match, conditions=conditions)
    session.add(segment)
    session.flush()
    recount(session, tenant, segment)
    return segment


def update(session: Session, tenant: Tenant, segment_id: int, data: SegmentUpdate) -> Segment:
    segment = get(session, tenant, segment_id)
    changes = data.model_dump(exclude_unset=True)
    for field in ("name", "match", "conditions"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"{field} cannot be removed", param=field)
    match = data.match or segment.match
    conditions = checked(match, data.conditions if data.conditions is not None else segment.conditions)
    if data.name is not None:
        _unique_name(session, tenant, data.name, segment.id)
        segment.name = data.name
    segment.match, segment.conditions = match, conditions
    session.flush()
    recount(session, tenant, segment)
    return segment


def delete(session: Session, tenant: Tenant, segment_id: int) -> None:
    """A deleted segment matches nobody wherever it was chosen (placements, dunning, chains)."""
    session.delete(get(session, tenant, segment_id))
    session.flush()


def get(session: Session, tenant: Tenant, segment_id: int) -> Segment:
    segment = session.scalar(select(Segment).where(Segment.tenant_id == tenant.id, Segment.id == segment_id))
    if segment is None:
        raise NotFound(f"no segment {segment_id}", param="segment")
    return segment


def list_page(session: Session, tenant: Tenant, *, limit: int, starting_after: int | None) -> Page[Segment]:
    query = select(Segment).where(Segment.tenant_id == tenant.id)
    return paginate(session, query, Segment.id, limit=limit, starting_after=starting_after)


def definitions(session: Session, tenant_id: int, segment_ids: list[int] | None = None) -> dict[int, Segment]:
    """The tenant's segments (all, or those of ``segment_ids`` that exist), by id."""
    query = select(Segment).where(Segment.tenant_id == tenant_id)
    if segment_ids is not None:
        query = query.where(Segment.id.in_(segment_ids))
    return {segment.id: segment for segment in session.scalars(query)}


def sql_of(segment: Segment, today: date) -> ColumnElement[bool]:
    """The segment as a condition on ``customers`` (the tenant's condition is the caller's)."""
    return rules.customer_sql(segment.match, segment.conditions, segment.tenant_id, today)


def count_and_examples(
    session: Session, tenant: Tenant, match: str, conditions: list[dict[str, Any]], *, today: date | None = None
) -> Preview:
    day = today or business_date(session, tenant)
    table = reads_table(session, tenant.id, conditions, day)
    where = (Customer.tenant_id == tenant.id, rules.customer_sql(match, conditions, tenant.id, day, table=table))
    with roomy(session, conditions):
        count = session.scalar(select(func.count(Customer.id)).where(*where)) or 0
        examples = list(session.scalars(select(Customer).where(*where).order_by(Customer.id).limit(PREVIEW_EXAMPLES)))
    return Preview(count, examples)


def reads_table(
    session: Session, tenant_id: int, conditions: list[dict[str, Any]], today: date
) -> bool | frozenset[str]:
    """Which behaviour fields of a rule read ``customer_behaviour`` instead of grouping the
    tenant's invoices (``segments.behaviour_table.answers``): all of them on the day the table
    was built for, the facts no date moves on another day, none before the first build."""
    if not on_behaviour(conditions):
        return False
    return behaviour_table.answers(session, tenant_id, today)


def on_behaviour(conditions: list[dict[str, Any]]) -> bool:
    """Whether the rule groups invoices, events or payments per customer (``segments.behaviour``)."""
    return any(rules.reads_behaviour(condition) for condition in conditions)


@contextmanager
def roomy(session: Session, conditions: list[dict[str, Any]]) -> Iterator[None]:
    """:data:`SETTINGS` (:data:`WORK_MEM`, no parallel workers) for the statements inside, on
    PostgreSQL and for a rule on behaviour. Without them an ``any`` rule with a behaviour field
    (``a OR customers.id IN (grouped query)``) cannot hash the grouped query in 4 MB and runs it
    again for every customer: minutes at a million customers instead of about 5 s.

    In a transaction: ``SET LOCAL`` (ends with it, whatever happens). In a read-only unit
    (autocommit: each statement is its own transaction, where ``SET LOCAL`` would do nothing):
    ``SET`` for the connection, and ``RESET`` after, before it goes back to the pool."""
    if not is_postgresql(session) or not on_behaviour(conditions):
        yield
        return
    driver = session.connection().connection.driver_connection
    if not getattr(driver, "autocommit", False):
        for name, value in SETTINGS.items():  # our constants, never input
            session.execute(text(f"SET LOCAL {name} = '{value}'"))
        yield
        return
    for name, value in SETTINGS.items():
        session.execute(text(f"SET {name} = '{value}'"))
    try:
        yield
    finally:
        for name in SETTINGS:
            session.execute(text(f"RESET {name}"))


def preview(session: Session, tenant: Tenant, match: str, conditions: list[Condition]) -> Preview:
    return count_and_examples(session, tenant, match, checked(match, conditions))


def recount(session: Session, tenant: Tenant, segment: Segment) -> None:
    segment.customer_count = count_and_examples(session, tenant, segment.match, segment.conditions).count
    segment.counted_at = utcnow()
    session.flush()


def recount_all(session: Session, tenant: Tenant) -> int:
    """Every segment of the tenant counted again (the daily job): returns how many. The
    customers' behaviour is computed for the day first when a segment has a rule on it."""
    segments = list(definitions(session, tenant.id).values())
    if any(on_behaviour(segment.conditions) for segment in segments):
        rebuild_behaviour(session, tenant)
    for segment in segments:
        recount(session, tenant, segment)
    return len(segments)


def rebuild_behaviour(session: Session, tenant: Tenant) -> date:
    """``customer_behaviour`` of every customer of the tenant computed for its business day
    (one set-based statement, with :data:`SETTINGS` for its grouping); returns the day."""
    day = business_date(session, tenant)
    with roomy(session, GROUPS_EVERY_FACT):
        behaviour_table.rebuild(session, tenant.id, day)
    return day


def customers_page(
    session: Session, tenant: Tenant, segment_id: int, *, limit: int, starting_after: int | None
) -> Page[Customer]:
    segment = get(session, tenant, segment_id)
    day = business_date(session, tenant)
    table = reads_table(session, tenant.id, segment.conditions, day)
    where = rules.customer_sql(segment.match, segment.conditions, tenant.id, day, table=table)
    query = select(Customer).where(Customer.tenant_id == tenant.id, where)
    with roomy(session, segment.conditions):
        return paginate(session, query, Customer.id, limit=limit, starting_after=starting_after)


def memberships(
    session: Session, tenant: Tenant, customer_ids: list[int], segment_ids: list[int] | None = None
) -> dict[int, set[int]]:
    """Which of the segments each customer is in, in one query: {customer id: {segment ids}}.
    A behaviour rule reads these customers' invoices and payments only (``rules.customer_sql``
    with ``only``): a page view or a delivery batch never groups the whole tenant's."""
    segments = definitions(session, tenant.id, segment_ids)
    found: dict[int, set[int]] = {customer_id: set() for customer_id in customer_ids}
    if not segments or not customer_ids:
        return found
    today = business_date(session, tenant)
    only = sorted(set(customer_ids))
    columns = [
        case((rules.customer_sql(s.match, s.conditions, s.tenant_id, today, only), 1), else_=0).label(f"s{s.id}")
        for s in segments.values()
    ]
    query = select(Customer.id, *columns).where(Customer.tenant_id == tenant.id, Customer.id.in_(customer_ids))
    for row in session.execute(query):
        found[row[0]] = {sid for sid, flag in zip(segments, row[1:], strict=True) if flag}
    return found


def _unique_name(session: Session, tenant: Tenant, name: str, own_id: int | None) -> None:
    other = session.scalar(select(Segment.id).where(Segment.tenant_id == tenant.id, Segment.name == name))
    if other is not None and other != own_id:
        raise Conflict(f"a segment named {name!r} exists", param="name", code="duplicate_name")
