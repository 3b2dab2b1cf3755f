"""*API-nycklar* (create: the key is shown once; revoke) and *Webhooks* (endpoints, each one's
delivery log with its attempts, replay). Admins only; through ``tenants.service`` and
``webhooks.service`` as the API's endpoints do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kvitt.admin import render
from kvitt.admin.audit import audit
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, act, database, failed, read, tenant_of
from kvitt.admin.forms import staff_form
from kvitt.admin.nav import roles_of
from kvitt.core.errors import KvittError
from kvitt.tenants import service as tenants
from kvitt.tenants.models import Tenant
from kvitt.webhooks import service as webhooks

router = APIRouter(include_in_schema=False)
KEYS = require_staff(*roles_of("api_keys"))
HOOKS = require_staff(*roles_of("webhooks"))
ADMINS = ("admin",)


@router.get("/admin/api-nycklar")
def key_list(request: Request, staff: StaffMember = Depends(KEYS)) -> Response:
    found = read(request, staff, lambda session, tenant: tenants.list_api_keys(session, tenant))
    context = {"keys": found, "secret": None, "done": request.query_params.get("done")}
    return render.page(request, staff, "admin/api_keys.html", context, nav="api_keys")


@router.post("/admin/api-nycklar")
async def create_key(request: Request, staff: StaffMember = Depends(KEYS)) -> Response:
    """A new key, shown on this answer only (stored hashed)."""
    form = await staff_form(request, staff)

    def run() -> Response:
        name = (form.get("name", "").strip() or "admin")[:100]
        try:
            with database(request).transaction() as session:
                tenant = tenant_of(session, staff)
                key, secret = tenants.create_api_key(session, tenant, name)
                audit(
                    session,
                    staff,
                    "api_key.create",
                    None,
                    {"name": name, "prefix": key.key_prefix},
                    target=f"api_key:{key.id}",
                )
                found = tenants.list_api_keys(session, tenant)
        except KvittError as exc:
            return failed(request, staff, exc, "/admin/api-nycklar")
        context = {"keys": found, "secret": {"name": name, "value": secret}, "done": "created"}
        return render.page(request, staff, "admin/api_keys.html", context, nav="api_keys")

    return await run_in_threadpool(run)


@router.post("/admin/api-nycklar/{key_id}/aterkalla")
async def revoke_key(key_id: int, request: Request, staff: StaffMember = Depends(KEYS)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        key = tenants.revoke_api_key(session, tenant, key_id)
        audit(session, staff, "api_key.revoke", None, {"prefix": key.key_prefix}, target=f"api_key:{key.id}")
        return "/admin/api-nycklar?done=revoked"

    return await act(request, staff, ADMINS, work, "/admin/api-nycklar")


@router.get("/admin/webhooks")
def endpoint_list(request: Request, staff: StaffMember = Depends(HOOKS)) -> Response:
    def load(session: Session, tenant: Tenant) -> list[Any]:
        return webhooks.list_endpoints(session, tenant, limit=100, starting_after=None).items

    context = {"endpoints": read(request, staff, load)}
    return render.page(request, staff, "admin/webhooks.html", context, nav="webhooks")


@router.get("/admin/webhooks/{endpoint_id}")
def delivery_log(endpoint_id: int, request: Request, staff: StaffMember = Depends(HOOKS)) -> Response:
    before = request.query_params.get("fore", "")

    def load(session: Session, tenant: Tenant) -> dict[str, Any]:
        endpoint = webhooks.get_endpoint(session, tenant, endpoint_id)
        page = webhooks.list_deliveries(
            session, tenant, endpoint.id, limit=PAGE_SIZE, starting_after=int(before) if before.isdigit() else None
        )
        ids = [d.id for d in page.items]
        return {
            "endpoint": endpoint,
            "deliveries": page.items,
            "more": page.has_more,
            "attempts": webhooks.attempts_of(session, tenant, ids),
            "events": webhooks.events_of(session, tenant, [d.event_id for d in page.items]),
        }

    context = {**read(request, staff, load), "done": request.query_params.get("done")}
    return render.page(request, staff, "admin/webhook.html", context, nav="webhooks")


@router.post("/admin/webhooks/{endpoint_id}/leveranser/{delivery_id}/skicka-igen")
async def replay(endpoint_id: int, delivery_id: int, request: Request, staff: StaffMember = Depends(HOOKS)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        delivery = webhooks.replay(session, tenant, endpoint_id, delivery_id)
        audit(
            session,
            staff,
            "webhook.replay",
            None,
            {"delivery": delivery.id, "replays": delivery.replays},
            target=f"webhook_endpoint:{endpoint_id}",
        )
        return f"/admin/webhooks/{endpoint_id}?done=replayed"

    return await act(request, staff, ADMINS, work, f"/admin/webhooks/{endpoint_id}")
