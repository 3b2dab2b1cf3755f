"""*API-nycklar* (create: the key is shown once; revoke) and *Webhooks* (endpoints, each one's
delivery log with its attempts, replay; an endpoint created — its signing secret shown once, as
the API's create answer shows it —, changed, switched off or deleted). Admins only; through
``tenants.service`` and ``webhooks.service`` as the API's endpoints do, the endpoint's fields
checked by the API's own ``EndpointCreate``/``EndpointUpdate`` (the URL, the event types of the
catalogue, ``max_batch_size`` 1-100)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kvitt.admin import render
from kvitt.admin.audit import audit, audit_changes
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, act, database, failed, problems_of, read, tenant_of
from kvitt.admin.forms import staff_form
from kvitt.admin.nav import roles_of
from kvitt.core.errors import KvittError, ValidationFailed
from kvitt.tenants import service as tenants
from kvitt.tenants.models import Tenant
from kvitt.webhooks import service as webhooks
from kvitt.webhooks.catalogue import CATALOGUE
from kvitt.webhooks.models import WebhookEndpoint
from kvitt.webhooks.schemas import MAX_BATCH_SIZE, EndpointCreate, EndpointUpdate

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
    context = {**read(request, staff, _endpoints), "done": request.query_params.get("done")}
    return render.page(request, staff, "admin/webhooks.html", context, nav="webhooks")


def _endpoints(session: Session, tenant: Tenant) -> dict[str, Any]:
    found = webhooks.list_endpoints(session, tenant, limit=100, starting_after=None).items
    return {"endpoints": found, "secret": None, **_form_help(), "values": _NEW_VALUES}


_NEW_VALUES = {"url": "", "events": "*", "description": "", "max_batch_size": "1", "enabled": True}


def _form_help() -> dict[str, Any]:
    return {"event_types": sorted(CATALOGUE), "max_batch_size": MAX_BATCH_SIZE}


@router.post("/admin/webhooks")
async def create_endpoint(request: Request, staff: StaffMember = Depends(HOOKS)) -> Response:
    """A new endpoint (``webhooks.service.create_endpoint`` with the API's ``EndpointCreate``); its
    signing secret is shown on this answer only, as the API's create answer shows it."""
    form = await staff_form(request, staff)

    def run() -> Response:
        try:
            with database(request).transaction() as session:
                tenant = tenant_of(session, staff)
                endpoint = webhooks.create_endpoint(session, tenant, EndpointCreate(**endpoint_fields(form)))
                audit(
                    session,
                    staff,
                    "webhook.create",
                    None,
                    endpoint_snapshot(endpoint),
                    target=f"webhook_endpoint:{endpoint.id}",
                )
                secret = {"url": endpoint.url, "value": endpoint.secret}
                data = _endpoints(session, tenant)
        except KvittError as exc:
            return failed(request, staff, exc, "/admin/webhooks")
        except ValidationError as exc:
            return failed(request, staff, ValidationFailed(problems_of(exc)), "/admin/webhooks")
        context = {**data, "secret": secret, "done": "created"}
        return render.page(request, staff, "admin/webhooks.html", context, nav="webhooks")

    return await run_in_threadpool(run)


@router.post("/admin/webhooks/{endpoint_id}")
async def update_endpoint(endpoint_id: int, request: Request, staff: StaffMember = Depends(HOOKS)) -> Response:
    """The endpoint's address, events, description, batch size and on/off
    (``webhooks.service.update_endpoint`` with the API's ``EndpointUpdate``)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        endpoint = webhooks.get_endpoint(session, tenant, endpoint_id)
        before = endpoint_snapshot(endpoint)
        webhooks.update_endpoint(session, tenant, endpoint.id, EndpointUpdate(**endpoint_fields(form)))
        target = f"webhook_endpoint:{endpoint.id}"
        audit_changes(session, staff, "webhook.update", before, endpoint_snapshot(endpoint), target=target)
        return f"/admin/webhooks/{endpoint.id}?done=saved"

    return await act(request, staff, ADMINS, work, f"/admin/webhooks/{endpoint_id}")


@router.post("/admin/webhooks/{endpoint_id}/ta-bort")
async def delete_endpoint(endpoint_id: int, request: Request, staff: StaffMember = Depends(HOOKS)) -> Response:
    """The endpoint and its delivery log go (``webhooks.service.delete_endpoint``, as the API's DELETE)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        endpoint = webhooks.get_endpoint(session, tenant, endpoint_id)
        before = endpoint_snapshot(endpoint)
        webhooks.delete_endpoint(session, tenant, endpoint.id)
        audit(session, staff, "webhook.delete", before, None, target=f"webhook_endpoint:{endpoint_id}")
        return "/admin/webhooks?done=deleted"

    return await act(request, staff, ADMINS, work, f"/admin/webhooks/{endpoint_id}")


def endpoint_fields(form: dict[str, str]) -> dict[str, Any]:
    """The form as the API's endpoint fields: events separated by commas, spaces or lines."""
    batch = form.get("max_batch_size", "").strip() or "1"
    return {
        "url": form.get("url", "").strip(),
        "events": [e for e in form.get("events", "").replace(",", " ").split() if e],
        "description": form.get("description", "").strip() or None,
        "enabled": form.get("enabled") == "1",
        "max_batch_size": batch,
    }


def endpoint_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "max_batch_size": endpoint.max_batch_size,
    }


def endpoint_values(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the endpoint's form shows."""
    return {
        "url": endpoint.url,
        "events": ", ".join(endpoint.events),
        "description": endpoint.description or "",
        "max_batch_size": str(endpoint.max_batch_size),
        "enabled": endpoint.enabled,
    }


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
            "values": endpoint_values(endpoint),
            **_form_help(),
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
