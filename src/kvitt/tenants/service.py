"""Tenants and their API keys."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvitt.core import law
from kvitt.core.db import utcnow
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.tokens import hash_api_key, new_api_key
from kvitt.tenants import branding, keys
from kvitt.tenants.models import ApiKey, Tenant
from kvitt.tenants.schemas import TenantCreate, TenantSettings

# Settings a tenant may clear (null); the rest it can only change. E-mail and phone are ways to
# reach the issuer that an invoice may do without; the postal address may not go (below).
REMOVABLE = frozenset(
    {
        "ocr_length",
        "vat_number",
        "plusgiro",
        "swish_number",
        "bankgiro",
        "address_line2",
        "email",
        "phone",
        "brand_color",
    }
)
# Mervärdesskattelagen (2023:200) 17 kap. 24 §: a full invoice names the seller's address, so the
# address lines every invoice prints cannot be removed, only changed (docs/documents.md).
ADDRESS = frozenset({"address_line1", "postal_code", "city"})


def create(session: Session, data: TenantCreate) -> tuple[Tenant, str]:
    """Create a tenant with a first API key; returns the key in clear (number series start on first use)."""
    if session.scalar(select(Tenant.id).where(Tenant.org_number == data.org_number)) is not None:
        raise Conflict(f"a tenant with organisation number {data.org_number} exists", param="org_number")
    _check_reminder_fee(data.reminder_fee)
    if data.brand_color is not None:
        branding.checked_colour(data.brand_color)
    values = {k: v for k, v in data.model_dump().items() if v is not None}
    values.setdefault("vat_number", "SE" + data.org_number.replace("-", "") + "01")
    tenant = Tenant(**values)
    session.add(tenant)
    session.flush()
    _, secret = create_api_key(session, tenant, "default")
    return tenant, secret


def update_settings(session: Session, tenant: Tenant, data: TenantSettings) -> Tenant:
    """The API's ``PATCH /tenant``, the back office's *Inställningar* and Billogram's settings.

    A reminder fee above the legal cap is refused naming the law (``core.law``), whether or not
    the tick would cap it anyway: a tenant must not believe it charges more than it may."""
    changes = data.model_dump(exclude_unset=True)
    _check_reminder_fee(changes.get("reminder_fee"))
    if changes.get("brand_color") is not None:
        branding.checked_colour(changes["brand_color"])
    for field, value in changes.items():
        if value is None and field in ADDRESS:
            raise ValidationFailed(
                f"{field} cannot be removed: every invoice names the seller's address "
                "(Mervärdesskattelagen 17 kap. 24 §); change it instead",
                param=field,
            )
        if value is None and field not in REMOVABLE:
            raise ValidationFailed(f"{field} cannot be removed", param=field)
        setattr(tenant, field, value)
    if not (tenant.bankgiro or tenant.plusgiro):
        raise ValidationFailed("a tenant needs a bankgiro or a plusgiro number", param="bankgiro")
    session.flush()
    keys.forget_on_commit(session, tenant_id=tenant.id)  # cached copies of the row are stale
    return tenant


def _check_reminder_fee(fee: int | None) -> None:
    if fee is None:
        return
    try:
        law.check_reminder_fee(fee)
    except law.FeeAboveCap as exc:
        raise ValidationFailed(str(exc), param="reminder_fee", code="fee_above_legal_cap") from exc


def create_api_key(session: Session, tenant: Tenant, name: str) -> tuple[ApiKey, str]:
    secret = new_api_key()
    key = ApiKey(tenant_id=tenant.id, name=name, key_hash=hash_api_key(secret), key_prefix=secret[:12])
    session.add(key)
    session.flush()
    return key, secret


def list_api_keys(session: Session, tenant: Tenant) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant.id).order_by(ApiKey.id)))


def revoke_api_key(session: Session, tenant: Tenant, key_id: int) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.tenant_id == tenant.id, ApiKey.id == key_id))
    if key is None:
        raise NotFound(f"no API key {key_id}", param="api_key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    # Refused at once in this process; other processes drop it within keys.MAX_AGE_SECONDS.
    keys.forget_on_commit(session, key_hash=key.key_hash)
    return key


def resolve(session: Session, ref: str | None) -> Tenant:
    """The tenant named by id or organisation number; may be left out when there is only one."""
    if ref is None:
        tenants = list(session.scalars(select(Tenant).limit(2)))
        if len(tenants) == 1:
            return tenants[0]
        count = session.scalar(select(func.count(Tenant.id)))
        raise NotFound("no tenant yet: run 'kvitt init'" if not count else "several tenants: say which with --tenant")
    tenant = None
    if ref.isdigit() and len(ref) < 10:
        tenant = session.get(Tenant, int(ref))
    if tenant is None:
        digits = ref.replace("-", "")
        formatted = f"{digits[:6]}-{digits[6:]}" if len(digits) == 10 else ref
        tenant = session.scalar(select(Tenant).where(Tenant.org_number == formatted))
    if tenant is None:
        raise NotFound(f"no tenant {ref}")
    return tenant


def all_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.id)))
