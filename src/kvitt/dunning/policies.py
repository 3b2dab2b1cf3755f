"""Dunning policies: CRUD, the default every tenant starts with, and segment rules as SQL.

Rules are data, never code: each is (field, op, value) over the customer's own columns, its
``attributes``, ``age_years`` or ``segment`` (a tenant's segment by id: its own rule); they become
SQL expressions through the one rule language (``segments.rules``), so that the tick picks each
invoice's policy in the same set-based query that finds what is due.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, literal, not_, or_, select, true
from sqlalchemy.orm import Session, object_session

from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.customers.models import Customer
from kvitt.dunning import law
from kvitt.dunning.models import DunningPolicy, Reminder
from kvitt.dunning.schemas import PolicyCreate, PolicyUpdate, Rule, Step
from kvitt.segments import rules as segment_rules
from kvitt.segments import service as segments
from kvitt.tenants.models import Tenant

DEFAULT_NAME = "Standard"
DEFAULT_PRIORITY = 1_000_000  # after every policy a tenant makes
# A first reminder 7 days after the due date, a second 14 days after that, no fees unless the
# tenant sets them (fee/interest None = the tenant's reminder_fee and late_interest), no collection.
DEFAULT_STEPS: list[dict[str, Any]] = [
    {"days": 7, "after": "due", "action": "reminder", "channel": None, "fee": None, "interest": None, "due_days": 10},
    {
        "days": 14,
        "after": "previous",
        "action": "reminder",
        "channel": None,
        "fee": None,
        "interest": None,
        "due_days": 10,
    },
]


def ensure_default(session: Session, tenant: Tenant) -> None:
    """Create the default policy the first time the tenant's dunning is looked at."""
    exists = session.scalar(select(DunningPolicy.id).where(DunningPolicy.tenant_id == tenant.id).limit(1))
    if exists is None:
        session.add(
            DunningPolicy(
                tenant_id=tenant.id,
                name=DEFAULT_NAME,
                priority=DEFAULT_PRIORITY,
                rules=[],
                steps=DEFAULT_STEPS,
                active=True,
                is_default=True,
            )
        )
        session.flush()


def check_law(steps: list[Step]) -> None:
    """Refuse fees the law does not allow, naming the law (422 with param ``steps[i].fee``)."""
    for index, step in enumerate(steps):
        try:
            if step.fee is not None and step.action == "reminder":
                law.check_reminder_fee(step.fee)
            elif step.fee is not None:
                law.check_collection_fee(step.fee)
        except law.FeeAboveCap as exc:
            raise ValidationFailed(str(exc), param=f"steps[{index}].fee", code="fee_above_legal_cap") from exc


def create(session: Session, tenant: Tenant, data: PolicyCreate) -> DunningPolicy:
    ensure_default(session, tenant)
    check_law(data.steps)
    _unique_name(session, tenant, data.name, None)
    policy = DunningPolicy(
        tenant_id=tenant.id,
        name=data.name,
        priority=data.priority,
        rules=[rule.model_dump() for rule in data.rules],
        steps=[step.model_dump() for step in data.steps],
        active=data.active,
        is_default=False,
    )
    session.add(policy)
    session.flush()
    return policy


def update(session: Session, tenant: Tenant, policy_id: int, data: PolicyUpdate) -> DunningPolicy:
    policy = get(session, tenant, policy_id)
    changes = data.model_dump(exclude_unset=True)
    for field in ("name", "priority", "active"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"{field} cannot be removed", param=field)
    if data.steps is not None:
        check_law(data.steps)
        policy.steps = [step.model_dump() for step in data.steps]
    if data.rules is not None:
        if policy.is_default and data.rules:
            raise ValidationFailed("the default policy applies to every customer; it has no rules", param="rules")
        policy.rules = [rule.model_dump() for rule in data.rules]
    if data.name is not None:
        _unique_name(session, tenant, data.name, policy.id)
        policy.name = data.name
    if data.priority is not None:
        policy.priority = data.priority
    if data.active is not None:
        if policy.is_default and not data.active:
            raise ValidationFailed("the default policy cannot be switched off; change its steps", param="active")
        policy.active = data.active
    session.flush()
    return policy


def delete(session: Session, tenant: Tenant, policy_id: int) -> DunningPolicy:
    policy = get(session, tenant, policy_id)
    if policy.is_default:
        raise Conflict("the default policy cannot be deleted; change its steps instead", code="default_policy")
    used = session.scalar(select(Reminder.id).where(Reminder.tenant_id == tenant.id, Reminder.policy_id == policy.id))
    if used is not None:
        raise Conflict("reminders were sent under this policy: switch it off (active: false) instead", code="in_use")
    session.delete(policy)
    session.flush()
    return policy


def get(session: Session, tenant: Tenant, policy_id: int) -> DunningPolicy:
    policy = session.scalar(
        select(DunningPolicy).where(DunningPolicy.tenant_id == tenant.id, DunningPolicy.id == policy_id)
    )
    if policy is None:
        raise NotFound(f"no dunning policy {policy_id}", param="dunning_policy")
    return policy


def list_page(session: Session, tenant: Tenant, *, limit: int, starting_after: int | None) -> Page[DunningPolicy]:
    ensure_default(session, tenant)
    query = select(DunningPolicy).where(DunningPolicy.tenant_id == tenant.id)
    return paginate(session, query, DunningPolicy.id, limit=limit, starting_after=starting_after)


def active_in_order(session: Session, tenant: Tenant) -> list[DunningPolicy]:
    """The tenant's active policies, the first that matches a customer wins (default last);
    the default is made the first time."""
    ensure_default(session, tenant)
    return active(session, tenant)


def active(session: Session, tenant: Tenant) -> list[DunningPolicy]:
    """The tenant's active policies in order, as they are (a read: the default is not made)."""
    return list(
        session.scalars(
            select(DunningPolicy)
            .where(DunningPolicy.tenant_id == tenant.id, DunningPolicy.active.is_(True))
            .order_by(DunningPolicy.is_default, DunningPolicy.priority, DunningPolicy.id)
        )
    )


def policy_of_customer(policies: list[DunningPolicy], today: date) -> ColumnElement[Any]:
    """SQL: the id of the first policy whose rules hold for the customer (NULL if none)."""
    whens = [(rules_sql(policy.rules, today, policy), literal(policy.id)) for policy in policies]
    if not whens:
        return literal(None)
    return case(*whens, else_=literal(None))


def rules_sql(rules: list[dict[str, Any]], today: date, policy: DunningPolicy | None = None) -> ColumnElement[bool]:
    if not rules:
        return true()
    return and_(*(_rule_sql(Rule.model_validate(rule), today, policy) for rule in rules))


def _rule_sql(rule: Rule, today: date, policy: DunningPolicy | None = None) -> ColumnElement[bool]:
    if rule.field == "segment":
        return _segment_sql(rule, today, policy)
    if rule.field == "age_years":
        # "a customer for more than N years": became a customer before this day N years ago.
        assert isinstance(rule.value, int)
        cutoff = segment_rules.years_before(today, rule.value)
        column: Any = Customer.created_at
        flipped = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "ne": "ne"}
        return segment_rules.compare_sql(column, flipped[rule.op], cutoff)
    if rule.field.startswith("attributes."):
        key = rule.field.removeprefix("attributes.")
        sample = rule.value[0] if isinstance(rule.value, list) and rule.value else rule.value
        kind = "boolean" if isinstance(sample, bool) else "number" if isinstance(sample, int) else "string"
        return segment_rules.compare_sql(attribute(key, kind), rule.op, rule.value)
    return segment_rules.compare_sql(getattr(Customer, rule.field), rule.op, rule.value)


def _segment_sql(rule: Rule, today: date, policy: DunningPolicy | None) -> ColumnElement[bool]:
    """The customer is (``eq``/``in``) or is not (``ne``/``not_in``) in the named segment(s):
    each segment's own rule, in the same SQL (one evaluator: ``segments.rules``). A segment
    that no longer exists holds nobody."""
    ids = [int(v) for v in (rule.value if isinstance(rule.value, list) else [rule.value])]
    session = object_session(policy) if policy is not None else None
    found = segments.definitions(session, policy.tenant_id, ids) if session is not None and policy else {}
    inside = or_(false(), *(segments.sql_of(found[i], today) for i in ids if i in found))
    return inside if rule.op in ("eq", "in") else not_(inside)


attribute = segment_rules.attribute  # a customer's attributes[key] as a kind (used by the tick too)


def _unique_name(session: Session, tenant: Tenant, name: str, own_id: int | None) -> None:
    other = session.scalar(
        select(DunningPolicy.id).where(DunningPolicy.tenant_id == tenant.id, DunningPolicy.name == name)
    )
    if other is not None and other != own_id:
        raise Conflict(f"a dunning policy named {name!r} exists", param="name", code="duplicate_name")
