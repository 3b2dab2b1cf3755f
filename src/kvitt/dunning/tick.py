"""The dunning tick: for one tenant and business day, take every step that is due, once.

Finding what is due is one set-based query: open invoices past their due date, not paused, not
under an instalment plan, not themselves a charge, not being debited by autogiro right now, each
with the policy its customer's segment picks (a SQL ``CASE`` over the policies' rules), the level
it has reached (its reminders) and the date that level was reached; a step is due when the invoice
is at the level before it and its days have passed since the due date (or an approved extension's
date) or since the previous step: the server computes that date (``next_on_sql``, a ``CASE``
branch per policy step; the only difference between the databases is adding days to a date) and
only the due invoices come back.

A repeated tick reads a range: every invoice the tick looks at gets a ``dunning_next_steps`` row,
the first day its next step could be due (the due date or an extension's date plus the step's days,
or the last step's date plus the days), 9999-12-31 when no step is left, written by the server
from the finding query's own rows (``INSERT … SELECT … ON CONFLICT DO UPDATE``, where new or
changed; on PostgreSQL a data-modifying CTE of the same statement, so the query runs once and
no waiting invoice's row comes to Python). While the tenant's
dunning configuration is what it was when those dates were written (``TickMark.fingerprint``: the
active policies' rules and steps, and the day if a rule asks for the customer's age), the tick
leaves out the invoices whose date is still to come (the range ``next_on > today`` of
``ix_dunning_next_steps_tenant_next_on``, one hashed set), unless their customer was changed
(segment rules) or their extension decided since the last tick; the costly lookups of the finding
query then run for what is left only. When the configuration changed, the tick clears the
tenant's dates and looks at every open past-due invoice again, as the first tick does. The date
is a lower bound, never a decision: what is due is decided by the same conditions as before.

Each step of each invoice happens at most once: ``dunning_reminders`` has a UNIQUE key on
(invoice_id, level), and on PostgreSQL the tick holds a transaction-scoped advisory lock per
tenant, so a second tick (another worker, the CLI, a retry) waits and then finds nothing due.
The reminders, their charge invoices, their timeline events and their delivery jobs are written
in the tick's one transaction: all of them or none.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    true,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kvitt.autogiro.models import Debit
from kvitt.core.db import any_of, bulk_insert, is_postgresql, reserve_ids, utcnow
from kvitt.core.outbox import enqueue_rows
from kvitt.customers.models import Customer
from kvitt.dunning import law, policies
from kvitt.dunning.charges import Charge, interest_text, issue_charges
from kvitt.dunning.interest import Rate, late_interest
from kvitt.dunning.models import (
    CollectionCase,
    DunningPause,
    DunningPolicy,
    InstalmentPlan,
    NextStep,
    PaymentExtension,
    ReferenceRate,
    Reminder,
    TickMark,
)
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.invoices.timeline import Happening, record
from kvitt.ledger import service as ledger
from kvitt.ledger.models import JournalEntry, JournalLine
from kvitt.tenants.models import Tenant

TICK_LOCK = 0x4B44  # advisory-lock namespace for the dunning tick ("KD")
DELIVER_JOB = "dunning.deliver_reminder"
DELIVER_BUNDLE_JOB = "dunning.deliver_reminders"  # {"reminders": [[reminder, invoice, channel], ...]}
DELIVER_BUNDLE_FROM = 50  # fewer reminders in a tick: a delivery job each
DELIVER_BUNDLE_SIZE = 500
SUBMIT_CASE_JOB = "dunning.submit_case"
DUNNED_STATES = (states.UNPAID, states.PARTLY_PAID, states.OVERDUE)
NO_STEP = date(9999, 12, 31)  # next_on of an invoice with no step left
# Customers or extensions changed since the last tick beyond this many: look at everything.
MAX_CHANGED = 10_000
# An autogiro debit ordered or sent for an invoice holds its reminders back until Bankgirot's
# answer (status 9, a renewed coverage check, means it tries again on later banking days), but
# no longer than this after its debit day: a debit never answered stops holding dunning back.
AUTOGIRO_HOLD_DAYS = 14
IN_FLIGHT = ("pending", "sent")
# Changes are looked for from this long before the last tick began (a transaction that stamped
# its rows before that and committed after the tick's read is still seen by the next tick).
CHANGE_OVERLAP = timedelta(minutes=10)


@dataclass
class TickResult:
    date: date
    reminders: int = 0
    collections: int = 0
    fees: int = 0
    interest: int = 0
    charge_invoices: int = 0
    plans_broken: int = 0
    by_level: dict[int, int] = field(default_factory=dict)


@dataclass
class _Due:
    invoice_id: int
    customer_id: int
    number: int | None
    remaining: int
    base: date  # the due date, or an approved extension's date
    level: int  # the level reached so far
    last_on: date | None
    interest_to: date | None
    policy: DunningPolicy
    company: bool
    fee_agreed: bool


@dataclass
class _Found:
    """What a finding query found: the steps due today, and how many invoices it kept (due today
    or given a new next-step date; a read-only look writes no date and counts the due ones)."""

    due: list[_Due]
    kept: int


# Each step's (days, counted from the due date rather than the previous step).
Timing = tuple[tuple[timedelta, bool], ...]


def step_timing(policy: DunningPolicy) -> Timing:
    """A policy's timing: each step's days and whether they count from the due date (the first
    step always does) or from the previous step."""
    return tuple(
        (timedelta(days=int(step["days"])), level == 0 or step.get("after", "previous") == "due")
        for level, step in enumerate(policy.steps)
    )


def next_on_sql(
    session: Session, timings: dict[int, Timing], policy_id: Any, level: Any, base: Any, last_on: Any
) -> ColumnElement[date]:
    """SQL: the first day the step after ``level`` can be due under the policy ``policy_id``: the
    base date (the due date or an approved extension's) or the last step's date plus the step's
    days; NO_STEP when the policy has no such step, there is no policy, or no last step to count
    from. One ``CASE`` branch per (policy, step), so the dates are computed by the server, not
    fetched and computed row by row."""
    whens = [
        (
            and_(policy_id == policy, level == index),
            _plus_days(session, base if from_due else last_on, days.days),
        )
        for policy, timing in timings.items()
        for index, (days, from_due) in enumerate(timing)
    ]
    no_step = literal(NO_STEP, Date)
    if not whens:
        return no_step
    return type_coerce(func.coalesce(case(*whens, else_=no_step), no_step), Date)


def _plus_days(session: Session, day: Any, days: int) -> Any:
    """``day`` plus ``days`` in SQL: PostgreSQL adds an integer to a date; SQLite keeps dates as
    ISO text and has ``date(day, '+N days')``."""
    if is_postgresql(session):
        return day + literal(days, Integer)
    return func.date(day, f"{days:+d} days")


def run(session: Session, tenant: Tenant, *, today: date, actor: str = "system") -> TickResult:
    """Take every dunning step due on ``today`` for the tenant, in the caller's transaction."""
    _serialize(session, tenant)
    result = TickResult(today)
    from kvitt.dunning.instalments import break_missed_plans

    result.plans_broken = break_missed_plans(session, tenant, today=today, actor=actor)
    active = policies.active_in_order(session, tenant)
    started = utcnow()
    fingerprint = _fingerprint(active, today)
    mark = session.get(TickMark, tenant.id)
    scope = _scope(session, tenant, active, fingerprint, mark)
    if not scope.trusted:
        # Dates written under another configuration say nothing now.
        session.execute(delete(NextStep).where(NextStep.tenant_id == tenant.id))
    due = _candidates(session, tenant, active, today, scope, write_dates=True).due
    _with_interest_dates(session, tenant, due)
    if due:
        _take_steps(session, tenant, due, today=today, actor=actor, result=result)
    _forget_finished(session, tenant)
    if mark is None:
        session.add(TickMark(tenant_id=tenant.id, fingerprint=fingerprint, updated_at=started))
    else:
        mark.fingerprint, mark.updated_at = fingerprint, started
    session.flush()
    return result


@dataclass
class _Scope:
    """Which open past-due invoices a tick must look at: all of them (not trusted), or those whose
    date has come or is unknown, plus these customers' and these invoices'."""

    trusted: bool = False
    customers: list[int] = field(default_factory=list)
    invoices: list[int] = field(default_factory=list)


def _scope(
    session: Session, tenant: Tenant, active: list[DunningPolicy], fingerprint: str, mark: TickMark | None
) -> _Scope:
    """The range the tick reads: trusted while the configuration is the one the last tick's
    dates were written under (the same fingerprint), else every open past-due invoice."""
    if mark is None or mark.fingerprint != fingerprint:
        return _Scope()
    return _changed_since(session, tenant, active, mark.updated_at - CHANGE_OVERLAP)


def _fingerprint(active: list[DunningPolicy], today: date) -> str:
    """What the timing of every step depends on besides the invoice's own rows."""
    parts: list[Any] = [
        [policy.id, policy.priority, policy.is_default, policy.rules, policy.steps] for policy in active
    ]
    if any(rule.get("field") == "age_years" for policy in active for rule in policy.rules):
        parts.append(today.isoformat())  # a customer's age moves them between segments day by day
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _changed_since(session: Session, tenant: Tenant, active: list[DunningPolicy], since: datetime) -> _Scope:
    """Customers that may have moved to another policy (only if a policy has segment rules) and
    invoices whose extension was decided, since ``since``; too many: look at everything."""
    scope = _Scope(trusted=True)
    if any(policy.rules for policy in active):
        scope.customers = list(
            session.scalars(
                select(Customer.id)
                .where(Customer.tenant_id == tenant.id, Customer.updated_at >= since)
                .limit(MAX_CHANGED + 1)
            )
        )
    scope.invoices = list(
        session.scalars(
            select(PaymentExtension.invoice_id)
            .where(
                PaymentExtension.tenant_id == tenant.id,
                or_(PaymentExtension.decided_at >= since, PaymentExtension.created_at >= since),
            )
            .limit(MAX_CHANGED + 1)
        )
    )
    if len(scope.customers) > MAX_CHANGED or len(scope.invoices) > MAX_CHANGED:
        return _Scope()
    return scope


def _forget_finished(session: Session, tenant: Tenant) -> None:
    """Drop the "no step left" rows of invoices no longer dunned (paid, credited, in collection):
    the tick's ``NOT IN`` set holds every row dated after today, and these would stay in it for
    good. Rows with a real date leave that set by themselves once the date has passed."""
    session.execute(
        delete(NextStep)
        .where(
            NextStep.tenant_id == tenant.id,
            NextStep.next_on == NO_STEP,
            exists().where(Invoice.id == NextStep.invoice_id, Invoice.state.not_in(DUNNED_STATES)),
        )
        .execution_options(synchronize_session=False)
    )


def _serialize(session: Session, tenant: Tenant) -> None:
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": TICK_LOCK, "key": tenant.id})
        _without_jit(session)


def _without_jit(session: Session) -> None:
    """The finding query's estimated cost (a lookup per open invoice) makes PostgreSQL compile it
    with JIT, which took longer than running it (bench/dunning.py: 0.9 of 1.3 s at 50,000; the
    back office's look 2.5 s with JIT, 0.24 s without, at 200,000). For the caller's transaction."""
    session.execute(text("SET LOCAL jit = off"))


def find_due(session: Session, tenant: Tenant, active: list[DunningPolicy], today: date) -> list[_Due]:
    """Every invoice with a step due today, with its policy and level (one query, every open
    past-due invoice looked at)."""
    due = _candidates(session, tenant, active, today, _Scope()).due
    _with_interest_dates(session, tenant, due)
    return due


def preview(session: Session, tenant: Tenant, today: date) -> list[_Due]:
    """What a tick on ``today`` would take, read only (the back office's *Påminnelser* page):
    the tick's own finding query over the range the tick itself would read, so that once a tick
    has written the dates, a look costs what a repeated tick's reading costs, not a probe of
    every waiting invoice (bench/RESULTS.md: 1.17 s against 41 s at 1,000,000 open invoices).
    Writes nothing: no policy made, no dates, no lock. Interest dates are left out (the page
    shows no interest). Before the first tick, or after a change of the policies, it reads
    everything, as that tick will. The caller's session must not autocommit on PostgreSQL
    (the rows stream through a server-side cursor)."""
    if is_postgresql(session):
        _without_jit(session)
    active = policies.active(session, tenant)
    scope = _scope(session, tenant, active, _fingerprint(active, today), session.get(TickMark, tenant.id))
    return _candidates(session, tenant, active, today, scope).due


def _candidates(
    session: Session,
    tenant: Tenant,
    active: list[DunningPolicy],
    today: date,
    scope: _Scope,
    *,
    write_dates: bool = False,
) -> _Found:
    """The open past-due invoices in scope with a step due today, with their policy and level (one
    query); with ``write_dates``, also each looked-at invoice's next step date, where it is new or
    changed (a step taken today moves it on), written by the server from the same rows."""
    by_id = {policy.id: policy for policy in active}
    timings = {policy.id: step_timing(policy) for policy in active}
    # Correlated lookups, one index probe each per invoice (the UNIQUE (invoice_id, level) key),
    # rather than aggregates joined in: those a planner without fresh statistics rescans per row.
    mine = Reminder.__table__.alias("mine")
    level = select(func.max(mine.c.level)).where(mine.c.invoice_id == Invoice.id).correlate(Invoice).scalar_subquery()
    last_on = (
        select(func.max(mine.c.sent_on)).where(mine.c.invoice_id == Invoice.id).correlate(Invoice).scalar_subquery()
    )
    extended_until = (
        select(func.max(PaymentExtension.until))
        .where(
            PaymentExtension.tenant_id == tenant.id,
            PaymentExtension.invoice_id == Invoice.id,
            PaymentExtension.state == "approved",
        )
        .correlate(Invoice)
        .scalar_subquery()
    )
    pause_on = and_(DunningPause.ended_at.is_(None), or_(DunningPause.until.is_(None), DunningPause.until >= today))
    candidates = (
        select(
            Invoice.id.label("invoice_id"),
            Invoice.customer_id.label("customer_id"),
            Invoice.number.label("number"),
            Invoice.remaining.label("remaining"),
            func.coalesce(extended_until, Invoice.due_date).label("base"),
            func.coalesce(level, 0).label("level"),
            last_on.label("last_on"),
            policies.policy_of_customer(active, today).label("policy_id"),
            Customer.type.label("customer_type"),
            policies.attribute("reminder_fee_agreed", "boolean").label("fee_agreed"),
            _stored_date(scope).label("stored"),
        )
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(
            Invoice.tenant_id == tenant.id,
            Invoice.kind == "invoice",
            Invoice.state.in_(DUNNED_STATES),
            Invoice.due_date < today,
            Invoice.remaining > 0,
            # One EXISTS per index (an OR across two would scan every pause of the tenant).
            ~exists().where(DunningPause.tenant_id == tenant.id, DunningPause.invoice_id == Invoice.id, pause_on),
            ~exists().where(
                DunningPause.tenant_id == tenant.id, DunningPause.customer_id == Invoice.customer_id, pause_on
            ),
            # Charge invoices are not dunned. No tenant condition here: the outer invoice is the
            # tenant's, and the charge index alone leaves a planner with stale statistics no worse plan.
            ~exists().where(Reminder.charge_invoice_id == Invoice.id),
            ~exists().where(
                InstalmentPlan.tenant_id == tenant.id,
                InstalmentPlan.invoice_id == Invoice.id,
                InstalmentPlan.state == "active",
            ),
            ~exists().where(InstalmentPlan.charge_invoice_id == Invoice.id),
            # The money may be on its way: no reminder (with its fee) while the payer's bank is
            # being debited for this very invoice.
            ~exists().where(
                Debit.tenant_id == tenant.id,
                Debit.invoice_id == Invoice.id,
                Debit.status.in_(IN_FLIGHT),
                Debit.debit_on >= date.fromordinal(max(1, today.toordinal() - AUTOGIRO_HOLD_DAYS)),
            ),
            _in_scope(session, tenant, scope, today),
        )
        # Computed once per invoice, then tested against every step (inlined, PostgreSQL would
        # repeat the lookups in each OR branch).
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    c = candidates.c
    next_on = next_on_sql(session, timings, c.policy_id, c.level, c.base, c.last_on)
    # The date to keep: the step's after today's, for the invoices stepped today.
    after_today = next_on_sql(session, timings, c.policy_id, c.level + 1, c.base, literal(today, Date))
    timed = select(
        *c, next_on.label("next_on"), case((next_on <= today, after_today), else_=next_on).label("new_on")
    ).cte("timed")
    due = select(timed).where(timed.c.next_on <= today)
    if not write_dates:
        rows = session.execute(due.order_by(timed.c.invoice_id), execution_options={"yield_per": 10_000})
        found = [_due(row, by_id) for row in rows]
        return _Found(found, len(found))
    dates = select(timed.c.invoice_id, literal(tenant.id), timed.c.new_on).where(
        timed.c.stored.is_distinct_from(timed.c.new_on)
    )
    if is_postgresql(session):
        return _due_and_dates_at_once(session, due, dates, by_id)
    found = [_due(row, by_id) for row in session.execute(due.order_by(timed.c.invoice_id))]
    session.execute(_upsert_dates(session, dates))
    # The driver's rowcount is -1 for a statement that begins with WITH; SQLite counts itself.
    return _Found(found, int(session.scalar(text("SELECT changes()")) or 0))


def _stored_date(scope: _Scope) -> Any:
    """The invoice's stored next-step date. None when the tick is not trusted: its tenant's dates
    were just cleared, and a lookup per invoice would cost an index probe each for nothing, or
    worse: planned over the emptied table as a scan per invoice, it rescans, row after row, the
    dates the same statement is adding (PostgreSQL, bench/dunning.py: 100,000 open invoices,
    1.6 s → 21 s)."""
    if not scope.trusted:
        return literal(None, Date)
    return select(NextStep.next_on).where(NextStep.invoice_id == Invoice.id).correlate(Invoice).scalar_subquery()


def _upsert_dates(session: Session, dates: Any) -> Any:
    """INSERT … SELECT of (invoice_id, tenant_id, next_on), a changed date replacing the stored one."""
    upsert: Any = (postgresql.insert if is_postgresql(session) else sqlite.insert)(NextStep)
    upsert = upsert.from_select(["invoice_id", "tenant_id", "next_on"], dates)
    return upsert.on_conflict_do_update(index_elements=["invoice_id"], set_={"next_on": upsert.excluded.next_on})


def _due_and_dates_at_once(session: Session, due: Any, dates: Any, by_id: dict[int, DunningPolicy]) -> _Found:
    """PostgreSQL: one statement; the dates' INSERT is a data-modifying CTE over the same rows
    as the due ones (the finding query runs once). One row at least (the count of dates written),
    the due invoices' columns NULL when none is due. Not streamed: a cursor cannot hold a
    statement that writes; only the due rows come over (100,000 of 1,000,000 in the bench)."""
    written = _upsert_dates(session, dates).returning(NextStep.invoice_id).cte("written")
    counted = select(func.count().label("written")).select_from(written).subquery("counted")
    due_rows = due.subquery("due_rows")
    query = (
        select(counted.c.written, due_rows)
        .select_from(counted.outerjoin(due_rows, true()))
        .order_by(due_rows.c.invoice_id)
    )
    rows = session.execute(query).all()
    found = [_due(row, by_id) for row in rows if row.invoice_id is not None]
    return _Found(found, int(rows[0].written))


def _due(row: Any, by_id: dict[int, DunningPolicy]) -> _Due:
    return _Due(
        invoice_id=row.invoice_id,
        customer_id=row.customer_id,
        number=row.number,
        remaining=row.remaining,
        base=row.base,
        level=row.level,
        last_on=row.last_on,
        interest_to=None,
        policy=by_id[row.policy_id],
        company=row.customer_type == "company",
        fee_agreed=bool(row.fee_agreed),
    )


def _in_scope(session: Session, tenant: Tenant, scope: _Scope, today: date) -> Any:
    if not scope.trusted:
        return true()
    later = select(NextStep.invoice_id).where(NextStep.tenant_id == tenant.id, NextStep.next_on > today)
    ranges: list[Any] = [Invoice.id.not_in(later)]
    if scope.customers:
        ranges.append(any_of(session, Invoice.customer_id, scope.customers))
    if scope.invoices:
        ranges.append(any_of(session, Invoice.id, scope.invoices))
    return or_(*ranges)


def _with_interest_dates(session: Session, tenant: Tenant, due: list[_Due]) -> None:
    """The day interest was last charged to, for the due ones only (not a lookup per open invoice)."""
    charged = _interest_charged_to(session, tenant, [d.invoice_id for d in due if d.level > 0])
    for item in due:
        item.interest_to = charged.get(item.invoice_id)


def _interest_charged_to(session: Session, tenant: Tenant, invoice_ids: list[int]) -> dict[int, date]:
    if not invoice_ids:
        return {}
    query = (
        select(Reminder.invoice_id, func.max(Reminder.interest_to))
        .where(Reminder.tenant_id == tenant.id, any_of(session, Reminder.invoice_id, invoice_ids))
        .group_by(Reminder.invoice_id)
    )
    return {int(invoice_id): day for invoice_id, day in session.execute(query) if day is not None}


def reference_rates(session: Session) -> list[Rate]:
    return [Rate(r.valid_from, r.rate_bp) for r in session.scalars(select(ReferenceRate))]


def receivable_movements(session: Session, tenant: Tenant, invoice_ids: list[int]) -> dict[int, list[tuple[date, int]]]:
    """Each invoice's receivable (1510) changes by date, from the ledger."""
    moves: dict[int, list[tuple[date, int]]] = defaultdict(list)
    if not invoice_ids:
        return moves
    query = (
        select(JournalLine.invoice_id, JournalEntry.date, func.sum(JournalLine.amount))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(
            JournalLine.tenant_id == tenant.id,
            JournalLine.account == ledger.receivables_account(tenant),
            any_of(session, JournalLine.invoice_id, invoice_ids),
        )
        .group_by(JournalLine.invoice_id, JournalEntry.date)
    )
    for invoice_id, day, amount in session.execute(query):
        moves[int(invoice_id)].append((day, int(amount)))
    return moves


def _wants(step: dict[str, Any], key: str, tenant_default: Any) -> Any:
    value = step.get(key)
    return tenant_default if value is None else value


def _take_steps(
    session: Session, tenant: Tenant, due: list[_Due], *, today: date, actor: str, result: TickResult
) -> None:
    steps = [d.policy.steps[d.level] for d in due]
    with_interest = [
        d.invoice_id for d, s in zip(due, steps, strict=True) if _wants(s, "interest", tenant.late_interest)
    ]
    interest_wanted = set(with_interest)
    moves = receivable_movements(session, tenant, with_interest)
    rates = reference_rates(session) if with_interest else []
    ids = reserve_ids(session, Reminder, len(due))
    rows: list[dict[str, Any]] = []
    charges: list[Charge] = []
    fee_kinds: list[str | None] = []
    for reminder_id, item, step in zip(ids, due, steps, strict=True):
        level = item.level + 1
        collection = step.get("action") == "collection"
        due_date = today + timedelta(days=int(step.get("due_days", 10)))
        if collection:
            claim = law.collection_fee_due(int(step.get("fee") or 0), company=item.company)
            fee, fee_kind = claim.amount, (claim.kind if claim.amount else None)
            fee_text = (
                f"Förseningsersättning ({law.B2B_COMPENSATION_LAW})"
                if claim.kind == "forseningsersattning"
                else f"Inkassoavgift ({law.COLLECTION_FEE_LAW})"
            )
        else:
            agreed = tenant.reminder_fee_agreed or item.fee_agreed
            fee = law.reminder_fee_due(int(_wants(step, "fee", tenant.reminder_fee)), agreed=agreed)
            fee_kind = "paminnelseavgift" if fee else None
            fee_text = f"Påminnelseavgift, påminnelse {level} ({law.REMINDER_FEE_LAW})"
        interest_row: dict[str, Any] = {
            "interest": 0,
            "interest_from": None,
            "interest_to": None,
            "interest_rates_bp": [],
        }
        text_for_interest = ""
        if item.invoice_id in interest_wanted:
            after = max(item.base, item.interest_to) if item.interest_to else item.base
            owed = late_interest(
                moves[item.invoice_id],
                after=after,
                through=today,
                rates=rates,
                margin_bp=tenant.late_interest_margin_bp,
            )
            if owed.amount > 0:
                interest_row = {
                    "interest": owed.amount,
                    "interest_from": owed.start,
                    "interest_to": owed.end,
                    "interest_rates_bp": list(owed.rates_bp),
                }
                text_for_interest = interest_text(
                    owed.amount, owed.start, owed.end, owed.rates_bp, principal=item.remaining
                )
        charges.append(
            Charge(
                customer_id=item.customer_id,
                invoice_id=item.invoice_id,
                invoice_number=item.number,
                on=today,
                due_date=due_date,
                fee=fee,
                fee_text=fee_text,
                interest=interest_row["interest"],
                interest_text=text_for_interest,
            )
        )
        fee_kinds.append(fee_kind)
        rows.append(
            {
                "id": reminder_id,
                "tenant_id": tenant.id,
                "invoice_id": item.invoice_id,
                "customer_id": item.customer_id,
                "policy_id": item.policy.id,
                "level": level,
                "action": "collection" if collection else "reminder",
                "number": f"{item.number}-{level}",
                "sent_on": today,
                "due_date": due_date,
                "principal": item.remaining,
                "fee": fee,
                "fee_kind": fee_kind,
                "channel": step.get("channel"),
                **interest_row,
            }
        )
    charge_ids = issue_charges(session, tenant, charges, actor=actor)
    for row, charge_id in zip(rows, charge_ids, strict=True):
        row["charge_invoice_id"] = charge_id
        row["created_at"] = utcnow()
    bulk_insert(session, Reminder, rows)
    _announce(session, tenant, rows, actor=actor)
    _hand_over(session, tenant, [r for r in rows if r["action"] == "collection"], today=today, actor=actor)
    for row in rows:
        result.by_level[row["level"]] = result.by_level.get(row["level"], 0) + 1
        result.fees += row["fee"]
        result.interest += row["interest"]
    result.collections = sum(1 for r in rows if r["action"] == "collection")
    result.reminders = len(rows) - result.collections
    result.charge_invoices = sum(1 for c in charge_ids if c is not None)


def _announce(session: Session, tenant: Tenant, rows: list[dict[str, Any]], *, actor: str) -> None:
    """Each reminder: an invoice event ``reminder_sent`` and a delivery job (deduplicated by its id)."""
    reminders = [r for r in rows if r["action"] == "reminder"]
    record(
        session,
        tenant.id,
        [
            Happening(
                r["invoice_id"],
                "reminder_sent",
                actor,
                {
                    "reminder": r["id"],
                    "number": r["number"],
                    "level": r["level"],
                    "fee": r["fee"],
                    "interest": r["interest"],
                    "due_date": r["due_date"].isoformat(),
                    "charge_invoice": r["charge_invoice_id"],
                    "channel": r["channel"],
                },
            )
            for r in reminders
        ],
    )
    enqueue_rows(session, delivery_jobs(tenant.id, [(r["id"], r["invoice_id"], r["channel"]) for r in reminders]))


def delivery_jobs(tenant_id: int, reminders: list[tuple[int, int, str | None]]) -> list[dict[str, Any]]:
    """The outbox rows that hand (reminder, invoice, channel) to delivery: a job each, or from
    DELIVER_BUNDLE_FROM reminders bundles of up to DELIVER_BUNDLE_SIZE (a first tick at 1,000,000
    open invoices wrote 100,000 delivery jobs). A bundle that fails is split into a job per
    reminder (dunning.jobs), each deduplicated by its reminder's id as a lone job is."""
    if len(reminders) < DELIVER_BUNDLE_FROM:
        return [reminder_job(tenant_id, *item) for item in reminders]
    bundles = [reminders[i : i + DELIVER_BUNDLE_SIZE] for i in range(0, len(reminders), DELIVER_BUNDLE_SIZE)]
    return [
        {
            "tenant_id": tenant_id,
            "kind": DELIVER_BUNDLE_JOB,
            "payload": {"reminders": [list(item) for item in bundle]},
            "dedupe_key": f"{DELIVER_BUNDLE_JOB}:{bundle[0][0]}",
        }
        for bundle in bundles
    ]


def reminder_job(tenant_id: int, reminder: int, invoice: int, channel: str | None) -> dict[str, Any]:
    """The outbox row that hands one reminder to delivery, deduplicated by the reminder's id."""
    return {
        "tenant_id": tenant_id,
        "kind": DELIVER_JOB,
        "payload": {"reminder": reminder, "invoice": invoice, "channel": channel},
        "dedupe_key": f"{DELIVER_JOB}:{reminder}",
    }


def _hand_over(session: Session, tenant: Tenant, rows: list[dict[str, Any]], *, today: date, actor: str) -> None:
    """The last step: a collection case per invoice, the invoice (and its open charges) ``in_collection``."""
    if not rows:
        return
    invoice_ids = [r["invoice_id"] for r in rows]
    open_charges = _open_charges(session, tenant, invoice_ids)
    case_ids = reserve_ids(session, CollectionCase, len(rows))
    cases = []
    for case_id, row in zip(case_ids, rows, strict=True):
        charge_ids = [cid for cid, _ in open_charges.get(row["invoice_id"], [])]
        charges = sum(amount for _, amount in open_charges.get(row["invoice_id"], []))
        cases.append(
            {
                "id": case_id,
                "tenant_id": tenant.id,
                "invoice_id": row["invoice_id"],
                "customer_id": row["customer_id"],
                "reminder_id": row["id"],
                "handed_over_on": today,
                "principal": row["principal"],
                "charges": charges,
                "fee_kind": row["fee_kind"],
                "fee": row["fee"],
                "state": "pending",
                "external_id": None,
                "collected": 0,
                "closed_reason": None,
                "closed_on": None,
                "data": {"charge_invoices": charge_ids, "interest": row["interest"]},
                "created_at": utcnow(),
            }
        )
    bulk_insert(session, CollectionCase, cases)
    moved = [cid for cid, _ in (pair for pairs in open_charges.values() for pair in pairs)]
    invoices.hand_to_collection(
        session,
        tenant,
        invoice_ids + moved,
        actor=actor,
        data={
            r["invoice_id"]: {"case": c["id"], "principal": c["principal"], "charges": c["charges"], "fee": c["fee"]}
            for r, c in zip(rows, cases, strict=True)
        },
    )
    enqueue_rows(
        session,
        [
            {
                "tenant_id": tenant.id,
                "kind": SUBMIT_CASE_JOB,
                "payload": {"case": c["id"]},
                "dedupe_key": f"{SUBMIT_CASE_JOB}:{c['id']}",
            }
            for c in cases
        ],
    )


def _open_charges(session: Session, tenant: Tenant, invoice_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """The open charge invoices (id, remaining) of each invoice (this tick's included)."""
    query = (
        select(Reminder.invoice_id, Invoice.id, Invoice.remaining)
        .join(Invoice, Invoice.id == Reminder.charge_invoice_id)
        .where(
            Reminder.tenant_id == tenant.id,
            any_of(session, Reminder.invoice_id, invoice_ids),
            Invoice.state.in_(DUNNED_STATES),
        )
    )
    found: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for invoice_id, charge_id, remaining in session.execute(query):
        found[int(invoice_id)].append((int(charge_id), int(remaining)))
    return found
