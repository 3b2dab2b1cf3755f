"""The tenant's logo and brand stylesheet, for the recipient's pages, the e-mail and the back
office: ``GET /brand/{tenant id}/logo-{digest}`` and ``GET /brand/{tenant id}/brand-{rrggbb}.css``.

Public (a recipient has no session; a mail client fetches the logo), so what makes them safe is
what they serve: only the named tenant's *current* logo or colour (an address with another
tenant's digest, or an older one, is a 404 that confirms nothing), as the type read from the
bytes when they were uploaded, with ``nosniff`` and a CSP that lets nothing run. The address
changes when the content does, so browsers keep it a year (``immutable``).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kvitt.core.db import Database
from kvitt.tenants import branding
from kvitt.tenants.models import Tenant

router = APIRouter(include_in_schema=False)
DIGEST = re.compile(rf"[0-9a-f]{{{branding.URL_DIGEST}}}")
COLOUR = re.compile(r"[0-9a-f]{6}")
HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
MAX_TENANT_ID = 2**63 - 1


def page_brand(tenant: Tenant) -> dict[str, str | None]:
    """What every recipient page (the web invoice, pay, autogiro, Mina sidor) puts in its
    template context for the tenant's brand: ``brand_css_url`` (linked by base.html, a file:
    the pages' CSP allows stylesheets from ``'self'`` only) and ``logo_url`` (shown by the
    ``issuer_name`` macro of _brand.html). None where the tenant has none."""
    return {"brand_css_url": branding.stylesheet_url(tenant), "logo_url": branding.logo_url(tenant)}


@router.get("/brand/{tenant_id}/logo-{digest}")
def logo(tenant_id: int, digest: str, request: Request) -> Response:
    if not DIGEST.fullmatch(digest) or not 0 < tenant_id <= MAX_TENANT_ID:
        return missing()
    database: Database = request.app.state.db
    with database.read() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None or not (tenant.logo_sha256 or "").startswith(digest):
            return missing()
        found = branding.logo_of(session, tenant.id)
        if found is None:
            return missing()
        body, media_type = found.data, found.media_type
    etag = f'"{digest}"'
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={**HEADERS, "ETag": etag})
    return Response(body, media_type=media_type, headers={**HEADERS, "ETag": etag})


@router.get("/brand/{tenant_id}/brand-{colour}.css")
def stylesheet(tenant_id: int, colour: str, request: Request) -> Response:
    if not COLOUR.fullmatch(colour) or not 0 < tenant_id <= MAX_TENANT_ID:
        return missing()
    database: Database = request.app.state.db
    with database.read() as session:
        tenant = session.get(Tenant, tenant_id)
        current = tenant.brand_color if tenant is not None else None
    if current != f"#{colour}":
        return missing()
    return Response(branding.stylesheet(current), media_type="text/css; charset=utf-8", headers=HEADERS)


def missing() -> Response:
    """Not this tenant's current logo or colour, or no such tenant: the same answer, not cached
    for long (the tenant may set one in a moment)."""
    return Response(
        "Not found",
        status_code=404,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
