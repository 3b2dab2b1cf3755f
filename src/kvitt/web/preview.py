"""The web invoice as its recipient sees it now, for the back office's preview
(``/admin/fakturor/{id}/forhandsvisning``, ``kvitt.admin.invoice_preview``): the page of
``/i/{token}`` made by the same view and template (``routes.page_response``), nothing of its
layout copied — but read only. No visit is recorded, no ``opened`` event, no engagement
impression (the offers are shown as they fit now, not counted), and its forms carry no key: a
form sent from the preview would be refused as a forged one.

It may be framed by the back office's own pages only (``frame-ancestors 'self'``, where the
recipient's page says ``'none'``), and it is never kept (``no-store``)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kvitt.core.db import utcnow
from kvitt.web import engagement as web_engagement
from kvitt.web import service
from kvitt.web.routes import PAGE_HEADERS, has_pdf, offers_autogiro, page_response
from kvitt.web.view import invoice_view, language_of

PREVIEW_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'"
    ),
}


def preview_response(request: Request, session: Session, tenant_id: int, token: str) -> Response | None:
    """The Faktura tab of the issued invoice behind ``token`` as the recipient would get it, if it
    is the tenant's (None otherwise: a draft, another tenant's); records nothing."""
    found = service.find_issued(session, token)
    if found is None or found.tenant.id != tenant_id:
        return None
    view = invoice_view(found, tab="faktura", has_pdf=has_pdf(), autogiro=offers_autogiro(request))
    view.engagement = web_engagement.shown(session, found, language_of(found, None), utcnow())
    response = page_response(request, view, None)
    response.headers.update(PREVIEW_HEADERS)
    return response
