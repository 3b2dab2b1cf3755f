"""Event-chain use cases: rules as data, matched against domain events, fired once per event.

A domain event (from the outbox) is matched against the tenant's enabled rules for its type;
each rule whose conditions hold gets a firing row (unique per rule and event) and an outbox job
that runs its actions, at once or after the rule's wait, when the conditions are checked again.
"""

from __future__ import annotations

import math
import secrets
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kvitt.automation import conditions
from kvitt.automation.models import AutomationFiring, AutomationRule
from kvitt.automation.schemas import RuleCreate, RuleUpdate, Wait
from kvitt.automation.templates import TEMPLATES
from kvitt.core import clock
from kvitt.core.db import is_postgresql, utcnow
from kvitt.core.errors import Conflict, NotFound
from kvitt.core.outbox import enqueue
from kvitt.core.pagination import Page, paginate
from kvitt.customers.models import Customer
from kvitt.invoices.models import Invoice
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
    rules = list(
        session.scalars(
            select(AutomationRule)
            .where(
                AutomationRule.tenant_id == tenant.id,
                AutomationRule.trigger == str(event.get("type", "")),
                AutomationRule.enabled.is_(True),
            )
            .order_by(AutomationRule.id)
        )
    )
    if not rules:
        return 0
    key = event_source_key(event) or f"once:{secrets.token_hex(12)}"
    facts = facts_for(session, tenant, event)
    fired = 0
    for rule in rules:
        if conditions.holds(rule.conditions, facts) and _fire(session, tenant, rule, key, event, facts):
            fired += 1
    return fired


def _fire(
    session: Session, tenant: Tenant, rule: AutomationRule, key: str, event: dict[str, Any], facts: dict[str, Any]
) -> bool:
    already = session.scalar(
        select(AutomationFiring.id).where(AutomationFiring.rule_id == rule.id, AutomationFiring.event_key == key)
    )
    if already is not None:
        return False  # the event's job ran again: this rule fired for it the first time
    now = utcnow()
    invoice_id = _int_or_none(facts.get("invoice", {}).get("id"))
    firing = AutomationFiring(
        tenant_id=tenant.id,
        rule_id=rule.id,
        event_key=key,
        event_type=str(event.get("type")),
        event={k: v for k, v in event.items() if k != "event_job_id"},
        invoice_id=invoice_id,
        customer_id=_int_or_none(facts.get("customer", {}).get("id")),
        state=WAITING,
        run_at=now + timedelta(minutes=rule.wait_minutes),
        due_on=business_date(session, tenant) + timedelta(days=math.ceil(rule.wait_minutes / (24 * 60)))
        if rule.wait_minutes
        else None,
        results=[],
    )
    if invoice_id is not None and _recent_firings(session, rule, invoice_id) >= LOOP_LIMIT:
        firing.state, firing.finished_at = SKIPPED, now
        firing.error = f"loop guard: rule fired {LOOP_LIMIT} times on this invoice in 24 hours"
        session.add(firing)
        session.flush()
        return True
    session.add(firing)
    session.flush()
    enqueue(
        session,
        RUN_JOB,
        {"firing_id": firing.id},
        tenant_id=tenant.id,
        run_at=firing.run_at,
        dedupe_key=f"{RUN_JOB}:{firing.id}",
    )
    return True


def _recent_firings(session: Session, rule: AutomationRule, invoice_id: int) -> int:
    since = utcnow() - timedelta(hours=24)
    return int(
        session.scalar(
            select(func.count(AutomationFiring.id)).where(
                AutomationFiring.rule_id == rule.id,
                AutomationFiring.invoice_id == invoice_id,
                AutomationFiring.created_at >= since,
            )
        )
        or 0
    )


def run_firing(session: Session, tenant: Tenant, firing_id: int) -> None:
    """Run a firing's actions (after its wait, if the conditions still hold), all or none."""
    from kvitt.automation.actions import ActionFailed, run_actions

    query = select(AutomationFiring).where(AutomationFiring.tenant_id == tenant.id, AutomationFiring.id == firing_id)
    if is_postgresql(session):
        # The delayed job and a test clock's daily sweep may reach one firing at once: one runs it.
        query = query.with_for_update()
    firing = session.scalar(query)
    if firing is None or firing.state != WAITING:
        return
    rule = session.get(AutomationRule, firing.rule_id)
    firing.finished_at = utcnow()
    if rule is None or not rule.enabled:
        firing.state, firing.error = SKIPPED, "the rule was switched off while the firing waited"
        return
    facts = facts_for(session, tenant, firing.event)
    if rule.wait_minutes and not conditions.holds(rule.conditions, facts):
        firing.state, firing.error = SKIPPED, "the conditions no longer held after the wait"
        return
    try:
        # A savepoint: the actions happen together or not at all, and a failure is recorded.
        with session.begin_nested():
            firing.results = run_actions(session, tenant, rule, firing, facts)
    except ActionFailed as exc:
        firing.state, firing.error, firing.results = FAILED, str(exc), exc.results
        return
    firing.state = DONE


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
    for firing_id in due:
        run_firing(session, tenant, firing_id)
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
    facts: dict[str, Any] = {"event": dict(event.get("data") or {}), "customer": {}, "invoice": {}}
    facts["event"]["type"] = event.get("type")
    invoice = None
    invoice_id = _int_or_none(event.get("invoice_id"))
    if invoice_id is not None:
        invoice = session.scalar(select(Invoice).where(Invoice.tenant_id == tenant.id, Invoice.id == invoice_id))
    customer_id = invoice.customer_id if invoice is not None else _int_or_none(event.get("customer_id"))
    customer = None
    if customer_id is not None:
        customer = session.scalar(select(Customer).where(Customer.tenant_id == tenant.id, Customer.id == customer_id))
    today = business_date(session, tenant)
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
