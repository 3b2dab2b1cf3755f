"""*Händelsekedjor*: the tenant's event-chain rules and their latest firings. An admin writes a rule
(``/admin/handelsekedjor/ny``, and each rule's own page) and switches one on or off, through
``automation.service.create_rule/update_rule/set_enabled`` and the API's ``RuleCreate`` and
``RuleUpdate`` (as ``POST/PATCH /api/v1/automation-rules``, docs/automation.md): the same trigger
catalogue, condition language and action checks (a webhook endpoint must be the tenant's own).
An admin also deletes a rule with its firings (``automation.service.delete_rule``, as
``DELETE /api/v1/automation-rules/{id}``) and installs one of the event chains Kvitt ships, listed
on the page, switched off (``automation.service.install_template``, as
``POST /api/v1/automation-rules/templates``: a template installed already is refused).

The form takes conditions as ``field op value`` lines (``admin.rule_lines``) and actions one a line:

    send [email|sms|letter|einvoice]      message <text>        add_tag <tag>   remove_tag <tag>
    pause_dunning [invoice|customer] [<days>]   notify_staff <subject> | <text>   webhook <endpoint id>

A bad line is refused naming its number and what the API's model says of it; nothing is written."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.audit import audit, audit_changes
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, act, read
from kvitt.admin.nav import roles_of
from kvitt.admin.rule_lines import conditions_from_text, conditions_text, numbered_lines, problems, whole
from kvitt.automation import service as automation
from kvitt.automation.models import AutomationFiring, AutomationRule
from kvitt.automation.schemas import ACTION_TYPES, Action, ConditionIn, RuleCreate, RuleUpdate, TemplateInstall, Wait
from kvitt.automation.templates import TEMPLATES
from kvitt.core.errors import ValidationFailed
from kvitt.tenants.models import Tenant
from kvitt.webhooks.catalogue import CATALOGUE

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("automation"))
ADMINS = ("admin",)


def automation_data(session: Session, tenant: Tenant) -> dict[str, Any]:
    rules = list(
        session.scalars(select(AutomationRule).where(AutomationRule.tenant_id == tenant.id).order_by(AutomationRule.id))
    )
    firings = list(
        session.scalars(
            select(AutomationFiring)
            .where(AutomationFiring.tenant_id == tenant.id)
            .order_by(AutomationFiring.id.desc())
            .limit(PAGE_SIZE)
        )
    )
    installed = automation.installed_templates(session, tenant)
    templates = [(t, installed.get(t.name)) for t in TEMPLATES.values()]
    return {"rules": rules, "firings": firings, "names": {rule.id: rule.name for rule in rules}, "templates": templates}


@router.get("/admin/handelsekedjor")
def automation_page(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    data = read(request, staff, automation_data)
    context = {**data, "done": request.query_params.get("done")}
    return render.page(request, staff, "admin/automation.html", context, nav="automation")


@router.post("/admin/handelsekedjor/{rule_id}/pa")
async def switch(rule_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """``enabled=1`` switches the rule on, ``enabled=0`` off."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        wanted = form.get("enabled", "")
        if wanted not in ("0", "1"):
            raise ValidationFailed("enabled: 1 (on) or 0 (off)", param="enabled")
        rule = automation.get_rule(session, tenant, rule_id)
        before = {"enabled": rule.enabled}
        automation.set_enabled(session, tenant, rule.id, wanted == "1")
        if rule.enabled != before["enabled"]:
            audit(
                session,
                staff,
                "automation.set_enabled",
                before,
                {"enabled": rule.enabled},
                target=f"automation_rule:{rule.id}",
            )
        return f"/admin/handelsekedjor?done={'enabled' if rule.enabled else 'disabled'}"

    return await act(request, staff, ADMINS, work, "/admin/handelsekedjor")


@router.post("/admin/handelsekedjor/mallar")
async def install(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """Install a shipped event chain (``template``: its name) as a rule, switched off."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        body = TemplateInstall(template=form.get("template", "").strip())
        rule = automation.install_template(session, tenant, body.template, enabled=body.enabled)
        after = {"template": body.template, **snapshot(rule)}
        audit(session, staff, "automation.install_template", None, after, target=f"automation_rule:{rule.id}")
        return f"/admin/handelsekedjor/{rule.id}?done=installed"

    return await act(request, staff, ADMINS, work, "/admin/handelsekedjor#mallar")


@router.post("/admin/handelsekedjor/{rule_id}/ta-bort")
async def delete(rule_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The rule and its firings go (a waiting firing's job then finds nothing to do)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        rule = automation.get_rule(session, tenant, rule_id)
        before = snapshot(rule)
        automation.delete_rule(session, tenant, rule.id)
        audit(session, staff, "automation.delete", before, None, target=f"automation_rule:{rule_id}")
        return "/admin/handelsekedjor?done=deleted"

    return await act(request, staff, ADMINS, work, f"/admin/handelsekedjor/{rule_id}")


# --- writing a rule -----------------------------------------------------------------------------

MAX_CONDITIONS = 20  # as RuleCreate allows
MAX_ACTIONS = 10
ACTIONS = TypeAdapter(Action)


@router.get("/admin/handelsekedjor/ny")
def new_rule_page(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    return _rule_page(request, staff, None)


@router.get("/admin/handelsekedjor/{rule_id}")
def rule_page(rule_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    return _rule_page(request, staff, rule_id)


def _rule_page(request: Request, staff: StaffMember, rule_id: int | None) -> Response:
    def work(session: Session, tenant: Tenant) -> dict[str, Any]:
        return rule_form(automation.get_rule(session, tenant, rule_id) if rule_id is not None else None)

    context = {**read(request, staff, work), "done": request.query_params.get("done")}
    return render.page(request, staff, "admin/automation_rule.html", context, nav="automation")


def rule_form(rule: AutomationRule | None) -> dict[str, Any]:
    """What the form shows: the rule's fields as the form writes them, or a new rule's defaults."""
    wait = automation.wait_of(rule) if rule is not None else None
    return {
        "rule": rule,
        "triggers": sorted(CATALOGUE.values(), key=lambda event: event.name),
        "values": {
            "name": rule.name if rule else "",
            "description": (rule.description or "") if rule else "",
            "trigger": rule.trigger if rule else "invoice.overdue",
            "conditions": conditions_text(rule.conditions) if rule else "",
            "actions": actions_text(rule.actions) if rule else "",
            "wait_days": (wait or {}).get("days", 0),
            "wait_hours": (wait or {}).get("hours", 0),
            "wait_minutes": (wait or {}).get("minutes", 0),
            "enabled": rule.enabled if rule else False,
        },
        "action_types": ACTION_TYPES,
    }


@router.post("/admin/handelsekedjor")
async def create(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        rule = automation.create_rule(session, tenant, RuleCreate(**fields_from_form(form)))
        audit(session, staff, "automation.create", None, snapshot(rule), target=f"automation_rule:{rule.id}")
        return f"/admin/handelsekedjor/{rule.id}?done=saved"

    return await act(request, staff, ADMINS, work, "/admin/handelsekedjor/ny")


@router.post("/admin/handelsekedjor/{rule_id}")
async def update(rule_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        rule = automation.get_rule(session, tenant, rule_id)
        before = snapshot(rule)
        automation.update_rule(session, tenant, rule.id, RuleUpdate(**fields_from_form(form)))
        audit_changes(session, staff, "automation.update", before, snapshot(rule), target=f"automation_rule:{rule.id}")
        return f"/admin/handelsekedjor/{rule.id}?done=saved"

    return await act(request, staff, ADMINS, work, f"/admin/handelsekedjor/{rule_id}")


def fields_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The form as the API's rule fields (RuleCreate and RuleUpdate take the same ones)."""
    wait = Wait(
        days=whole(form.get("wait_days", ""), "wait_days"),
        hours=whole(form.get("wait_hours", ""), "wait_hours"),
        minutes=whole(form.get("wait_minutes", ""), "wait_minutes"),
    )
    return {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip() or None,
        "trigger": form.get("trigger", "").strip(),
        "conditions": conditions_from_text(form.get("conditions", ""), ConditionIn, "conditions", MAX_CONDITIONS),
        "actions": actions_from_text(form.get("actions", "")),
        "wait": wait if wait.total_minutes() else None,
        "enabled": form.get("enabled") == "1",
    }


def actions_from_text(text: str) -> list[Any]:
    found = []
    for number, line in numbered_lines(text, "actions", MAX_ACTIONS):
        kind, _, rest = line.partition(" ")
        if kind not in ACTION_TYPES:
            raise ValidationFailed(
                f"actions, line {number}: unknown action {kind!r}; one of {', '.join(ACTION_TYPES)}", param="actions"
            )
        found.append(checked_action(action_of(kind, rest.strip()), number))
    if not found:
        raise ValidationFailed("actions: a rule needs at least one action, e.g. send sms", param="actions")
    return found


def checked_action(item: dict[str, Any], number: int) -> Any:
    try:
        return ACTIONS.validate_python(item)
    except ValidationError as exc:
        raise ValidationFailed(f"actions, line {number}: {problems(exc)}", param="actions") from None


def action_of(kind: str, rest: str) -> dict[str, Any]:
    """One action line as the API's action object (checked by the API's model after)."""
    if kind == "send":
        return {"type": kind, "channel": rest or None}
    if kind == "message":
        return {"type": kind, "text": rest}
    if kind in ("add_tag", "remove_tag"):
        return {"type": kind, "tag": rest}
    if kind == "pause_dunning":
        parts = rest.split()
        item: dict[str, Any] = {"type": kind, "scope": parts[0] if parts else "invoice"}
        if len(parts) > 1:
            item["days"] = parts[1]
        return item
    if kind == "notify_staff":
        subject, _, body = rest.partition("|")
        return {"type": kind, "subject": subject.strip(), "text": body.strip()}
    return {"type": kind, "endpoint": rest}  # webhook


def actions_text(actions: list[dict[str, Any]]) -> str:
    """The stored actions as the form's lines (action_of read backwards)."""
    return "\n".join(_action_line(action) for action in actions)


def _action_line(action: dict[str, Any]) -> str:
    kind = action["type"]
    if kind == "send":
        return f"send {action.get('channel') or ''}".strip()
    if kind == "message":
        return f"message {action['text']}"
    if kind in ("add_tag", "remove_tag"):
        return f"{kind} {action['tag']}"
    if kind == "pause_dunning":
        return f"pause_dunning {action.get('scope', 'invoice')} {action.get('days') or ''}".strip()
    if kind == "notify_staff":
        return f"notify_staff {action['subject']} | {action['text']}"
    return f"webhook {action['endpoint']}"


def snapshot(rule: AutomationRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "description": rule.description,
        "trigger": rule.trigger,
        "conditions": list(rule.conditions),
        "actions": list(rule.actions),
        "wait_minutes": rule.wait_minutes,
        "enabled": rule.enabled,
    }
