"""Event-chain use cases: rules as data, matched against domain events, fired once per event.

A domain event (from the outbox) is matched against the tenant's enabled rules for its type;
each rule whose conditions hold gets a firing row (unique per rule and event) and an outbox job
that runs its actions, at once or after the rule's wait, when the conditions are checked again.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, lazyload

from kvitt.automation import conditions
from kvitt.automation.models import AutomationFiring, AutomationRule
from kvitt.automation.schemas import RuleCreate, RuleUpdate, Wait
from kvitt.automation.templates import TEMPLATES
from kvitt.core import clock
from kvitt.core.db import any_of, bulk_insert, is_postgresql, utcnow
from kvitt.core.errors import Conflict, NotFound
from kvitt.core.outbox import enqueue_rows
from kvitt.core.pagination import Page, paginate
from kvitt.customers.models import Customer
from kvitt.invoices.models import Invoice
from kvitt.segments import service as segments
from kvitt.tenants.models import Tenant
from kvitt.webhooks import service as webhooks
from kvitt.webhooks.service import event_source_key

RUN_JOB = "automation.run"
DUE_ON_TEST_CLOCK_JOB = "automation.due_on_test_clock"
WAITING, DONE, SKIPPED, FAILED = "waiting", "done", "skipped", "failed"
# A rule that fires again and again on one invoice within a day is a loop (a rule's action
# causing its own trigger): after this many firings the rest are recorded as skipped.
LOOP_LIMIT = 5


# --- rules ----------------------------------------------------------------------------------------


def create_rule(session: Session, tenant: Tenant, data: RuleCreate, *, template: str | None = None) -> AutomationRule:
    actions = [a.model_dump() for a in data.actions]
    _check_actions(session, tenant, actions)
    rule = AutomationRule(
        tenant_id=tenant.id,
        name=data.name,
        description=data.description,
        trigger=data.trigger,
        conditions=[c.model_dump() for c in data.conditions],
        actions=actions,
        wait_minutes=data.wait.total_minutes() if data.wait else 0,
        enabled=data.enabled,
        template=template,
    )
    session.add(rule)
    session.flush()
    return rule


def get_rule(session: Session, tenant: Tenant, rule_id: int) -> AutomationRule:
    rule = session.scalar(
        select(AutomationRule).where(AutomationRule.tenant_id == tenant.id, AutomationRule.id == rule_id)
    )
    if rule is None:
        raise NotFound(f"no automation rule {rule_id}")
    return rule


def list_rules(session: Session, tenant: Tenant, *, limit: int, starting_after: int | None) -> Page[Any]:
    query = select(AutomationRule).where(AutomationRule.tenant_id == tenant.id)
    return paginate(session, query, AutomationRule.id, limit=limit, starting_after=starting_after)


def update_rule(session: Session, tenant: Tenant, rule_id: int, data: RuleUpdate) -> AutomationRule:
    rule = get_rule(session, tenant, rule_id)
    changes = data.model_dump(exclude_unset=True)
    if data.actions is not None:
        actions = [a.model_dump() for a in data.actions]
        _check_actions(session, tenant, actions)
        rule.actions = actions
    if data.conditions is not None:
        rule.conditions = [c.model_dump() for c in data.conditions]
    if "wait" in changes:
        rule.wait_minutes = data.wait.total_minutes() if data.wait else 0
    for field in ("name", "trigger", "enabled"):
        if changes.get(field) is not None:
            setattr(rule, field, changes[field])
    if "description" in changes:
        rule.description = data.description
    session.flush()
    return rule


def set_enabled(session: Session, tenant: Tenant, rule_id: int, enabled: bool) -> AutomationRule:
    rule = get_rule(session, tenant, rule_id)
    rule.enabled = enabled
    session.flush()
    return rule


def delete_rule(session: Session, tenant: Tenant, rule_id: int) -> None:
    """The rule and its firings go; a waiting firing's job then finds nothing to do."""
    rule = get_rule(session, tenant, rule_id)
    session.execute(
        delete(AutomationFiring).where(AutomationFiring.tenant_id == tenant.id, AutomationFiring.rule_id == rule.id)
    )
    session.delete(rule)
    session.flush()


def install_template(session: Session, tenant: Tenant, name: str, *, enabled: bool) -> AutomationRule:
    template = TEMPLATES.get(name)
    if template is None:
        raise NotFound(f"no template {name!r}; there are: {', '.join(sorted(TEMPLATES))}", param="template")
    existing = session.scalar(
        select(AutomationRule).where(AutomationRule.tenant_id == tenant.id, AutomationRule.template == name)
    )
    if existing is not None:
        raise Conflict(f"template {name!r} is installed already as rule {existing.id}", code="template_installed")
    data = RuleCreate.model_validate({**template.rule, "description": template.description, "enabled": enabled})
    return create_rule(session, tenant, data, template=name)


def installed_templates(session: Session, tenant: Tenant) -> dict[str, int]:
    rows = session.execute(
        select(AutomationRule.template, AutomationRule.id).where(
            AutomationRule.tenant_id == tenant.id, AutomationRule.template.is_not(None)
        )
    )
    return {str(name): int(rule_id) for name, rule_id in rows}


def wait_of(rule: AutomationRule) -> dict[str, int] | None:
    if not rule.wait_minutes:
        return None
    days, rest = divmod(rule.wait_minutes, 24 * 60)
    return Wait(days=days, hours=rest // 60, minutes=rest % 60).model_dump()


def _check_actions(session: Session, tenant: Tenant, actions: list[dict[str, Any]]) -> None:
    for i, action in enumerate(actions):
        if action["type"] == "webhook":
            webhooks.get_endpoint(session, tenant, action["endpoint"], param=f"actions[{i}].endpoint")


# --- firings ---------------------------------------------------------------------------------------


def list_firings(
    session: Session, tenant: Tenant, rule_id: int, *, limit: int, starting_after: int | None
) -> Page[Any]:
    rule = get_rule(session, tenant, rule_id)
    query = select(AutomationFiring).where(AutomationFiring.tenant_id == tenant.id, AutomationFiring.rule_id == rule.id)
    return paginate(session, query, AutomationFiring.id, limit=limit, starting_after=starting_after)


def on_event(session: Session, tenant: Tenant, event: dict[str, Any]) -> int:
    """Fire every enabled rule of the tenant that this event triggers; returns how many fired."""
    return on_events(session, tenant.id, [event])


Candidate = tuple[AutomationRule, str, dict[str, Any], dict[str, Any]]  # rule, event key, event, facts


def on_events(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> int:
    """Match a batch of one tenant's domain events to its enabled rules; returns how many fired.

    Set-based: the rules are read once (one statement for a batch that triggers none), the facts
    of every event in bulk (its invoice, its customer), the firings already made for these
    events (a rerun of the same event jobs) and the loop guard's counts with one query each, and
    the new firings and their jobs are inserted in bulk. The outcome is that of the events one
    by one, in their order: a rule fires at most once per event, and the loop guard counts the
    firings this batch made before each one.
    """
    types = {str(event.get("type", "")) for event in events}
    rules = list(
        session.scalars(
            select(AutomationRule)
            .where(
                AutomationRule.tenant_id == tenant_id,
                AutomationRule.trigger.in_(types),
                AutomationRule.enabled.is_(True),
            )
            .order_by(AutomationRule.id)
        )
    )
    if not rules:
        return 0
    by_trigger: dict[str, list[AutomationRule]] = {}
    for rule in rules:
        by_trigger.setdefault(rule.trigger, []).append(rule)
    triggering = [event for event in events if str(event.get("type", "")) in by_trigger]
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        return 0
    today = business_date(session, tenant)
    candidates: list[Candidate] = []
    for event, facts in zip(triggering, facts_for_many(session, tenant, triggering, today=today), strict=True):
        key = event_source_key(event) or f"once:{secrets.token_hex(12)}"
        for rule in by_trigger[str(event.get("type", ""))]:
            if conditions.holds(rule.conditions, facts):
                candidates.append((rule, key, event, facts))
    if not candidates:
        return 0
    fired_before = _fired_already(session, tenant_id, candidates)
    candidates = [c for c in candidates if (c[0].id, c[1]) not in fired_before]
    if not candidates:
        return 0  # the events' jobs ran again: every rule fired for them the first time
    recent = _recent_firings(session, tenant_id, candidates)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for rule, key, event, facts in candidates:
        invoice_id = _int_or_none(facts.get("invoice", {}).get("id"))
        row = {
            "tenant_id": tenant_id,
            "rule_id": rule.id,
            "event_key": key,
            "event_type": str(event.get("type")),
            "event": {k: v for k, v in event.items() if k != "event_job_id"},
            "invoice_id": invoice_id,
            "customer_id": _int_or_none(facts.get("customer", {}).get("id")),
            "state": WAITING,
            "run_at": now + timedelta(minutes=rule.wait_minutes),
            "due_on": today + timedelta(days=math.ceil(rule.wait_minutes / (24 * 60))) if rule.wait_minutes else None,
            "results": [],
            "error": None,
            "created_at": now,
            "finished_at": None,
        }
        if invoice_id is not None:
            count = recent.get((rule.id, invoice_id), 0)
            recent[(rule.id, invoice_id)] = count + 1  # the next event of this batch counts this firing
            if count >= LOOP_LIMIT:
                row["state"], row["finished_at"] = SKIPPED, now
                row["error"] = f"loop guard: rule fired {LOOP_LIMIT} times on this invoice in 24 hours"
        rows.append(row)
    bulk_insert(session, AutomationFiring, rows)
    waiting = {(row["rule_id"], row["event_key"]): row for row in rows if row["state"] == WAITING}
    if waiting:
        made = session.execute(
            select(AutomationFiring.id, AutomationFiring.rule_id, AutomationFiring.event_key).where(
                AutomationFiring.tenant_id == tenant_id,
                any_of(session, AutomationFiring.rule_id, {rule_id for rule_id, _ in waiting}),
                any_of(session, AutomationFiring.event_key, {key for _, key in waiting}),
            )
        )
        enqueue_rows(
            session,
            [
                {
                    "tenant_id": tenant_id,
                    "kind": RUN_JOB,
                    "payload": {"firing_id": int(firing_id)},
                    "run_at": waiting[(rule_id, key)]["run_at"],
                    "dedupe_key": f"{RUN_JOB}:{firing_id}",
                }
                for firing_id, rule_id, key in made
                if (rule_id, key) in waiting
            ],
        )
    return len(rows)


def _fired_already(session: Session, tenant_id: int, candidates: list[Candidate]) -> set[tuple[int, str]]:
    rows = session.execute(
        select(AutomationFiring.rule_id, AutomationFiring.event_key).where(
            AutomationFiring.tenant_id == tenant_id,
            any_of(session, AutomationFiring.rule_id, {rule.id for rule, _, _, _ in candidates}),
            any_of(session, AutomationFiring.event_key, {key for _, key, _, _ in candidates}),
        )
    )
    return {(int(rule_id), str(key)) for rule_id, key in rows}


def _recent_firings(session: Session, tenant_id: int, candidates: list[Candidate]) -> dict[tuple[int, int], int]:
    """Firings per (rule, invoice) in the last 24 hours, for the loop guard (one GROUP BY)."""
    invoice_ids = {
        i for i in (_int_or_none(facts.get("invoice", {}).get("id")) for _, _, _, facts in candidates) if i is not None
    }
    if not invoice_ids:
        return {}
    since = utcnow() - timedelta(hours=24)
    rows = session.execute(
        select(AutomationFiring.rule_id, AutomationFiring.invoice_id, func.count(AutomationFiring.id))
        .where(
            AutomationFiring.tenant_id == tenant_id,
            any_of(session, AutomationFiring.rule_id, {rule.id for rule, _, _, _ in candidates}),
            any_of(session, AutomationFiring.invoice_id, invoice_ids),
            AutomationFiring.created_at >= since,
        )
        .group_by(AutomationFiring.rule_id, AutomationFiring.invoice_id)
    )
    return {(int(rule_id), int(invoice_id or 0)): int(count) for rule_id, invoice_id, count in rows}


def run_firing(session: Session, tenant: Tenant, firing_id: int) -> None:
    """Run a firing's actions (after its wait, if the conditions still hold), all or none."""
    run_firings(session, tenant, [firing_id])


def run_firings(session: Session, tenant: Tenant, firing_ids: list[int]) -> None:
    """:func:`run_firing` of many, in id order: firings, rules, invoices and customers are read
    once for all of them; each firing's actions happen in a savepoint of their own.

    Each firing's facts are made just before it runs, from the session's live objects, so a
    firing sees what the ones before it in the batch changed (a tag added, a dunning pause).
    """
    from kvitt.automation.actions import ActionFailed

    query = (
        select(AutomationFiring)
        .where(AutomationFiring.tenant_id == tenant.id, any_of(session, AutomationFiring.id, firing_ids))
        .order_by(AutomationFiring.id)
    )
    if is_postgresql(session):
        # The delayed job and a test clock's daily sweep may reach one firing at once: one runs it.
        query = query.with_for_update()
    firings = [firing for firing in session.scalars(query) if firing.state == WAITING]
    if not firings:
        return
    of_rules = select(AutomationRule).where(
        AutomationRule.tenant_id == tenant.id, AutomationRule.id.in_({f.rule_id for f in firings})
    )
    rules = {rule.id: rule for rule in session.scalars(of_rules)}
    subjects = _subjects(session, tenant, [firing.event for firing in firings])
    today = business_date(session, tenant)
    named = any(c.get("field") == "customer.segments" for rule in rules.values() for c in rule.conditions)
    member = segments.memberships(session, tenant, list(subjects.customers)) if named else {}
    batch = _Batch(firings, rules, subjects, today, member)
    try:
        # Fast path: one savepoint for the whole batch, so that a firing costs no round trips of
        # its own (its writes go out with the others at the next flush). Actions rarely fail;
        # when one does, the batch is rolled back and run again with a savepoint per firing.
        with session.begin_nested():
            _run_batch(session, tenant, batch, savepoint_each=False)
    except ActionFailed:
        for firing in batch.firings:
            session.refresh(firing)  # as the database has it again: waiting
        _run_batch(session, tenant, batch, savepoint_each=True)


@dataclass
class _Batch:
    firings: list[AutomationFiring]
    rules: dict[int, AutomationRule]
    subjects: Any
    today: date
    member: dict[int, Any]


def _run_batch(session: Session, tenant: Tenant, batch: _Batch, *, savepoint_each: bool) -> None:
    from kvitt.automation.actions import ActionFailed, run_actions

    for firing, (invoice, customer_id) in zip(batch.firings, batch.subjects.found, strict=True):
        rule = batch.rules.get(firing.rule_id)
        if rule is None or not rule.enabled:
            _finish(firing, SKIPPED, "the rule was switched off while the firing waited")
            continue
        customer = batch.subjects.customers.get(customer_id) if customer_id is not None else None
        facts = _facts(firing.event, invoice, customer, batch.today)
        if facts["customer"]:
            facts["customer"]["segments"] = sorted(batch.member.get(facts["customer"]["id"], ()))
        if rule.wait_minutes and not conditions.holds(rule.conditions, facts):
            _finish(firing, SKIPPED, "the conditions no longer held after the wait")
            continue
        if not savepoint_each:
            firing.results = run_actions(session, tenant, rule, firing, facts)  # ActionFailed: the slow path
            _finish(firing, DONE, None)
            continue
        try:
            # A savepoint: the actions happen together or not at all, and a failure is recorded.
            with session.begin_nested():
                results = run_actions(session, tenant, rule, firing, facts)
        except ActionFailed as exc:
            firing.results = exc.results
            _finish(firing, FAILED, str(exc))
            continue
        # Set after the savepoint, so the firing's row is written once (at the next flush).
        firing.results = results
        _finish(firing, DONE, None)


def _finish(firing: AutomationFiring, state: str, error: str | None) -> None:
    firing.state, firing.error, firing.finished_at = state, error, utcnow()


def run_due_on_test_clock(session: Session, tenant: Tenant, day: date) -> int:
    """A test tenant's firings whose wait ends by ``day`` (its clock's date), run now.

    Waits are wall-clock outbox jobs; a test clock moves a tenant through days in seconds, so
    its daily sweep runs what the days it passes have made due. Live tenants: nothing here.
    """
    from kvitt.testclock import service as testclock

    if not tenant.is_test or testclock.get(session, tenant) is None:
        return 0
    due = list(
        session.scalars(
            select(AutomationFiring.id)
            .where(
                AutomationFiring.tenant_id == tenant.id,
                AutomationFiring.state == WAITING,
                AutomationFiring.due_on <= day,
            )
            .order_by(AutomationFiring.id)
        )
    )
    run_firings(session, tenant, due)
    return len(due)


def business_date(session: Session, tenant: Tenant) -> date:
    """The tenant's date: its test clock's if it has one, else today in Sweden."""
    if not tenant.is_test:
        return clock.today()
    from kvitt.testclock import service as testclock

    return testclock.today_for(session, tenant)


# --- facts ------------------------------------------------------------------------------------------


def facts_for(session: Session, tenant: Tenant, event: dict[str, Any]) -> dict[str, Any]:
    """What conditions and message placeholders can name, read now from the database."""
    return facts_for_many(session, tenant, [event], today=business_date(session, tenant))[0]


def facts_for_many(
    session: Session, tenant: Tenant, events: list[dict[str, Any]], *, today: date
) -> list[dict[str, Any]]:
    """:func:`facts_for` of many events, in their order: their invoices and customers are read
    with one query each, whatever the number of events."""
    subjects = _subjects(session, tenant, events)
    facts = [
        _facts(event, invoice, subjects.customers.get(customer_id) if customer_id is not None else None, today)
        for event, (invoice, customer_id) in zip(events, subjects.found, strict=True)
    ]
    # customer.segments: which of the tenant's segments each customer is in (one query)
    member = segments.memberships(session, tenant, list(subjects.customers))
    for fact in facts:
        if fact["customer"]:
            fact["customer"]["segments"] = sorted(member.get(fact["customer"]["id"], ()))
    return facts


@dataclass
class _Subjects:
    found: list[tuple[Invoice | None, int | None]]  # per event: its invoice, its customer's id
    customers: dict[int, Customer]


def _subjects(session: Session, tenant: Tenant, events: list[dict[str, Any]]) -> _Subjects:
    """The invoices and customers the events name, one query each."""
    invoice_ids = {i for i in (_int_or_none(e.get("invoice_id")) for e in events) if i is not None}
    invoices: dict[int, Invoice] = {}
    if invoice_ids:
        # The rules read no invoice lines: not loaded (Invoice.lines loads "selectin" by default).
        query = (
            select(Invoice)
            .options(lazyload(Invoice.lines))
            .where(Invoice.tenant_id == tenant.id, any_of(session, Invoice.id, invoice_ids))
        )
        invoices = {invoice.id: invoice for invoice in session.scalars(query)}
    found: list[tuple[Invoice | None, int | None]] = []
    for event in events:
        invoice_id = _int_or_none(event.get("invoice_id"))
        invoice = invoices.get(invoice_id) if invoice_id is not None else None
        found.append((invoice, invoice.customer_id if invoice is not None else _int_or_none(event.get("customer_id"))))
    customer_ids = {customer_id for _, customer_id in found if customer_id is not None}
    customers: dict[int, Customer] = {}
    if customer_ids:
        of_customers = select(Customer).where(
            Customer.tenant_id == tenant.id, any_of(session, Customer.id, customer_ids)
        )
        customers = {customer.id: customer for customer in session.scalars(of_customers)}
    return _Subjects(found, customers)


def _facts(event: dict[str, Any], invoice: Invoice | None, customer: Customer | None, today: date) -> dict[str, Any]:
    facts: dict[str, Any] = {"event": dict(event.get("data") or {}), "customer": {}, "invoice": {}}
    facts["event"]["type"] = event.get("type")
    if invoice is not None:
        facts["invoice"] = {
            "id": invoice.id,
            "state": invoice.state,
            "kind": invoice.kind,
            "currency": invoice.currency,
            "number": invoice.number,
            "total": invoice.total,
            "remaining": invoice.remaining,
            "paid": invoice.paid,
            "credited": invoice.credited,
            "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
            "invoice_date": invoice.invoice_date.isoformat() if invoice.invoice_date else None,
            "days_overdue": max((today - invoice.due_date).days, 0) if invoice.due_date else 0,
            "metadata": dict(invoice.metadata_ or {}),
            "ocr": invoice.ocr,
        }
    if customer is not None:
        facts["customer"] = {
            "id": customer.id,
            "type": customer.type,
            "customer_no": customer.customer_no,
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "city": customer.city,
            "postal_code": customer.postal_code,
            "country": customer.country,
            "delivery_method": customer.delivery_method,
            "language": customer.language,
            "age_days": (today - customer.created_at.astimezone(clock.STOCKHOLM).date()).days,
            "attributes": dict(customer.attributes or {}),
        }
    return facts


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None
