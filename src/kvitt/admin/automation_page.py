"""*Händelsekedjor*: the tenant's event-chain rules and their latest firings; an admin switches a
rule on or off through ``automation.service.set_enabled`` (as ``PATCH /api/v1/automation-rules``),
audited. Rules are written with the API (``/api/v1/automation-rules``, docs/automation.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.audit import audit
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, act, read
from kvitt.admin.nav import roles_of
from kvitt.automation import service as automation
from kvitt.automation.models import AutomationFiring, AutomationRule
from kvitt.core.errors import ValidationFailed
from kvitt.tenants.models import Tenant

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
    return {"rules": rules, "firings": firings, "names": {rule.id: rule.name for rule in rules}}


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
