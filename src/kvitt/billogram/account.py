"""``settings`` (singleton) over the tenant (``kvitt.tenants.service.update_settings``, the twin
of ``PATCH /api/v1/tenant``); ``logotype`` and ``report``, which Kvitt does not have, answer
so (docs/billogram-compat.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import ValidationError

from kvitt.billogram import fields
from kvitt.billogram.errors import BillogramError
from kvitt.billogram.route import BillogramJSON, BillogramRoute, Body, SessionDep, TenantDep, check_user, ok
from kvitt.tenants import service
from kvitt.tenants.models import Tenant
from kvitt.tenants.schemas import TenantSettings

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


def settings_out(tenant: Tenant) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tenant.name, "org_no": tenant.org_number}
    for section, mapping in SECTIONS.items():
        part: dict[str, Any] = {}
        for name, column in mapping.items():
            value = getattr(tenant, column)
            part[name] = fields.kronor(value) if column in MONEY else ("" if value is None else value)
        out[section] = part
    out["address"]["country"] = tenant.country
    return out


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    fields.check_keys(body, SECTIONS, read_only=("name", "org_no"))
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
def get_settings(tenant: TenantDep) -> BillogramJSON:
    return ok(settings_out(tenant))


@router.put("/settings")
def update_settings(body: Body, session: SessionDep, tenant: TenantDep) -> BillogramJSON:
    try:
        data = TenantSettings(**_changes(fields.as_object(body)))
    except ValidationError as exc:
        raise fields.from_pydantic(exc, NAMES) from None
    return ok(settings_out(service.update_settings(session, tenant, data)))


def _not_supported(what: str) -> BillogramError:
    return BillogramError(NOT_SUPPORTED, f"{what} is not supported by Kvitt", field=None)


@router.get("/logotype")
def get_logotype() -> BillogramJSON:
    raise BillogramError("NOT_FOUND", "Kvitt keeps no logotype (its invoices carry none)", http_status=404)


@router.put("/logotype")
def put_logotype() -> BillogramJSON:
    raise _not_supported("a logotype: Kvitt's invoices carry none")


@router.get("/report")
def list_reports() -> BillogramJSON:
    raise _not_supported("report: use /api/v1/reports/aging, /api/v1/reports/deviations or kvitt export sie")


@router.get("/report/{filename}")
def get_report(filename: str) -> BillogramJSON:
    raise _not_supported("report: use /api/v1/reports/aging, /api/v1/reports/deviations or kvitt export sie")
