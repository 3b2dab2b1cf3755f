"""*Fakturor*: the web invoice's preview on the invoice page. The page frames
``/admin/fakturor/{id}/forhandsvisning``, a staff-only address of the back office (its session
cookie, its roles, the tenant's own invoice or 404) that answers the recipient's page as
``kvitt.web.preview`` makes it: the same view and template as ``/i/{token}``, read in a read-only
unit of work, counting no visit, no ``opened`` event and no impression.

The invoice page allows frames from its own origin only (``frame-src 'self'``); the preview may be
framed by the back office only (``frame-ancestors 'self'``, ``X-Frame-Options: SAMEORIGIN``), where
the recipient's page may be framed by nobody. The frame is sandboxed (no scripts, no forms) and
inert (a click in it cannot open the recipient's page, which would count a visit)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import read
from kvitt.admin.nav import roles_of
from kvitt.admin.routes import not_found
from kvitt.invoices import service as invoices
from kvitt.tenants.models import Tenant
from kvitt.web.preview import preview_response

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("invoices"))
# The invoice page's CSP with frames of its own origin allowed (the preview).
FRAMING_CSP = render.CSP.replace("default-src 'none';", "default-src 'none'; frame-src 'self';")


@router.get("/admin/fakturor/{invoice_id}/forhandsvisning")
def preview(invoice_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def load(session: Session, tenant: Tenant) -> Response | None:
        invoice = invoices.get(session, tenant, invoice_id)
        return preview_response(request, session, tenant.id, invoice.token)

    found = read(request, staff, load)
    if found is None:  # a draft has no web invoice yet
        return not_found(request, staff)
    return render.with_session(request, staff, found)
