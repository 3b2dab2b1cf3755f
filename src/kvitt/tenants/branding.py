"""A tenant's logo and brand colour: checked when they are set, and the addresses and stylesheet
the recipient's pages, the e-mail and the PDF use.

- Logo: PNG or JPEG only, recognised by its own bytes (``formats.images``), at most
  ``MAX_LOGO_BYTES`` and ``MAX_LOGO_SIDE`` pixels a side, and decoded in full once (Pillow) so a
  file with a good header and a broken body never reaches a PDF. SVG is refused: it is a document
  that can carry scripts and links, and serving it from our own origin would need an XML
  sanitiser we do not have; a PNG does the job of a logo.
- Colour: ``#rrggbb``; white text on it must reach WCAG 2.1 AA's 4.5:1 (1.4.3), because the pages
  put white button and header text on it. A lighter colour is refused with its ratio.
- Addresses: ``/brand/{tenant id}/logo-{first 16 of the logo's SHA-256}`` and
  ``/brand/{tenant id}/brand-{rrggbb}.css``. They change when the content changes, so they are
  cached for a year; an address that is not the tenant's current one is a 404 (served by
  ``web.branding``). The digest in the address also keeps a tenant's logo from being found by
  counting tenant ids.

The service never commits: the caller's unit of work does (one transaction per command).
"""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image
from sqlalchemy.orm import Session

from kvitt.core.db import utcnow
from kvitt.core.errors import ValidationFailed
from kvitt.formats.images import AA_NORMAL_TEXT, WHITE, ImageInfo, ImageRejected, contrast_ratio, hex_colour, image_info
from kvitt.tenants import keys
from kvitt.tenants.models import Tenant, TenantLogo

MAX_LOGO_BYTES = 256 * 1024
MAX_LOGO_SIDE = 2000
URL_DIGEST = 16  # hex characters of the logo's SHA-256 in its address
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg"}


def set_logo(session: Session, tenant: Tenant, data: bytes) -> TenantLogo:
    """Keep ``data`` as the tenant's logo (replacing any); ValidationFailed naming ``logo``."""
    info = checked_logo(data)
    logo = session.get(TenantLogo, tenant.id)
    if logo is None:
        logo = TenantLogo(tenant_id=tenant.id)
        session.add(logo)
    logo.media_type, logo.width, logo.height, logo.data = info.media_type, info.width, info.height, data
    logo.updated_at = utcnow()
    tenant.logo_sha256 = hashlib.sha256(data).hexdigest()
    _changed(session, tenant)
    return logo


def remove_logo(session: Session, tenant: Tenant) -> None:
    logo = session.get(TenantLogo, tenant.id)
    if logo is not None:
        session.delete(logo)
    tenant.logo_sha256 = None
    _changed(session, tenant)


def checked_logo(data: bytes) -> ImageInfo:
    if not data:
        raise ValidationFailed("logo: choose a PNG or JPEG file", param="logo")
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationFailed(
            f"logo: the file is {len(data) // 1024} KB; at most {MAX_LOGO_BYTES // 1024} KB", param="logo"
        )
    try:
        info = image_info(data)
    except ImageRejected as exc:
        raise ValidationFailed(f"logo: {exc}", param="logo") from None
    if max(info.width, info.height) > MAX_LOGO_SIDE:
        raise ValidationFailed(
            f"logo: {info.width} × {info.height} pixels; at most {MAX_LOGO_SIDE} a side", param="logo"
        )
    _decode(data, info)
    return info


def _decode(data: bytes, info: ImageInfo) -> None:
    """Every pixel once, as the PDF will; the header's size was checked first, so this is bounded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG" if info.kind == "png" else "JPEG"]) as image:
                image.load()
                size = image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        damaged = f"logo: the {info.kind.upper()} file is damaged and cannot be shown"
        raise ValidationFailed(damaged, param="logo") from None
    if size != (info.width, info.height):
        raise ValidationFailed("logo: the file's header and its picture disagree", param="logo")


def checked_colour(value: str) -> str:
    """``value`` as ``#rrggbb`` if white text on it passes WCAG AA; ValidationFailed otherwise."""
    try:
        colour = hex_colour(value)
    except ValueError as exc:
        raise ValidationFailed(f"brand_color: {exc}", param="brand_color") from None
    ratio = contrast_ratio(colour, WHITE)
    if ratio < AA_NORMAL_TEXT:
        raise ValidationFailed(
            f"brand_color: white text on {colour} has a contrast of {ratio}:1; WCAG 2.1 AA needs at least "
            f"{AA_NORMAL_TEXT}:1 — choose a darker colour",
            param="brand_color",
            code="contrast_too_low",
        )
    return colour


def logo_of(session: Session, tenant_id: int) -> TenantLogo | None:
    return session.get(TenantLogo, tenant_id)


def logo_url(tenant: Tenant) -> str | None:
    if not tenant.logo_sha256:
        return None
    return f"/brand/{tenant.id}/logo-{tenant.logo_sha256[:URL_DIGEST]}"


def absolute_logo_url(tenant: Tenant, base_url: str) -> str | None:
    """The logo's address for a message read elsewhere (an e-mail): ``base_url`` in front."""
    path = logo_url(tenant)
    return f"{base_url.rstrip('/')}{path}" if path else None


def stylesheet_url(tenant: Tenant) -> str | None:
    if not tenant.brand_color:
        return None
    return f"/brand/{tenant.id}/brand-{tenant.brand_color[1:]}.css"


def stylesheet(colour: str) -> str:
    """The rules that put the colour where the pages use their accent (``--accent`` in
    web/static/kvitt.css: links, buttons, the current tab, focus rings)."""
    return f":root {{ --accent: {colour}; }}\n"


def _changed(session: Session, tenant: Tenant) -> None:
    session.flush()
    keys.forget_on_commit(session, tenant_id=tenant.id)  # cached copies of the row are stale
