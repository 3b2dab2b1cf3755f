"""``/api/v1/automation-rules``: event chains, their templates and their firings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from kvitt.automation import service
from kvitt.automation.models import AutomationFiring, AutomationRule
from kvitt.automation.schemas import FiringOut, RuleCreate, RuleOut, RuleUpdate, TemplateInstall, TemplateOut
from kvitt.automation.templates import TEMPLATES
from kvitt.core.api import PathId, QueryId, TenantRoute, point_read, request_session, request_tenant
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/automation-rules", tags=["automation"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def rule_out(rule: AutomationRule) -> RuleOut:
    return RuleOut(
        id=rule.id,
        name=rule.name,
        description=rule.description,
        trigger=rule.trigger,
        conditions=rule.conditions,
        actions=rule.actions,
        wait=service.wait_of(rule),
        enabled=rule.enabled,
        template=rule.template,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def firing_out(firing: AutomationFiring) -> FiringOut:
    return FiringOut(
        id=firing.id,
        rule=firing.rule_id,
        event_type=firing.event_type,
        invoice=firing.invoice_id,
        customer=firing.customer_id,
        state=firing.state,
        run_at=firing.run_at,
        results=firing.results,
        error=firing.error,
        created_at=firing.created_at,
        finished_at=firing.finished_at,
    )


# The template routes come before /{rule_id}, which would otherwise take "templates" as an id.
@router.get("/templates", response_model=ListResponse[TemplateOut])
def list_templates(session: SessionDep, tenant: TenantDep) -> ListResponse[TemplateOut]:
    """The event chains Kvitt ships, and the rule each is installed as (if it is)."""
    installed = service.installed_templates(session, tenant)
    data = [
        TemplateOut(name=t.name, description=t.description, rule=t.rule, installed=installed.get(t.name))
        for t in TEMPLATES.values()
    ]
    return ListResponse(data=data, has_more=False)


@router.post("/templates", status_code=201, response_model=RuleOut)
def install_template(body: TemplateInstall, session: SessionDep, tenant: TenantDep) -> RuleOut:
    """Install a shipped event chain as a rule, switched off unless ``enabled: true``."""
    return rule_out(service.install_template(session, tenant, body.template, enabled=body.enabled))


@router.post("", status_code=201, response_model=RuleOut)
def create_rule(body: RuleCreate, session: SessionDep, tenant: TenantDep) -> RuleOut:
    return rule_out(service.create_rule(session, tenant, body))


@router.get("", response_model=ListResponse[RuleOut])
def list_rules(
    session: SessionDep, tenant: TenantDep, limit: Limit = DEFAULT_LIMIT, starting_after: QueryId = None
) -> ListResponse[RuleOut]:
    page = service.list_rules(session, tenant, limit=limit, starting_after=starting_after)
    return ListResponse(data=[rule_out(r) for r in page.items], has_more=page.has_more)


@router.get("/{rule_id}", response_model=RuleOut)
@point_read
def get_rule(rule_id: PathId, session: SessionDep, tenant: TenantDep) -> RuleOut:
    return rule_out(service.get_rule(session, tenant, rule_id))


@router.patch("/{rule_id}", response_model=RuleOut)
def update_rule(rule_id: PathId, body: RuleUpdate, session: SessionDep, tenant: TenantDep) -> RuleOut:
    return rule_out(service.update_rule(session, tenant, rule_id, body))


@router.delete("/{rule_id}")
def delete_rule(rule_id: PathId, session: SessionDep, tenant: TenantDep) -> dict[str, object]:
    service.delete_rule(session, tenant, rule_id)
    return {"id": rule_id, "object": "automation_rule", "deleted": True}


@router.post("/{rule_id}/enable", response_model=RuleOut)
def enable_rule(rule_id: PathId, session: SessionDep, tenant: TenantDep) -> RuleOut:
    return rule_out(service.set_enabled(session, tenant, rule_id, True))


@router.post("/{rule_id}/disable", response_model=RuleOut)
def disable_rule(rule_id: PathId, session: SessionDep, tenant: TenantDep) -> RuleOut:
    """Switch the rule off; firings still waiting are then skipped."""
    return rule_out(service.set_enabled(session, tenant, rule_id, False))


@router.get("/{rule_id}/firings", response_model=ListResponse[FiringOut])
def list_firings(
    rule_id: PathId,
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
) -> ListResponse[FiringOut]:
    page = service.list_firings(session, tenant, rule_id, limit=limit, starting_after=starting_after)
    return ListResponse(data=[firing_out(f) for f in page.items], has_more=page.has_more)
