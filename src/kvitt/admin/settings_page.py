"""*Inställningar*: the tenant's details on its invoices, its channels and fallbacks, its fees and
terms — read by every admin, changed by admins only, each through the service the API uses:

- Uppgifter på fakturan (name, address, contact, VAT, bankgiro, plusgiro, Swish):
  ``tenants.service.update_settings``, as ``PATCH /api/v1/tenant``.
- Kanaler (the default channel; per channel the fallback chain; the PDF attached to e-mails):
  ``tenants.service.update_settings`` (``default_delivery``) and
  ``delivery.service.update_preferences``, as ``PATCH /api/v1/delivery/settings``.
- Avgifter och villkor (payment terms, invoice fee, reminder fee and whether it is agreed, late
  interest and its margin, rounding): ``tenants.service.update_settings``; a reminder fee above
  60 kr is refused by that service naming the law (``core.law``).
- Logotyp och färg: the logo (a PNG or JPEG file, ``multipart/form-data``) through
  ``tenants.branding.set_logo/remove_logo``; the brand colour through
  ``tenants.service.update_settings`` (``brand_color``, as ``PATCH /api/v1/tenant``), which
  refuses a colour white text cannot be read on (WCAG AA).

Dunning policies (steps, days, fees) are edited on *Påminnelser och inkasso* (``dunning_page``).
Every change is one transaction (``common.act``) and one audit row with the fields before and after.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.audit import audit_changes
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import act, read
from kvitt.admin.forms import staff_upload
from kvitt.admin.nav import roles_of
from kvitt.core.errors import ValidationFailed
from kvitt.core.law import REMINDER_FEE_CAP
from kvitt.delivery import service as delivery
from kvitt.tenants import branding
from kvitt.tenants import service as tenants
from kvitt.tenants.models import Tenant
from kvitt.tenants.schemas import TenantSettings

router = APIRouter(include_in_schema=False)
ROLES = roles_of("settings")
READ = require_staff(*ROLES)
ADMINS = ("admin",)  # who may change them (the page is admin-only today; checked again per action)
CHANNELS = ("email", "sms", "letter", "einvoice")
FALLBACK_DEPTH = 3  # channels a chain may name
BRAND = "/admin/installningar#varumarke"
# A file somewhat above the logo's cap still reaches the service, which names the cap (a 422
# with the field); only a body far beyond it is cut off while it is read (413).
UPLOAD_LIMIT = 2 * branding.MAX_LOGO_BYTES + 16 * 1024

DETAILS = (
    "name",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "email",
    "phone",
    "vat_number",
    "bankgiro",
    "plusgiro",
    "swish_number",
)
FEES = (
    "payment_terms_days",
    "invoice_fee",
    "reminder_fee",
    "reminder_fee_agreed",
    "late_interest",
    "late_interest_margin_bp",
    "round_to_krona",
)


def snapshot(tenant: Tenant, fields: tuple[str, ...]) -> dict[str, Any]:
    return {field: getattr(tenant, field) for field in fields}


def settings_data(session: Session, tenant: Tenant) -> dict[str, Any]:
    prefs = delivery.preferences(session, tenant.id)
    chains = {channel: prefs.fallback.get(channel, []) + [""] * FALLBACK_DEPTH for channel in CHANNELS}
    return {
        "tenant": tenant,
        "fallback": {channel: chain[:FALLBACK_DEPTH] for channel, chain in chains.items()},
        "attach_pdf": prefs.attach_pdf,
        "channels": CHANNELS,
        "depth": FALLBACK_DEPTH,
        "cap": REMINDER_FEE_CAP,
        "margin": _percent(tenant.late_interest_margin_bp),
        "logo": branding.logo_of(session, tenant.id),
        "logo_url": branding.logo_url(tenant),
        "max_logo_kb": branding.MAX_LOGO_BYTES // 1024,
        "max_logo_side": branding.MAX_LOGO_SIDE,
    }


@router.get("/admin/installningar")
def settings_page(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    data = read(request, staff, settings_data)
    context = {**data, "done": request.query_params.get("done")}
    return render.page(request, staff, "admin/settings.html", context, nav="settings")


@router.post("/admin/installningar/foretag")
async def change_details(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The tenant's name, address and contact as its invoices show them."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        before = snapshot(tenant, DETAILS)
        # Only what was changed: the service refuses to remove what it needs (an empty name).
        typed = {field: form[field].strip() or None for field in DETAILS if field in form}
        changes = {field: value for field, value in typed.items() if value != getattr(tenant, field)}
        tenants.update_settings(session, tenant, TenantSettings(**changes))
        _audit_change(session, staff, "settings.details", before, snapshot(tenant, DETAILS), tenant)
        return "/admin/installningar?done=saved"

    return await act(request, staff, ADMINS, work, "/admin/installningar")


@router.post("/admin/installningar/kanaler")
async def change_channels(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The default channel, each channel's fallback chain and the PDF on e-mails."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        prefs = delivery.preferences(session, tenant.id)
        before = {
            "default_delivery": tenant.default_delivery,
            "fallback": prefs.fallback,
            "attach_pdf": prefs.attach_pdf,
        }
        default = form.get("default_delivery", tenant.default_delivery)
        if default not in CHANNELS:
            raise ValidationFailed("default_delivery: choose one of the channels", param="default_delivery")
        fallback = {}
        for channel in CHANNELS:
            chain = [form.get(f"fallback_{channel}_{i}", "").strip() for i in range(1, FALLBACK_DEPTH + 1)]
            fallback[channel] = [step for step in chain if step]
        tenants.update_settings(session, tenant, TenantSettings(default_delivery=default))
        after_prefs = delivery.update_preferences(
            session, tenant, fallback=fallback, attach_pdf=form.get("attach_pdf") == "1"
        )
        after = {
            "default_delivery": tenant.default_delivery,
            "fallback": after_prefs.fallback,
            "attach_pdf": after_prefs.attach_pdf,
        }
        _audit_change(session, staff, "settings.channels", before, after, tenant)
        return "/admin/installningar?done=saved"

    return await act(request, staff, ADMINS, work, "/admin/installningar")


@router.post("/admin/installningar/avgifter")
async def change_fees(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """Terms, fees and late interest. Amounts in kronor; the margin in percentage points."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        before = snapshot(tenant, FEES)
        changes = {
            "payment_terms_days": _whole(form.get("payment_terms_days", ""), "payment_terms_days"),
            "invoice_fee": fee_ore(form.get("invoice_fee", ""), "invoice_fee"),
            "reminder_fee": fee_ore(form.get("reminder_fee", ""), "reminder_fee"),
            "reminder_fee_agreed": form.get("reminder_fee_agreed") == "1",
            "late_interest": form.get("late_interest") == "1",
            "late_interest_margin_bp": margin_bp(form.get("late_interest_margin", ""), "late_interest_margin"),
            "round_to_krona": form.get("round_to_krona") == "1",
        }
        tenants.update_settings(session, tenant, TenantSettings(**changes))
        _audit_change(session, staff, "settings.fees", before, snapshot(tenant, FEES), tenant)
        return "/admin/installningar?done=saved"

    return await act(request, staff, ADMINS, work, "/admin/installningar")


@router.post("/admin/installningar/logotyp")
async def change_logo(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """A new logo: a PNG or JPEG file (``logo``), checked by ``tenants.branding``."""
    files: dict[str, bytes] = {}

    async def reader(request: Request, staff: StaffMember) -> dict[str, str]:
        upload = await staff_upload(request, staff, UPLOAD_LIMIT)
        files.update(upload.files)
        return upload.fields

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        before = snapshot(tenant, ("logo_sha256",))
        branding.set_logo(session, tenant, files.get("logo", b""))
        _audit_change(session, staff, "settings.logo", before, snapshot(tenant, ("logo_sha256",)), tenant)
        return "/admin/installningar?done=saved#varumarke"

    return await act(request, staff, ADMINS, work, BRAND, reader=reader)


@router.post("/admin/installningar/logotyp/ta-bort")
async def remove_logo(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        before = snapshot(tenant, ("logo_sha256",))
        branding.remove_logo(session, tenant)
        _audit_change(session, staff, "settings.logo", before, snapshot(tenant, ("logo_sha256",)), tenant)
        return "/admin/installningar?done=saved#varumarke"

    return await act(request, staff, ADMINS, work, BRAND)


@router.post("/admin/installningar/farg")
async def change_colour(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The brand colour (``#rrggbb``); empty removes it (the pages keep Kvitt's own blue)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        before = snapshot(tenant, ("brand_color",))
        colour = form.get("brand_color", "").strip() or None
        tenants.update_settings(session, tenant, TenantSettings(brand_color=colour))
        _audit_change(session, staff, "settings.brand_color", before, snapshot(tenant, ("brand_color",)), tenant)
        return "/admin/installningar?done=saved#varumarke"

    return await act(request, staff, ADMINS, work, BRAND)


def _audit_change(
    session: Session, staff: StaffMember, action: str, before: dict[str, Any], after: dict[str, Any], tenant: Tenant
) -> None:
    audit_changes(session, staff, action, before, after, target=f"tenant:{tenant.id}")


def fee_ore(value: str, param: str) -> int:
    """A fee typed in kronor (``60``, ``29,50``, empty for none) as öre; never negative."""
    text = (
        value.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("kr", "").replace(",", ".").strip()
    )
    if not text:
        return 0
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(f"{param}: write an amount in kronor, e.g. 60 or 29,50", param=param) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")) or amount > 10**9:
        raise ValidationFailed(f"{param}: write an amount in kronor with at most two decimals", param=param)
    return int(amount * 100)


def margin_bp(value: str, param: str) -> int:
    """Percentage points (``8`` or ``8,5``) as hundredths (800, 850)."""
    text = value.replace(" ", "").replace("%", "").replace(",", ".").strip()
    try:
        points = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(f"{param}: percentage points, e.g. 8", param=param) from None
    if not points.is_finite() or points != points.quantize(Decimal("0.01")) or abs(points) > 100:
        raise ValidationFailed(f"{param}: percentage points with at most two decimals, e.g. 8", param=param)
    return int(points * 100)


def _whole(value: str, param: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValidationFailed(f"{param}: a whole number of days", param=param) from None


def _percent(bp: int) -> str:
    return f"{Decimal(bp) / 100:f}".rstrip("0").rstrip(".").replace(".", ",")
