"""*Påminnelser och inkasso*, Policyer (admins): a new dunning policy and changes to one — name,
priority, whether it is on, which customers it is for (rules), its steps (days, from the due date
or the previous step, reminder or hand-over, fee, interest, channel, the reminder's due days) —
through ``dunning.policies.create/update/delete`` as ``POST/PATCH/DELETE /api/v1/dunning-policies``
(the default policy, and one that reminders were sent under, are refused as the API refuses them):
the same
input models (``PolicyCreate``, ``PolicyUpdate``), the same legal fee caps
(``dunning.policies.check_law``, naming the law), the same unique names. The rows are on the page
of ``dunning_page``.

Rules are typed one a line, ``field op value``: ``attributes.kundtyp eq foretag``,
``age_years gte 2``, ``segment in [4, 7]``. The value is JSON when it reads as JSON (``2``,
``true``, ``"2"``, ``[4, 7]``), text otherwise — as the customer page's attributes. A bad line is
refused naming its number and what the API's model says of it; nothing is written.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kvitt.admin.audit import audit
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import act
from kvitt.admin.nav import roles_of
from kvitt.admin.rule_lines import conditions_from_text, conditions_text
from kvitt.admin.settings_page import fee_ore
from kvitt.core.errors import ValidationFailed
from kvitt.dunning import policies
from kvitt.dunning.models import DunningPolicy
from kvitt.dunning.schemas import PolicyCreate, PolicyUpdate, Rule, Step
from kvitt.tenants.models import Tenant

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("dunning"))
ADMINS = ("admin",)
MAX_RULES = 20  # as PolicyCreate allows
MAX_STEPS = 10  # as PolicyCreate and PolicyUpdate allow
NEW_ROWS = 3  # empty step rows in the new policy's form


@router.post("/admin/paminnelser/policyer")
async def create_policy(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """A new policy; its steps come in the rows ``days_0`` .. as on a policy's own form."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        data = PolicyCreate(
            name=form.get("name", "").strip(),
            priority=priority_from(form.get("priority", "")),
            rules=rules_from_text(form.get("rules", "")),
            steps=steps_from_form(form),
            active=form.get("active") == "1",
        )
        policy = policies.create(session, tenant, data)
        audit(
            session,
            staff,
            "dunning.policy_create",
            None,
            _policy_snapshot(policy),
            target=f"dunning_policy:{policy.id}",
        )
        return f"/admin/paminnelser?done=saved#policy-{policy.id}"

    return await act(request, staff, ADMINS, work, "/admin/paminnelser#ny-policy")


@router.post("/admin/paminnelser/policyer/{policy_id}")
async def change_policy(policy_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """A policy's name, whether it is on, its priority and rules (not the default's: it is for
    everyone, last), and its steps; a step whose days are empty is removed."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        policy = policies.get(session, tenant, policy_id)
        before = _policy_snapshot(policy)
        steps = steps_from_form(form)
        changes: dict[str, Any] = {"steps": steps}
        if form.get("name", "").strip():
            changes["name"] = form["name"]
        if not policy.is_default:
            changes["active"] = form.get("active") == "1"
            if "priority" in form:
                changes["priority"] = priority_from(form["priority"])
            if "rules" in form:
                changes["rules"] = rules_from_text(form["rules"])
        policies.update(session, tenant, policy.id, PolicyUpdate(**changes))
        after = _policy_snapshot(policy)
        if after != before:
            audit(session, staff, "dunning.policy_update", before, after, target=f"dunning_policy:{policy.id}")
        return f"/admin/paminnelser?done=saved#policy-{policy.id}"

    return await act(request, staff, ADMINS, work, "/admin/paminnelser")


@router.post("/admin/paminnelser/policyer/{policy_id}/ta-bort")
async def delete_policy(policy_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The policy goes (``dunning.policies.delete``): not the default, nor one that reminders were
    sent under (switch that one off instead); the service's refusal is shown."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        policy = policies.get(session, tenant, policy_id)
        before = _policy_snapshot(policy)
        policies.delete(session, tenant, policy.id)
        audit(session, staff, "dunning.policy_delete", before, None, target=f"dunning_policy:{policy_id}")
        return "/admin/paminnelser?done=deleted#policyer"

    return await act(request, staff, ADMINS, work, f"/admin/paminnelser#policy-{policy_id}")


def _policy_snapshot(policy: DunningPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "active": policy.active,
        "priority": policy.priority,
        "rules": [dict(rule) for rule in policy.rules],
        "steps": [dict(step) for step in policy.steps],
    }


def steps_from_form(form: dict[str, str]) -> list[Step]:
    """``days_0``, ``after_0``, ... ``due_days_9`` as steps, in order; rows without days are left out."""
    steps = []
    for i in range(MAX_STEPS):
        days = form.get(f"days_{i}", "").strip()
        if not days:
            continue
        channel = form.get(f"channel_{i}", "").strip() or None
        interest = {"": None, "1": True, "0": False}.get(form.get(f"interest_{i}", ""))
        steps.append(
            Step.model_validate(
                {
                    "days": _whole(days, f"steps[{i}].days"),
                    "after": form.get(f"after_{i}", "previous"),
                    "action": form.get(f"action_{i}", "reminder"),
                    "channel": channel,
                    "fee": _fee(form.get(f"fee_{i}", ""), f"steps[{i}].fee"),
                    "interest": interest,
                    "due_days": _whole(form.get(f"due_days_{i}", "") or "10", f"steps[{i}].due_days"),
                }
            )
        )
    if not steps:
        raise ValidationFailed("a policy needs at least one step", param="steps")
    return steps


def _whole(value: str, param: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValidationFailed(f"{param}: a whole number of days", param=param) from None


def _fee(value: str, param: str) -> int | None:
    """Kronor as öre; empty: the tenant's own reminder fee (``None``)."""
    return fee_ore(value, param) if value.strip() else None


def step_rows(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The policy's steps and one empty row to add a step with (up to MAX_STEPS)."""
    rows = [dict(step) for step in steps]
    if len(rows) < MAX_STEPS:
        rows.append({"days": None, "after": "previous", "action": "reminder", "fee": None, "interest": None})
    return rows


def priority_from(value: str) -> int:
    """Lower first; empty: the API's default (100)."""
    text = value.strip()
    if not text:
        return 100
    try:
        return int(text)
    except ValueError:
        raise ValidationFailed("priority: a whole number; lower is tried first", param="priority") from None


def rules_from_text(text: str) -> list[Rule]:
    """``field op value`` lines as the API's rules; ValidationFailed naming the line."""
    return conditions_from_text(text, Rule, "rules", MAX_RULES)


def rules_text(rules: list[dict[str, Any]]) -> str:
    """The stored rules as the form's lines."""
    return conditions_text(rules)


def new_rows() -> list[dict[str, Any]]:
    return [{"days": None, "after": "previous", "action": "reminder", "fee": None, "interest": None}] * NEW_ROWS
