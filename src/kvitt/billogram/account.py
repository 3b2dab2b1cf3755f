"""``settings`` (singleton) over the tenant (``kvitt.tenants.service.update_settings``, the twin
of ``PATCH /api/v1/tenant``); ``logotype`` (set in the back office instead) and ``report``, which this layer does not
have, answer so (docs/billogram-compat.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import ValidationError
from sqlalchemy.orm import Session

from kvitt.billogram import fields
from kvitt.billogram.errors import BillogramError
from kvitt.billogram.route import BillogramJSON, BillogramRoute, Body, SessionDep, TenantDep, check_user, ok
from kvitt.tenants import service
from kvitt.tenants.models import Tenant
from kvitt.tenants.schemas import TenantSettings
from kvitt.webhooks import service as webhooks
from kvitt.webhooks.models import WebhookEndpoint
from kvitt.webhooks.schemas import EndpointCreate, EndpointUpdate

router = APIRouter(route_class=BillogramRoute, dependencies=[Depends(check_user)])
NOT_SUPPORTED = "NOT_SUPPORTED"
SECTIONS: dict[str, dict[str, str]] = {
    # section -> Billogram field -> TenantSettings field
    "contact": {"email": "email", "phone": "phone"},
    "address": {"street_address": "address_line1", "careof": "address_line2", "zipcode": "postal_code", "city": "city"},
    "payment": {"bankgiro": "bankgiro", "plusgiro": "plusgiro", "swish": "swish_number"},
    "tax": {"vat_no": "vat_number", "f_tax": "f_skatt"},
    "invoices": {
        "default_due_days": "payment_terms_days",
        "default_invoice_fee": "invoice_fee",
        "default_reminder_fee": "reminder_fee",
    },
}
MONEY = {"invoice_fee", "reminder_fee"}
NAMES: dict[str, tuple[str, list[Any] | None]] = {
    column: (name, [section]) for section, mapping in SECTIONS.items() for name, column in mapping.items()
}


CALLBACK_EVENTS = ["invoice.*"]
CALLBACK_NAMES: dict[str, tuple[str, list[Any] | None]] = {
    "url": ("url", ["callbacks"]),
    "description": ("custom", ["callbacks"]),
}


def settings_out(tenant: Tenant, callback: WebhookEndpoint | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tenant.name, "org_no": tenant.org_number}
    for section, mapping in SECTIONS.items():
        part: dict[str, Any] = {}
        for name, column in mapping.items():
            value = getattr(tenant, column)
            part[name] = fields.kronor(value) if column in MONEY else ("" if value is None else value)
        out[section] = part
    out["address"]["country"] = tenant.country
    out["callbacks"] = {
        "url": callback.url if callback else "",
        "sign_key": callback.secret if callback else "",
        "custom": (callback.description or "") if callback else "",
    }
    return out


def _set_callbacks(session: Session, tenant: Tenant, body: dict[str, Any]) -> None:
    """``callbacks.url`` (empty: none) and ``custom``: the tenant's one webhook endpoint of
    format ``billogram`` (webhooks.service), which sends every invoice event as a callback."""
    if "callbacks" not in body:
        return
    part = fields.as_object(body.get("callbacks"), ["callbacks"])
    fields.check_keys(part, ("url", "custom"), read_only=("sign_key",), path=["callbacks"])
    current = webhooks.endpoint_of_format(session, tenant, webhooks.BILLOGRAM_FORMAT)
    url = fields.text(part, "url", ["callbacks"]) if "url" in part else (current.url if current else "")
    custom = fields.text(part, "custom", ["callbacks"]) if "custom" in part else None
    try:
        if not url:
            if current is not None:
                webhooks.delete_endpoint(session, tenant, current.id)
        elif current is None:
            data = EndpointCreate(url=url, events=CALLBACK_EVENTS, description=custom or "Billogram API callbacks")
            webhooks.create_endpoint(session, tenant, data, body_format=webhooks.BILLOGRAM_FORMAT)
        else:
            changes: dict[str, Any] = {"url": url}
            if custom is not None:
                changes["description"] = custom
            webhooks.update_endpoint(session, tenant, current.id, EndpointUpdate(**changes))
    except ValidationError as exc:
        raise fields.from_pydantic(
            exc, {"url": ("url", ["callbacks"]), "description": ("custom", ["callbacks"])}
        ) from None


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    fields.check_keys(body, (*SECTIONS, "callbacks"), read_only=("name", "org_no"))
    changes: dict[str, Any] = {}
    for section, mapping in SECTIONS.items():
        part = fields.as_object(body.get(section), [section])
        fields.check_keys(part, mapping, path=[section])
        for name, column in mapping.items():
            if name not in part:
                continue
            if column in MONEY:
                changes[column] = fields.money(part, name, [section])
            elif column == "f_skatt":
                changes[column] = fields.boolean(part, name, [section])
            elif column == "payment_terms_days":
                changes[column] = part[name]
            else:
                changes[column] = fields.text(part, name, [section]) or None
    return changes


@router.get("/settings")
def get_settings(session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    return ok(settings_out(tenant, webhooks.endpoint_of_format(session, tenant, webhooks.BILLOGRAM_FORMAT)))


@router.put("/settings")
def update_settings(body: Body, session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    data = fields.as_object(body)
    changes = fields.kvitt_input(TenantSettings, _changes(data), NAMES)
    tenant = service.update_settings(session, tenant, changes)
    _set_callbacks(session, tenant, data)
    return ok(settings_out(tenant, webhooks.endpoint_of_format(session, tenant, webhooks.BILLOGRAM_FORMAT)))


def _not_supported(what: str) -> BillogramError:
    return BillogramError(NOT_SUPPORTED, f"{what} is not supported by Kvitt", field=None)


@router.get("/logotype")
def get_logotype() -> BillogramJSON:
    raise BillogramError(
        "NOT_FOUND", "this layer keeps no logotype: it is set in Kvitt's back office (Inställningar)", http_status=404
    )


@router.put("/logotype")
def put_logotype() -> BillogramJSON:
    raise _not_supported("a logotype here: upload it in Kvitt's back office (Inställningar, Logotyp och färg)")


@router.get("/report")
def list_reports() -> BillogramJSON:
    raise _not_supported("report: use /api/v1/reports/aging, /api/v1/reports/deviations or kvitt export sie")


@router.get("/report/{filename}")
def get_report(filename: str) -> BillogramJSON:
    raise _not_supported("report: use /api/v1/reports/aging, /api/v1/reports/deviations or kvitt export sie")
