"""``dunning_next_steps``: a repeated tick reads only what can be due, and never misses a step that
a change of the configuration (a policy, a customer's segment, an extension) makes due earlier."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Date, literal, select

from kvitt.core.db import Database
from kvitt.customers.models import Customer
from kvitt.dunning import policies, tick
from kvitt.dunning.models import DunningPolicy, NextStep, PaymentExtension, Reminder
from kvitt.dunning.schemas import PolicyCreate, PolicyUpdate, Rule, Step
from kvitt.invoices.models import Invoice
from tests.dunning.helpers import add_customers, issue, load, tenant_with
from tests.dunning.helpers import tick as run_tick

DUE = date(2026, 3, 31)


@pytest.fixture
def looked_at(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many invoices each tick's finding query kept (due today, or given a new date)."""
    counts: list[int] = []
    real = tick._candidates

    def counting(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        counts.append(found.kept)
        return found

    monkeypatch.setattr(tick, "_candidates", counting)
    return counts


def next_dates(db: Database) -> dict[int, date | None]:
    with db.transaction() as session:
        stored = {row[0]: row[1] for row in session.execute(select(NextStep.invoice_id, NextStep.next_on))}
        return {invoice_id: stored.get(invoice_id) for invoice_id in session.scalars(select(Invoice.id))}


def levels(db: Database) -> list[tuple[int, int, date]]:
    with db.transaction() as session:
        rows = session.scalars(select(Reminder).order_by(Reminder.invoice_id, Reminder.level))
        return [(r.invoice_id, r.level, r.sent_on) for r in rows]


def test_the_dates_follow_the_steps_and_a_repeated_tick_reads_only_what_is_due(
    db: Database, looked_at: list[int]
) -> None:
    tenant_id = tenant_with(db)
    customers = add_customers(db, tenant_id, 4)
    early = issue(db, tenant_id, customers[:3], amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    (later,) = issue(
        db, tenant_id, customers[3:], amount=10000, invoice_date=date(2026, 3, 1), due_date=date(2026, 4, 5)
    )
    run_tick(db, tenant_id, date(2026, 4, 3))  # nothing due yet: reminder 1 comes 7 days after due
    assert [next_dates(db)[i] for i in [*early, later]] == [date(2026, 4, 7)] * 3 + [None]
    run_tick(db, tenant_id, date(2026, 4, 7))
    assert [next_dates(db)[i] for i in [*early, later]] == [date(2026, 4, 21)] * 3 + [date(2026, 4, 12)]
    looked_at.clear()
    for day in (date(2026, 4, 7), date(2026, 4, 8), date(2026, 4, 11)):
        assert run_tick(db, tenant_id, day).reminders == 0
    assert looked_at == [0, 0, 0]  # the range read finds nothing: no probe of any waiting invoice
    assert run_tick(db, tenant_id, date(2026, 4, 12)).reminders == 1 and looked_at[-1] == 1
    assert run_tick(db, tenant_id, date(2026, 4, 21)).reminders == 3
    assert [next_dates(db)[i] for i in early] == [tick.NO_STEP] * 3  # the default policy has two steps


def test_a_changed_policy_is_followed_at_once(db: Database, looked_at: list[int]) -> None:
    tenant_id = tenant_with(db)
    customers = add_customers(db, tenant_id, 3)
    invoices = issue(db, tenant_id, customers, amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    run_tick(db, tenant_id, date(2026, 4, 7))
    with db.transaction() as session:
        tenant = load(session, tenant_id)
        (default,) = policies.active_in_order(session, tenant)
        steps = [Step(days=7, after="due"), Step(days=2)]  # the second reminder 2 days after the first
        policies.update(session, tenant, default.id, PolicyUpdate(steps=steps))
    looked_at.clear()
    assert run_tick(db, tenant_id, date(2026, 4, 9)).reminders == 3
    assert looked_at == [3]  # not trusted: every open past-due invoice looked at again
    assert [lv for _, lv, _ in levels(db)] == [1, 2] * 3
    assert all(next_dates(db)[i] == tick.NO_STEP for i in invoices)


def test_a_customer_moved_to_another_segment_gets_that_policy_at_once(db: Database) -> None:
    tenant_id = tenant_with(db)
    person, other = add_customers(db, tenant_id, 2)
    first, second = issue(db, tenant_id, [person, other], amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    with db.transaction() as session:
        tenant = load(session, tenant_id)
        quick = [Step(days=7, after="due"), Step(days=2)]
        policies.create(
            session,
            tenant,
            PolicyCreate(name="Företag", priority=1, rules=[Rule(field="type", op="eq", value="company")], steps=quick),
        )
    run_tick(db, tenant_id, date(2026, 4, 7))
    assert next_dates(db)[first] == date(2026, 4, 21)
    with db.transaction() as session:
        customer = session.get(Customer, person)
        assert customer is not None
        customer.type = "company"
    assert run_tick(db, tenant_id, date(2026, 4, 9)).reminders == 1
    assert (first, 2, date(2026, 4, 9)) in levels(db) and (second, 2, date(2026, 4, 9)) not in levels(db)


def test_an_extension_decided_after_a_tick_counts_from_its_date(db: Database) -> None:
    """An extension to a date before the stored one (the invoice was not yet reminded) moves the step."""
    tenant_id = tenant_with(db)
    (customer,) = add_customers(db, tenant_id, 1)
    (invoice,) = issue(db, tenant_id, [customer], amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    with db.transaction() as session:
        session.add(
            PaymentExtension(
                tenant_id=tenant_id, invoice_id=invoice, until=date(2026, 4, 20), state="approved",
                requested_by="kund", decided_by="regel",
            )
        )  # fmt: skip
    run_tick(db, tenant_id, date(2026, 4, 8))
    assert next_dates(db)[invoice] == date(2026, 4, 27) and levels(db) == []
    with db.transaction() as session:  # the issuer withdraws it: the due date counts again
        extension = session.scalars(select(PaymentExtension)).one()
        extension.state = "rejected"
        extension.decided_at = extension.created_at.replace(year=2030)
    assert run_tick(db, tenant_id, date(2026, 4, 9)).reminders == 1


def test_the_fingerprint_is_the_policies_content_and_the_day_only_with_an_age_rule() -> None:
    steps = [{"days": 7, "after": "due"}, {"days": 14, "after": "previous"}]
    plain = [DunningPolicy(id=1, priority=100, is_default=True, rules=[], steps=steps)]
    aged = [
        DunningPolicy(id=2, priority=1, is_default=False, rules=[{"field": "age_years", "op": "gt", "value": 2}],
                      steps=steps),
        *plain,
    ]  # fmt: skip
    day, next_day = date(2026, 4, 1), date(2026, 4, 2)
    assert tick._fingerprint(plain, day) == tick._fingerprint(plain, next_day)
    assert tick._fingerprint(aged, day) != tick._fingerprint(aged, next_day)
    shorter = [DunningPolicy(id=1, priority=100, is_default=True, rules=[], steps=steps[:1])]
    assert tick._fingerprint(shorter, day) != tick._fingerprint(plain, day)


def test_a_paused_invoice_gets_the_changed_policy_when_its_pause_ends(db: Database) -> None:
    """The date of an invoice the changed-policy tick did not look at (paused) is cleared, not kept."""
    from kvitt.dunning import service

    tenant_id = tenant_with(db)
    (customer,) = add_customers(db, tenant_id, 1)
    (invoice,) = issue(db, tenant_id, [customer], amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    run_tick(db, tenant_id, date(2026, 4, 7))
    with db.transaction() as session:
        tenant = load(session, tenant_id)
        service.pause(session, tenant_id, invoice_id=invoice, reason="tvist", until=date(2026, 4, 9))
        (default,) = policies.active_in_order(session, tenant)
        policies.update(session, tenant, default.id, PolicyUpdate(steps=[Step(days=7, after="due"), Step(days=2)]))
    assert run_tick(db, tenant_id, date(2026, 4, 9)).reminders == 0  # paused through the 9th
    assert next_dates(db)[invoice] is None
    assert run_tick(db, tenant_id, date(2026, 4, 10)).reminders == 1


def test_a_finished_invoice_leaves_the_table_once_it_is_paid(db: Database) -> None:
    """The rows of invoices with no step left go when the invoice is no longer dunned."""
    from kvitt.invoices import service as invoices
    from kvitt.payments import service as payments

    tenant_id = tenant_with(db)
    customers = add_customers(db, tenant_id, 2)
    paid, unpaid = issue(db, tenant_id, customers, amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    run_tick(db, tenant_id, date(2026, 4, 7))
    run_tick(db, tenant_id, date(2026, 4, 21))
    assert next_dates(db)[paid] == next_dates(db)[unpaid] == tick.NO_STEP
    with db.transaction() as session:
        tenant = load(session, tenant_id)
        invoice = invoices.get(session, tenant, paid)
        payments.pay_invoice(
            session, tenant, invoice, 10000, on=date(2026, 4, 22), today=date(2026, 4, 22), reference=None, actor="t"
        )
    run_tick(db, tenant_id, date(2026, 4, 22))
    assert next_dates(db)[paid] is None and next_dates(db)[unpaid] == tick.NO_STEP


def test_the_preview_is_what_the_tick_then_takes_read_from_its_range(db: Database, looked_at: list[int]) -> None:
    """``tick.preview`` (the back office's look) finds what the full finding query finds and what
    the tick then steps, reading only the range a repeated tick reads, and writes no date."""
    tenant_id = tenant_with(db)
    customers = add_customers(db, tenant_id, 4)
    early = issue(db, tenant_id, customers[:3], amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    later = issue(db, tenant_id, customers[3:], amount=10000, invoice_date=date(2026, 3, 1), due_date=date(2026, 4, 5))

    def preview_and_full(day: date) -> tuple[list[int], list[int]]:
        with db.read_snapshot() as session:
            tenant = load(session, tenant_id)
            shown = [d.invoice_id for d in tick.preview(session, tenant, day)]
            full = [d.invoice_id for d in tick.find_due(session, tenant, policies.active(session, tenant), day)]
        return shown, full

    assert preview_and_full(date(2026, 4, 7)) == ([], [])  # no policy yet: the look makes none
    with db.transaction() as session:
        policies.ensure_default(session, load(session, tenant_id))
    assert preview_and_full(date(2026, 4, 7)) == (early, early)  # before any tick: everything is read
    assert next_dates(db)[early[0]] is None  # the look wrote no date
    run_tick(db, tenant_id, date(2026, 4, 7))
    for day, due in ((date(2026, 4, 8), []), (date(2026, 4, 12), later), (date(2026, 4, 21), early + later)):
        looked_at.clear()
        shown, full = preview_and_full(day)
        assert shown == full == due
        assert looked_at[0] == len(due)  # the range: not a probe of every waiting invoice
    assert run_tick(db, tenant_id, date(2026, 4, 12)).reminders == 1
    assert preview_and_full(date(2026, 4, 12)) == ([], [])


def next_on_by_the_rules(steps: list[dict[str, Any]], level: int, base: date, last_on: date | None) -> date:
    """The timing the policies describe (docs/dunning.md), in Python: the step after ``level`` counts
    its days from the due date (or an extension's date) if it is the first step or says
    ``after: due``, else from the previous step; no such step, or no previous step to count from:
    none (NO_STEP)."""
    if level >= len(steps):
        return tick.NO_STEP
    step = steps[level]
    start = base if level == 0 or step.get("after", "previous") == "due" else last_on
    return tick.NO_STEP if start is None else start + timedelta(days=int(step["days"]))


step_lists = st.lists(
    st.fixed_dictionaries({"days": st.integers(0, 120)}, optional={"after": st.sampled_from(["due", "previous"])}),
    min_size=1,
    max_size=4,
)
days = st.dates(date(2025, 1, 1), date(2027, 12, 31))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    policies_steps=st.lists(step_lists, min_size=1, max_size=3),
    cases=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), days, st.none() | days), min_size=1, max_size=12),
)
def test_the_servers_next_step_date_is_the_policies_timing(
    db: Database, policies_steps: list[list[dict[str, Any]]], cases: list[tuple[int, int, date, date | None]]
) -> None:
    """The date the tick now computes in SQL (``tick.next_on_sql``, written with INSERT … SELECT)
    against the rules in Python, on the test's database (SQLite's date(), PostgreSQL's date + int):
    for policies of any steps, any level, extension/due date and last step (or none), and a policy
    id no policy has (a customer no policy's rules pick)."""
    made = [DunningPolicy(id=n + 1, steps=steps) for n, steps in enumerate(policies_steps)]
    timings = {policy.id: tick.step_timing(policy) for policy in made}
    with db.transaction() as session:
        for policy_index, level, base, last_on in cases:
            policy_id = policy_index + 1  # may be one past the last policy: no policy
            expression = tick.next_on_sql(
                session,
                timings,
                literal(policy_id),
                literal(level),
                literal(base, Date),
                literal(last_on, Date),
            )
            found = session.scalar(select(expression))
            steps = policies_steps[policy_index] if policy_index < len(policies_steps) else []
            assert found == next_on_by_the_rules(steps, level, base, last_on), (policy_id, level, base, last_on)
